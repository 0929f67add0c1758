"""The image functions beside convolution and pooling: ``dropout2d`` (whole channels
dropped), ``pixel_shuffle`` / ``pixel_unshuffle`` (channels ↔ space), and ``interpolate``
(resizing by "nearest" or "bilinear" sampling).

dropout2d and the pixel shuffles are compositions of differentiable Tensor ops (a multiply
by a random mask; a reshape, permute, reshape), so their gradients are exact: dropout2d's
dL/dx is g times the mask, pixel_shuffle's the inverse permutation of g. interpolate
resamples one axis at a time with ``_Resample`` (each output a weighted sum of one or two
input positions), whose backward adds each output's gradient onto the positions it read,
times their weights.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.nn.functional.common import check_not_inplace, check_probability
from tinylm.nn.functional.convolution import one_int
from tinylm.nn.functional.dropout import dropout_mask
from tinylm.tensor import Tensor

__all__ = [
    "INTERPOLATE_MODES",
    "channel_shuffle",
    "dropout2d",
    "interpolate",
    "pixel_shuffle",
    "pixel_unshuffle",
    "upsample",
    "upsample_bilinear",
    "upsample_nearest",
]

#: the modes of ``interpolate`` that tinylm has (PyTorch's others are refused)
INTERPOLATE_MODES = ("nearest", "bilinear")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Channel-wise dropout, as ``torch.nn.functional.dropout2d``: each channel (a whole
    H × W plane) is zeroed with probability p, the others scaled by 1/(1 − p).
    dL/dx = g · (the channel's factor).

    Shapes: (N, C, H, W) → the same shape. A 3-D input is taken as PyTorch takes it today,
    as (N, C, L) (channels of a batch, with its warning), not as an unbatched (C, H, W).
    The identity when ``p == 0`` or not ``training``; zeros when ``p == 1``.
    """
    op = "dropout2d"
    p = check_probability(op, p)
    check_not_inplace(op, inplace)
    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        what = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TinyLMError(f"{op}: input must be a floating-point Tensor, got {what}")
    if input.ndim not in (3, 4):
        raise TinyLMError(
            f"{op}: expected a 4-D (N, C, H, W) input (or 3-D, as PyTorch), got shape "
            f"{tuple(input.shape)}"
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), as PyTorch "
            "does; use dropout1d for that",
            stacklevel=2,
        )
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    channels = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return input * Tensor._wrap(dropout_mask(channels, p, input.data))


def _factor(op: str, name: str, value: Any) -> int:
    return one_int(op, name, value, 1)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Rearrange (*, C·r², H, W) into (*, C, H·r, W·r), as ``torch.nn.functional.pixel_shuffle``:
    y[…, c, h·r + i, w·r + j] = x[…, c·r² + i·r + j, h, w] — a reshape to
    (*, C, r, r, H, W), a permute to (*, C, H, r, W, r), a reshape. Any dtype."""
    op = "pixel_shuffle"
    r = _factor(op, "upscale_factor", upscale_factor)
    if not isinstance(input, Tensor) or input.ndim < 3:
        shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise TinyLMError(f"{op}: input must have at least 3 dims (*, C, H, W), got {shape}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} has {c} channels, not divisible by "
            f"upscale_factor² = {r * r}"
        )
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """The inverse of ``pixel_shuffle``, as ``torch.nn.functional.pixel_unshuffle``:
    (*, C, H·r, W·r) → (*, C·r², H, W), y[…, c·r² + i·r + j, h, w] = x[…, c, h·r + i, w·r + j]."""
    op = "pixel_unshuffle"
    r = _factor(op, "downscale_factor", downscale_factor)
    if not isinstance(input, Tensor) or input.ndim < 3:
        shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise TinyLMError(f"{op}: input must have at least 3 dims (*, C, H, W), got {shape}")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} height and width must be divisible by "
            f"downscale_factor {r}"
        )
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave the channels of g groups, as ``torch.nn.functional.channel_shuffle``
    (ShuffleNet): (N, C, *) viewed as (N, g, C/g, *), the two channel axes swapped, viewed
    back — y[:, j·g + i] = x[:, i·C/g + j]. Any dtype."""
    op = "channel_shuffle"
    g = one_int(op, "groups", groups, 1)
    if not isinstance(input, Tensor) or input.ndim < 3:
        shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise TinyLMError(f"{op}: input must have at least 3 dims (N, C, *), got {shape}")
    n, c, *rest = input.shape
    if c % g:
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} has {c} channels, not divisible by groups {g}"
        )
    return input.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


def _sizes_and_scales(
    op: str, input: Tensor, size: Any, scale_factor: Any, recompute: Any
) -> tuple[list[int], list[float | None]]:
    """PyTorch's output size per spatial dim, and the scale its index arithmetic uses:
    the given scale_factor (unless ``recompute_scale_factor``), else None (in/out)."""
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise TinyLMError(f"{op}: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute:
            raise TinyLMError(f"{op}: recompute_scale_factor is not meaningful with a size")
        items = list(size) if isinstance(size, tuple | list) else [size] * 2
        if len(items) != 2:
            raise TinyLMError(f"{op}: size must be an int or a pair for 4-D input, got {size!r}")
        out = [one_int(op, "size", v, 1) for v in items]
        return out, [None, None]
    if scale_factor is None:
        raise TinyLMError(f"{op}: either size or scale_factor should be defined")
    items = list(scale_factor) if isinstance(scale_factor, tuple | list) else [scale_factor] * 2
    if len(items) != 2 or not all(
        isinstance(f, int | float) and not isinstance(f, bool) for f in items
    ):
        raise TinyLMError(
            f"{op}: scale_factor must be a number or a pair of numbers for 4-D input, got "
            f"{scale_factor!r:.60}"
        )
    out = [math.floor(float(n) * float(f)) for n, f in zip(spatial, items)]
    if min(out) < 1:
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} scaled by {scale_factor} gives size {out}; "
            "sizes must be greater than 0"
        )
    scales = [None, None] if recompute else [float(f) for f in items]
    return out, scales


def _nearest_indices(size: int, out: int, scale: float | None) -> np.ndarray:
    """PyTorch's "nearest" source index of each output position: the same index when the
    size is kept, i // 2 when doubled, else min(⌊i·s⌋, size − 1) with s = 1/scale_factor
    (or size/out) and the product in float32, as PyTorch computes it."""
    i = np.arange(out)
    if out == size:
        return i
    if out == 2 * size:
        return i >> 1
    s = np.float32(1.0 / scale) if scale else np.float32(size) / np.float32(out)
    return np.minimum(np.floor(i.astype(np.float32) * s).astype(np.int64), size - 1)


def _linear_weights(
    size: int, out: int, scale: float | None, align_corners: bool, dtype: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch's linear sampling along one dim: output i reads input i0 and i1 = i0 + 1
    (i0 at the last position) with weights λ0 = 1 − λ1 and λ1, where the source position
    is x = i·(size−1)/(out−1) (align_corners) or max((i + ½)·s − ½, 0) with s = 1/scale_factor
    (or size/out), i0 = min(⌊x⌋, size − 1), λ1 = clamp(x − i0, 0, 1); in the input's dtype."""
    t = np.dtype(dtype).type
    i = np.arange(out)
    if out == size:  # the size kept: a copy
        return i, i, np.ones(out, dtype), np.zeros(out, dtype)
    if align_corners:
        s = t(size - 1) / t(out - 1) if out > 1 else t(0)
        x = s * i.astype(dtype)
    else:
        s = t(1.0 / scale) if scale else t(size) / t(out)
        x = np.maximum(s * (i.astype(dtype) + t(0.5)) - t(0.5), t(0))
    i0 = np.minimum(np.floor(x).astype(np.int64), size - 1)
    lam1 = np.clip(x - i0.astype(dtype), t(0), t(1)).astype(dtype)
    i1 = i0 + (i0 < size - 1)
    return i0, i1, (t(1) - lam1).astype(dtype), lam1


class _Resample(Function):
    """Sampling along one axis: y[…, i, …] = Σ_t λ_t[i] · x[…, idx_t[i], …] over the taps t
    (one tap without weights for "nearest"; two for linear, λ0 + λ1 = 1).

    Shapes: x (…, S, …) → y (…, O, …) along ``axis``; each idx_t, λ_t (O,), idx_t sorted.
    Backward: dL/dx[…, k, …] = Σ_t Σ_{i: idx_t[i] = k} λ_t[i] · g[…, i, …] — each output's
    gradient goes back to the input positions it read, times their weights; the i reading
    one k are a run (the indices are sorted), summed slice by slice.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, axis: int, taps: tuple) -> Any:
        xp = array_module(x)
        shape = [1] * x.ndim
        shape[axis] = -1
        ctx.meta = (x.shape[axis], axis, [(idx, lam, shape) for idx, lam in taps])
        y = None
        for idx, lam in taps:
            picked = xp.take(x, xp.asarray(idx), axis=axis)
            if lam is not None:
                picked *= xp.asarray(lam).reshape(shape)
            y = picked if y is None else y + picked
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        size, axis, taps = ctx.meta
        xp = array_module(g)
        out_shape = list(g.shape)
        out_shape[axis] = size
        gx = xp.zeros(out_shape, dtype=g.dtype)
        for idx, lam, shape in taps:
            weighted = g if lam is None else g * xp.asarray(lam).reshape(shape)
            starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
            ends = np.r_[starts[1:], len(idx)]
            for a, b in zip(starts, ends):  # outputs a..b-1 all read input idx[a]
                run = [slice(None)] * g.ndim
                run[axis] = slice(a, b)
                target = [slice(None)] * g.ndim
                target[axis] = idx[a]
                gx[tuple(target)] += weighted[tuple(run)].sum(axis=axis)
        return gx


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the H × W plane of an (N, C, H, W) input, as ``torch.nn.functional.interpolate``
    with mode "nearest" or "bilinear" (other modes, other ranks and ``antialias`` refused).

    "nearest": y[…, u, v] = x[…, r(u), c(v)] with PyTorch's source indices (see
    ``_nearest_indices``; the legacy "nearest", not "nearest-exact"). Any dtype.
    "bilinear": y[…, u, v] = λ0(u)·(μ0(v)·x[r0, c0] + μ1(v)·x[r0, c1])
                            + λ1(u)·(μ0(v)·x[r1, c0] + μ1(v)·x[r1, c1]),
    the weights of ``_linear_weights`` per dim, ``align_corners`` False by default. Float.

    Args:
        input: (N, C, H, W).
        size: (OH, OW) or an int; or scale_factor: a number or a pair, OH = ⌊H·factor⌋.
        recompute_scale_factor: True: index with H/OH instead of 1/factor.
    Returns:
        (N, C, OH, OW), the input's dtype.
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if mode not in INTERPOLATE_MODES:
        raise TinyLMError(
            f"{op}: mode {mode!r} is not supported; tinylm has {', '.join(INTERPOLATE_MODES)}"
        )
    if antialias:
        raise TinyLMError(f"{op}: antialias=True is not supported")
    if input.ndim != 4:
        raise TinyLMError(
            f"{op}: only 4-D (N, C, H, W) input is supported, got shape {tuple(input.shape)}"
        )
    if mode == "nearest" and align_corners is not None:
        raise TinyLMError(
            f"{op}: align_corners can only be set with the interpolating modes (bilinear)"
        )
    out, scales = _sizes_and_scales(op, input, size, scale_factor, recompute_scale_factor)
    h, w = input.shape[2:]
    if mode == "nearest":
        rows = _nearest_indices(h, out[0], scales[0])
        cols = _nearest_indices(w, out[1], scales[1])
        along_w = _Resample.apply(input, axis=3, taps=((cols, None),))
        return _Resample.apply(along_w, axis=2, taps=((rows, None),))
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: bilinear needs a float input, got {input.dtype}")
    corners = bool(align_corners)
    r0, r1, l0, l1 = _linear_weights(h, out[0], scales[0], corners, input.dtype)
    c0, c1, m0, m1 = _linear_weights(w, out[1], scales[1], corners, input.dtype)
    # columns first, then rows: λ0·(μ0·x[r0, c0] + μ1·x[r0, c1]) + λ1·(…), PyTorch's order
    along_w = _Resample.apply(input, axis=3, taps=((c0, m0), (c1, m1)))
    return _Resample.apply(along_w, axis=2, taps=((r0, l0), (r1, l1)))


def _deprecated(name: str) -> None:
    warnings.warn(
        f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` instead.",
        stacklevel=3,
    )


def upsample(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """PyTorch's deprecated ``F.upsample``: ``interpolate`` (with PyTorch's warning)."""
    _deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """PyTorch's deprecated ``F.upsample_nearest``: ``interpolate(mode="nearest")``."""
    _deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """PyTorch's deprecated ``F.upsample_bilinear``: ``interpolate(mode="bilinear",
    align_corners=True)``."""
    _deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
