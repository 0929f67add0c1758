"""2-D pooling over the last two axes of (N, C, H, W) or unbatched (C, H, W) inputs:
``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``, ``adaptive_max_pool2d``.

The fixed-window ones read their windows with ``unfold2d`` (im2col as a strided view, from
:mod:`~tinylm.nn.functional.convolution2d`):
windows[n, c, i, j, u, v] = x[n, c, u·sh + i·dh − ph, v·sw + j·dw − pw], and reduce over
(i, j). The output size per dim is PyTorch's (``pool_out_len`` of the 1-D pools):

    OH = ⌊(H + 2p − d(K−1) − 1) / s⌋ + 1    (⌈…⌉ with ceil_mode, but a last window that
                                             would start in the bottom padding is dropped)

The max pools pick, in each window, the position of its maximum (the first in row-major
order at a tie, the last NaN where there is one, as PyTorch), and then gather those
positions from the image flattened to (…, H·W) with ``TakeAlongLast`` of the 1-D pools,
whose backward adds each output's gradient onto the pixel it picked. The indices returned
with ``return_indices`` are those flat positions, u·W + v, as PyTorch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.creation import where
from tinylm.devices import array_module
from tinylm.nn.functional.convolution import one_int
from tinylm.nn.functional.convolution2d import Pair, fold2d, pair, unfold2d
from tinylm.nn.functional.pooling import TakeAlongLast, pool_out_len, positions_of_max
from tinylm.tensor import Tensor

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "lp_pool2d",
    "max_pool2d",
    "max_unpool2d",
]


def _check_input(op: str, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise TinyLMError(
            f"{op}: input must be (N, C, H, W) or unbatched (C, H, W), got shape "
            f"{tuple(input.shape)}"
        )
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: input must be a float tensor, got {input.dtype}")


def _window_args(
    op: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil: bool
) -> tuple[Pair, Pair, Pair, Pair, Pair]:
    """(kernel, stride, padding, dilation, output size), each an (h, w) pair, checked as
    PyTorch checks them."""
    _check_input(op, input)
    k = pair(op, "kernel_size", kernel_size, 1)
    no_stride = stride is None or (isinstance(stride, tuple | list) and len(stride) == 0)
    s = k if no_stride else pair(op, "stride", stride, 1)
    p = pair(op, "padding", padding, 0)
    d = pair(op, "dilation", dilation, 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise TinyLMError(f"{op}: padding {p} must be at most half of kernel_size {k}")
    size = tuple(input.shape[-2:])
    out = tuple(pool_out_len(size[a], k[a], s[a], p[a], d[a], ceil) for a in range(2))
    if min(out) < 1:
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} is too small for kernel {k} (dilation {d}, "
            f"padding {p}): the output would be {out}"
        )
    return k, s, p, d, out


def _as4d(x: Any) -> Any:
    return x if x.ndim == 4 else x[None]


def _gather(input: Tensor, indices: Any, out: Pair, return_indices: bool) -> Any:
    """y[…, u, v] = x[…, indices[…, u·OW + v]] from x flattened to (…, H·W) (backward: each
    gradient onto the pixel picked), shaped (…, OH, OW); and the int64 indices so shaped."""
    lead = tuple(input.shape[:-2])
    flat = input.reshape(*lead, input.shape[-2] * input.shape[-1])
    indices = indices.reshape(lead + (out[0] * out[1],)).astype(np.int64)
    y = TakeAlongLast.apply(flat, indices=indices).reshape(*lead, *out)
    if return_indices:
        return y, Tensor._wrap(indices.reshape(lead + out))
    return y


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each window, as ``torch.nn.functional.max_pool2d``:
    y[n, c, u, v] = max over (i, j) of x[n, c, u·sh + i·dh − ph, v·sw + j·dw − pw] (pixels
    inside the image only; the padding is −inf).

    Args:
        input: (N, C, H, W) or (C, H, W), float.
        kernel_size: an int or (KH, KW); stride: defaults to kernel_size; padding: at most
            half the kernel; dilation: the gap between a window's taps.
        ceil_mode: round the output size up (see the module docstring).
        return_indices: also return where each maximum is, as int64 flat positions u·W + v
            in the input's plane (the first of a tie in row-major order, the last NaN).
    Returns:
        (N, C, OH, OW) or (C, OH, OW), and the indices of that shape with ``return_indices``.
    """
    op = "max_pool2d"
    k, s, p, d, out = _window_args(op, input, kernel_size, stride, padding, dilation, ceil_mode)
    x = input.data
    xp = array_module(x)
    h, w = x.shape[-2:]
    t = out[0] * out[1]
    windows = unfold2d(_as4d(x), k, s, d, p, out, fill=-np.inf)  # (N, C, KH, KW, OH, OW)
    windows = windows.reshape(windows.shape[:2] + (k[0] * k[1], t))
    plane = xp.arange(h * w).reshape(1, 1, h, w)
    positions = unfold2d(plane, k, s, d, p, out, fill=-1).reshape(1, 1, k[0] * k[1], t)
    indices = positions_of_max(windows, positions)  # (N, C, OH·OW)
    return _gather(input, indices, out, return_indices)


def _adaptive_windows(size: int, out: int) -> tuple[Any, Any]:
    """PyTorch's adaptive windows over ``size`` positions: window t is [⌊tS/T⌋, ⌈(t+1)S/T⌉)."""
    t = np.arange(out)
    return (t * size) // out, -((-(t + 1) * size) // out)


def _output_size(op: str, input: Tensor, output_size: Any) -> Pair:
    """(OH, OW) from an int, a pair, or a pair with None (that dim keeps the input's size)."""
    items = list(output_size) if isinstance(output_size, tuple | list) else [output_size] * 2
    if len(items) != 2:
        raise TinyLMError(
            f"{op}: output_size must be an int or a pair (of ints or None), got {output_size!r:.60}"
        )
    out = tuple(
        input.shape[a - 2] if v is None else one_int(op, "output_size", v, 0)
        for a, v in enumerate(items)
    )
    if min(input.shape[-2:]) < 1:
        raise TinyLMError(f"{op}: input {tuple(input.shape)} is empty along its last two dims")
    return out  # type: ignore[return-value]


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """The maximum of each of OH × OW windows that cover the input, as
    ``torch.nn.functional.adaptive_max_pool2d``: window (u, v) is rows [⌊uH/OH⌋, ⌈(u+1)H/OH⌉)
    × columns [⌊vW/OW⌋, ⌈(v+1)W/OW⌉).

    Args:
        input: (N, C, H, W) or (C, H, W), float, H, W ≥ 1.
        output_size: an int, or (OH, OW) where None keeps that dim's size.
        return_indices: also return the int64 flat positions u·W + v of the maxima
            (PyTorch's choice at ties and NaNs, as ``max_pool2d``).
    Returns:
        (N, C, OH, OW) or (C, OH, OW), and the indices with ``return_indices``.
    """
    op = "adaptive_max_pool2d"
    _check_input(op, input)
    out = _output_size(op, input, output_size)
    h, w = input.shape[-2:]
    x = input.data
    xp = array_module(x)
    if out[0] * out[1] == 0:  # nothing to pick
        return _gather(input, xp.zeros(x.shape[:-2] + (0,), np.int64), out, return_indices)
    (r0, r1), (c0, c1) = _adaptive_windows(h, out[0]), _adaptive_windows(w, out[1])
    kh, kw = int((r1 - r0).max()), int((c1 - c0).max())
    rows = r0[None, :] + np.arange(kh)[:, None]  # (KH, OH)
    cols = c0[None, :] + np.arange(kw)[:, None]  # (KW, OW)
    inside = (rows < r1)[:, None, :, None] & (cols < c1)[None, :, None, :]  # (KH, KW, OH, OW)
    flat = rows[:, None, :, None] * w + cols[None, :, None, :]
    positions = np.where(inside, flat, -1).reshape(kh * kw, -1)
    pos = xp.asarray(positions)
    x3 = _as4d(x).reshape(-1, x.shape[-3], h * w)
    windows = x3[:, :, xp.clip(pos, 0, h * w - 1)]  # (N, C, K, T)
    indices = positions_of_max(windows, pos[None, None])
    return _gather(input, indices, out, return_indices)


class _AdaptiveAvgPool2d(Function):
    """y[n, c, u, v] = (1 / |R_u||C_v|) Σ_{a ∈ R_u} Σ_{b ∈ C_v} x[n, c, a, b], with R_u the
    u-th row window [⌊uH/OH⌋, ⌈(u+1)H/OH⌉) and C_v the v-th column window likewise.

    Shapes: x (N, C, H, W) → y (N, C, OH, OW). Computed one dim at a time (the window sum
    is separable): rows first, (N, C, OH, W), then columns, then the division.
    Backward: dL/dx[n, c, a, b] = Σ over the windows (u, v) holding (a, b) of
    g[n, c, u, v] / (|R_u||C_v|) — spread evenly over each window, the same two steps back.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, rows: Any, cols: Any) -> Any:
        xp = array_module(x)
        n, c, h, w = x.shape
        by_rows = xp.stack([x[:, :, a:b, :].sum(axis=2) for a, b in zip(*rows)], axis=2)
        sums = xp.stack([by_rows[..., a:b].sum(axis=3) for a, b in zip(*cols)], axis=3)
        counts = np.outer(rows[1] - rows[0], cols[1] - cols[0]).astype(x.dtype)
        ctx.meta = (x.shape, rows, cols, xp.asarray(counts))
        return sums / ctx.meta[3]

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, rows, cols, counts = ctx.meta
        xp = array_module(g)
        share = g / counts  # (N, C, OH, OW)
        by_rows = xp.zeros(shape[:2] + (share.shape[2], shape[3]), dtype=g.dtype)
        for v, (a, b) in enumerate(zip(*cols)):
            by_rows[..., a:b] += share[..., v : v + 1]
        gx = xp.zeros(shape, dtype=g.dtype)
        for u, (a, b) in enumerate(zip(*rows)):
            gx[:, :, a:b, :] += by_rows[:, :, u : u + 1, :]
        return gx


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """The mean of each of OH × OW windows that cover the input, as
    ``torch.nn.functional.adaptive_avg_pool2d`` (windows as ``adaptive_max_pool2d``'s).

    Shapes: input (N, C, H, W) or (C, H, W), float → (N, C, OH, OW) or (C, OH, OW);
    ``output_size`` an int or (OH, OW), None keeping that dim's size.
    """
    op = "adaptive_avg_pool2d"
    _check_input(op, input)
    out = _output_size(op, input, output_size)
    h, w = input.shape[-2:]
    rows, cols = _adaptive_windows(h, out[0]), _adaptive_windows(w, out[1])
    x = input if input.ndim == 4 else input.unsqueeze(0)
    if out[0] * out[1] == 0:
        y = x[:, :, : out[0], : out[1]] * 0.0
    else:
        y = _AdaptiveAvgPool2d.apply(x, rows=rows, cols=cols)
    return y if input.ndim == 4 else y.squeeze(0)


class _AvgPool2d(Function):
    """y[n, c, u, v] = (1/m_uv) Σ_i Σ_j x[n, c, u·sh + i − ph, v·sw + j − pw]  (x = 0 on the
    padding), m_uv the divisor: the window's area inside the padded image
    (``count_include_pad``), inside the image, or ``divisor_override``.

    Shapes: x (N, C, H, W) → y (N, C, OH, OW); ``divisors`` m (OH, OW).
    Backward: dL/dx = fold2d(g / m) — every pixel of window (u, v) gets g[u, v] / m_uv.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, k: Pair, s: Pair, p: Pair, divisors: Any) -> Any:
        out = divisors.shape
        windows = unfold2d(x, k, s, (1, 1), p, out)  # (N, C, KH, KW, OH, OW), 0 on the padding
        ctx.meta = (x.shape, k, s, p, divisors)
        return windows.sum(axis=(2, 3)) / divisors

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, k, s, p, divisors = ctx.meta
        share = (g / divisors)[:, :, None, None, :, :]  # (N, C, 1, 1, OH, OW)
        cols = array_module(g).broadcast_to(share, share.shape[:2] + k + share.shape[4:])
        return fold2d(cols, shape[2:], s, (1, 1), p)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each window, as ``torch.nn.functional.avg_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W), float.
        kernel_size: an int or (KH, KW); stride: defaults to kernel_size; padding: zeros on
            both sides, at most half the kernel.
        ceil_mode: round the output size up; the extra last window's divisor counts only
            positions up to the end of the padding.
        count_include_pad: divide by the window's area including the padding (PyTorch's
            default), else by its area inside the image.
        divisor_override: divide every window's sum by this non-zero int instead.
    Returns:
        (N, C, OH, OW) or (C, OH, OW).
    """
    op = "avg_pool2d"
    k, s, p, _, out = _window_args(op, input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not hasattr(divisor_override, "__index__"):
            raise TinyLMError(f"{op}: divisor_override must be an int, got {divisor_override!r}")
        if int(divisor_override) == 0:
            raise TinyLMError(f"{op}: divisor_override must not be zero")
        divisors = np.full(out, float(int(divisor_override)))
    else:
        sides = []
        for a in range(2):
            start = np.arange(out[a]) * s[a] - p[a]
            end = np.minimum(start + k[a], input.shape[a - 2] + p[a])
            if not count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, input.shape[a - 2])
            sides.append(end - start)
        divisors = np.outer(*sides)
    divisors = array_module(input.data).asarray(divisors.astype(input.dtype))
    x = input if input.ndim == 4 else input.unsqueeze(0)
    y = _AvgPool2d.apply(x, k=k, s=s, p=p, divisors=divisors)
    return y if input.ndim == 4 else y.squeeze(0)


def lp_pool2d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """The p-norm of each window, (Σ x^p)^(1/p), as ``torch.nn.functional.lp_pool2d``, and
    computed as PyTorch computes it: avg_pool2d(x^p) · KH·KW, then to the power 1/p, with a
    zero gradient for a window whose x^p sum to 0 (as PyTorch's). No padding. norm_type
    ±inf gives the largest (smallest) |x| of each window, by ``max_pool2d``.

    Shapes: input (N, C, H, W) or (C, H, W), float → (N, C, OH, OW) or (C, OH, OW).
    """
    op = "lp_pool2d"
    if isinstance(norm_type, bool) or not isinstance(norm_type, int | float) or norm_type == 0:
        raise TinyLMError(f"{op}: norm_type must be a non-zero number, got {norm_type!r:.40}")
    _check_input(op, input)
    kh, kw = pair(op, "kernel_size", kernel_size, 1)
    if norm_type in (np.inf, -np.inf):  # the largest (or smallest) |x| of each window
        sign = 1 if norm_type > 0 else -1
        return max_pool2d(input.abs() * sign, (kh, kw), stride, 0, 1, ceil_mode) * sign
    out = avg_pool2d(input.pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    # PyTorch's sign(out)·relu(|out|) is out itself, but its relu turns the infinite
    # gradient of (·)^(1/p) at a window summing to 0 into 0: where(out ≠ 0, out, 0) does both
    kept = where(out != 0, out, 0.0)
    return kept.mul(kh * kw).pow(1.0 / norm_type)


class _MaxUnpool2d(Function):
    """The inverse of max pooling's gather: y[n, c, idx[n, c, t]] = x[n, c, t] on a plane of
    zeros (flattened to OH·OW), every other position 0.

    Shapes: x (N, C, T), idx (N, C, T) ints in [0, OH·OW) → y (N, C, OH·OW).
    Backward: dL/dx[n, c, t] = g[n, c, idx[n, c, t]] — each value's gradient read back from
    where it was put.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, indices: Any, plane: int) -> Any:
        xp = array_module(x)
        n, c, t = x.shape
        rows = xp.arange(n * c).reshape(n, c, 1) * plane
        y = xp.zeros((n, c, plane), dtype=x.dtype)
        y.reshape(-1)[(rows + indices).reshape(-1)] = x.reshape(-1)
        ctx.indices = indices
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).take_along_axis(g, ctx.indices, axis=-1)


def max_unpool2d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Put each value back where ``max_pool2d(..., return_indices=True)`` found it, zeros
    elsewhere, as ``torch.nn.functional.max_unpool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W), float; indices: int64 of its shape, flat
            positions u·OW + v in the output plane.
        kernel_size, stride (defaults to kernel_size), padding: the pooling's.
        output_size: (OH, OW) (or with N, C in front); default
            ((H−1)·sh − 2ph + KH, (W−1)·sw − 2pw + KW), and a given one must lie within a
            stride of it, as PyTorch.
    Returns:
        (N, C, OH, OW) or (C, OH, OW).
    """
    op = "max_unpool2d"
    _check_input(op, input)
    if not isinstance(indices, Tensor) or indices.dtype != np.int64:
        what = indices.dtype if isinstance(indices, Tensor) else type(indices).__name__
        raise TinyLMError(f"{op}: indices must be an int64 Tensor (max_pool2d's), got {what}")
    if tuple(indices.shape) != tuple(input.shape):
        raise TinyLMError(
            f"{op}: indices {tuple(indices.shape)} must have the input's shape {tuple(input.shape)}"
        )
    k = pair(op, "kernel_size", kernel_size, 1)
    no_stride = stride is None or (isinstance(stride, tuple | list) and len(stride) == 0)
    s = k if no_stride else pair(op, "stride", stride, 1)
    p = pair(op, "padding", padding, 0)
    default = tuple((input.shape[a - 2] - 1) * s[a] - 2 * p[a] + k[a] for a in range(2))
    if output_size is None:
        out = default
    else:
        size = [int(v) for v in output_size]
        size = size[-2:] if len(size) == 4 else size
        if len(size) != 2:
            raise TinyLMError(f"{op}: output_size must have 2 or 4 elements, got {output_size!r}")
        for a in range(2):
            if not default[a] - s[a] < size[a] < default[a] + s[a]:
                raise TinyLMError(
                    f"{op}: invalid output_size {tuple(size)} (dim {a} must be between "
                    f"{default[a] - s[a]} and {default[a] + s[a]})"
                )
        out = tuple(size)
    if min(out) < 1:
        raise TinyLMError(f"{op}: the output would have size {out}")
    plane = out[0] * out[1]
    idx = indices.data.reshape(-1, input.shape[-3], input.shape[-2] * input.shape[-1])
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        bad = int(idx.max()) if int(idx.max()) >= plane else int(idx.min())
        raise TinyLMError(
            f"{op}: found an invalid max index {bad} (the output is {out[0]}x{out[1]})"
        )
    lead = tuple(input.shape[:-2])
    x = input.reshape(-1, input.shape[-3], input.shape[-2] * input.shape[-1])
    y = _MaxUnpool2d.apply(x, indices=idx, plane=plane)
    return y.reshape(*lead, *out)
