"""2-D convolution by im2col: ``conv2d``, ``conv_transpose2d``, and ``unfold`` / ``fold``
(im2col and col2im themselves, as PyTorch exposes them).

The convolution sum (PyTorch's, a cross-correlation: the kernel is not flipped)::

    y[n, o, u, v] = b[o] + Σ_c Σ_i Σ_j w[o, c, i, j] · x[n, c, u·sh + i·dh − ph, v·sw + j·dw − pw]

(c runs over the C_in/groups channels of o's group; x is 0 outside the image). Computed in
the same two steps as ``conv1d`` (:mod:`~tinylm.nn.functional.convolution`):

1. **im2col** (:func:`unfold2d`): every window of the padded input as a column — a strided
   *view* of the padded copy, cols[n, c, i, j, u, v] = x[n, c, u·sh + i·dh − ph, v·sw + j·dw − pw],
   (N, C_in, KH, KW, OH, OW), which one reshape to (N, G, C_in/G·KH·KW, OH·OW) copies;
2. **one matrix product** per group: the weight as (C_out/G, C_in/G·KH·KW) times the columns.

Backward is the same two steps transposed: dL/dcols = Wᵀ g (one product), then **col2im**
(:func:`fold2d`), a scatter-add of each column's gradient back onto the pixel it was read
from (a pixel read by several windows gets the sum). dL/dW = g colsᵀ summed over the batch,
dL/db = g summed over the batch and the pixels.

Output size, per spatial dim: ⌊(H + p_before + p_after − d(K−1) − 1) / s⌋ + 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.kernels.parallel import note_blas_product
from tinylm.nn.functional.common import check_same_dtype
from tinylm.nn.functional.convolution import one_int
from tinylm.tensor import Tensor

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "fold",
    "fold2d",
    "pair",
    "unfold",
    "unfold2d",
]

Pair = tuple[int, int]


def pair(op: str, name: str, value: Any, least: int) -> Pair:
    """A (height, width) argument given as PyTorch allows for 2-D ops: ``3``, ``(3,)``,
    ``(3, 5)`` or a list; each at least ``least``, else one line naming ``op`` and ``name``."""
    items = list(value) if isinstance(value, tuple | list) else [value, value]
    if len(items) == 1:
        items = items * 2
    if len(items) != 2:
        raise TinyLMError(f"{op}: {name} must be an int or a pair of ints, got {value!r:.60}")
    h, w = (one_int(op, name, v, least) for v in items)
    return h, w


def unfold2d(
    x: Any, kernel: Pair, stride: Pair, dilation: Pair, padding: Pair, out: Pair, fill=0.0
) -> Any:
    """im2col on arrays: (N, C, H, W) → (N, C, KH, KW, OH, OW) with
    cols[n, c, i, j, u, v] = x[n, c, u·sh + i·dh − ph, v·sw + j·dw − pw], or ``fill`` where
    that pixel lies outside the image (``padding`` = (ph, pw) rows/columns before it; the
    padded copy reaches as far after it as the windows read).

    The result is a strided *view* of that padded copy (no data copied: two of its axes step
    by the dilation, two by the stride); it is read-only, and reshaping it copies."""
    xp = array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw), (ph, pw), (oh, ow) = kernel, stride, dilation, padding, out
    span_h = (oh - 1) * sh + (kh - 1) * dh + 1  # rows the windows read
    span_w = (ow - 1) * sw + (kw - 1) * dw + 1
    padded = xp.full((n, c, max(ph + h, span_h), max(pw + w, span_w)), fill, dtype=x.dtype)
    padded[:, :, ph : ph + h, pw : pw + w] = x
    s_n, s_c, s_h, s_w = padded.strides
    strides = (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw)
    shape = (n, c, kh, kw, oh, ow)
    if xp is np:
        return np.lib.stride_tricks.as_strided(padded, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(padded, shape, strides)


def fold2d(cols: Any, size: Pair, stride: Pair, dilation: Pair, padding: Pair) -> Any:
    """col2im, the adjoint of :func:`unfold2d`: (N, C, KH, KW, OH, OW) → (N, C, H, W) with
    out[n, c, y, x] = Σ over the (i, j, u, v) with u·sh + i·dh − ph = y and
    v·sw + j·dw − pw = x of cols[n, c, i, j, u, v] — a scatter-add, one strided slice per
    kernel tap (values that fall on the padding are dropped)."""
    xp = array_module(cols)
    n, c, kh, kw, oh, ow = cols.shape
    (h, w), (sh, sw), (dh, dw), (ph, pw) = size, stride, dilation, padding
    rows, columns = (oh - 1) * sh + 1, (ow - 1) * sw + 1  # what one tap's slice covers
    padded = xp.zeros(
        (n, c, max(ph + h, rows + (kh - 1) * dh), max(pw + w, columns + (kw - 1) * dw)),
        dtype=cols.dtype,
    )
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            padded[:, :, top : top + rows : sh, left : left + columns : sw] += cols[:, :, i, j]
    return xp.ascontiguousarray(padded[:, :, ph : ph + h, pw : pw + w])


class _Conv2d(Function):
    """y[n, o, u, v] = b[o] + Σ_c Σ_i Σ_j w[o, c, i, j] · x[n, c, u·sh + i·dh − top,
                                                            v·sw + j·dw − left].

    Shapes: x (N, C_in, H, W), w (C_out, C_in/G, KH, KW), b (C_out,) → y (N, C_out, OH, OW)
    with OH = ⌊(H + top + bottom − dh(KH−1) − 1) / sh⌋ + 1 (OW likewise). With G groups,
    channels [g·C_in/G, (g+1)·C_in/G) of x feed outputs [g·C_out/G, (g+1)·C_out/G) only.

    Forward: cols = unfold2d(x) as (N, G, J, OH·OW) with J = C_in/G·KH·KW; y = W_g cols_g
    with W_g the weight as (G, C_out/G, J).
    Backward (g = dL/dy as (N, G, C_out/G, OH·OW)):
        dL/dW_g = Σ_n g_n,g cols_n,gᵀ          (C_out/G, J) per group
        dL/dx   = fold2d(W_gᵀ g)              the column gradients added back in place
        dL/db_o = Σ_n Σ_u Σ_v g[n, o, u, v]
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        weight: Any,
        *bias: Any,
        stride: Pair,
        padding: tuple[Pair, Pair],
        dilation: Pair,
        groups: int,
    ) -> Any:
        n, c_in, h, w = x.shape
        c_out, _, kh, kw = weight.shape
        (top, bottom), (left, right) = padding
        oh = (h + top + bottom - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        ow = (w + left + right - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        cols = unfold2d(x, (kh, kw), stride, dilation, (top, left), (oh, ow))
        cols = cols.reshape(n, groups, c_in // groups * kh * kw, oh * ow)  # the im2col copy
        wg = weight.reshape(groups, c_out // groups, c_in // groups * kh * kw)
        y = (wg @ cols).reshape(n, c_out, oh, ow)  # (G, O/G, J) @ (N, G, J, L) → (N, G, O/G, L)
        note_blas_product()
        if bias:
            y += bias[0].reshape(1, c_out, 1, 1)
        ctx.save_for_backward(cols, weight)
        ctx.meta = ((h, w), (oh, ow), stride, dilation, (top, left), groups, bool(bias))
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        cols, weight = ctx.saved_arrays
        size, (oh, ow), stride, dilation, before, groups, has_bias = ctx.meta
        n, _, j, length = cols.shape
        c_out, c_per_group, kh, kw = weight.shape
        g4 = g.reshape(n, groups, c_out // groups, length)
        wg = weight.reshape(groups, c_out // groups, j)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gcols = wg.swapaxes(-1, -2) @ g4  # (N, G, J, L)
            gcols = gcols.reshape(n, groups * c_per_group, kh, kw, oh, ow)
            gx = fold2d(gcols, size, stride, dilation, before)
        if ctx.needs_input_grad[1]:
            gw = (g4 @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
        note_blas_product()
        if has_bias and ctx.needs_input_grad[2]:
            gb = g.sum(axis=(0, 2, 3))
        return (gx, gw, gb) if has_bias else (gx, gw)


class _ConvTranspose2d(Function):
    """The transposed convolution: the gradient of ``conv2d`` with respect to its input,
    used as a layer. Each input pixel scatters a weighted copy of the kernel:

        y[n, o, u·sh + i·dh − ph, v·sw + j·dw − pw] += Σ_c x[n, c, u, v] · w[c, o, i, j]   (+ b[o])

    Shapes: x (N, C_in, H, W), w (C_in, C_out/G, KH, KW), b (C_out,) → y (N, C_out, OH, OW)
    with OH = (H−1)sh − 2ph + dh(KH−1) + output_padding_h + 1 (OW likewise).

    Forward: cols = W_gᵀ x_g (N, G, C_out/G·KH·KW, H·W) with W_g the weight as
    (G, C_in/G, C_out/G·KH·KW); y = fold2d(cols) — the col2im step of conv2d's backward.
    Backward (g = dL/dy): cols_g = unfold2d(g) as (N, G, C_out/G·KH·KW, H·W), then
        dL/dx_g = W_g cols_g,   dL/dW_g = Σ_n x_n,g cols_n,gᵀ,   dL/db_o = Σ g[n, o, ·, ·].
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        weight: Any,
        *bias: Any,
        stride: Pair,
        padding: Pair,
        out: Pair,
        dilation: Pair,
        groups: int,
    ) -> Any:
        n, c_in, h, w = x.shape
        _, c_per_group, kh, kw = weight.shape
        x4 = x.reshape(n, groups, c_in // groups, h * w)
        wg = weight.reshape(groups, c_in // groups, c_per_group * kh * kw)
        cols = wg.swapaxes(-1, -2) @ x4  # (G, J, C_in/G) @ (N, G, C_in/G, HW) → (N, G, J, HW)
        note_blas_product()
        cols = cols.reshape(n, groups * c_per_group, kh, kw, h, w)
        y = fold2d(cols, out, stride, dilation, padding)
        if bias:
            y += bias[0].reshape(1, -1, 1, 1)
        ctx.save_for_backward(x, weight)
        ctx.meta = (stride, dilation, padding, groups, bool(bias))
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        x, weight = ctx.saved_arrays
        stride, dilation, padding, groups, has_bias = ctx.meta
        n, c_in, h, w = x.shape
        _, c_per_group, kh, kw = weight.shape
        cols = unfold2d(g, (kh, kw), stride, dilation, padding, (h, w))
        cols = cols.reshape(n, groups, c_per_group * kh * kw, h * w)
        wg = weight.reshape(groups, c_in // groups, c_per_group * kh * kw)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = (wg @ cols).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            x4 = x.reshape(n, groups, c_in // groups, h * w)
            gw = (x4 @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
        note_blas_product()
        if has_bias and ctx.needs_input_grad[2]:
            gb = g.sum(axis=(0, 2, 3))
        return (gx, gw, gb) if has_bias else (gx, gw)


def _check_conv_inputs(
    op: str, input: Any, weight: Any, bias: Any, groups: int, transposed: bool
) -> None:
    """Tensors; 4-D weight; batched (N, C, H, W) or unbatched (C, H, W) float input whose
    channels fit the weight and groups; one dtype; bias (C_out,)."""
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TinyLMError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if input.ndim not in (3, 4):
        raise TinyLMError(
            f"{op}: input must be (N, C_in, H, W) or unbatched (C_in, H, W), got shape "
            f"{tuple(input.shape)}"
        )
    if weight.ndim != 4:
        layout = "(C_in, C_out/groups, KH, KW)" if transposed else "(C_out, C_in/groups, KH, KW)"
        raise TinyLMError(f"{op}: weight must be 4-D {layout}, got shape {tuple(weight.shape)}")
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: input must be a float tensor, got {input.dtype}")
    check_same_dtype(op, input=input, weight=weight, bias=bias)
    c_in = input.shape[-3]
    if transposed:
        if weight.shape[0] != c_in or c_in % groups:
            raise TinyLMError(
                f"{op}: input {tuple(input.shape)} has {c_in} channels but weight "
                f"{tuple(weight.shape)} expects {weight.shape[0]} (divisible by groups={groups})"
            )
        c_out = weight.shape[1] * groups
    else:
        if weight.shape[0] % groups:
            raise TinyLMError(
                f"{op}: weight {tuple(weight.shape)} has {weight.shape[0]} output channels, "
                f"not divisible by groups={groups}"
            )
        if weight.shape[1] * groups != c_in:
            raise TinyLMError(
                f"{op}: input {tuple(input.shape)} has {c_in} channels but weight "
                f"{tuple(weight.shape)} with groups={groups} expects {weight.shape[1] * groups}"
            )
        c_out = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise TinyLMError(
            f"{op}: bias has shape {tuple(bias.shape)}, expected ({c_out},) (one per output "
            "channel)"
        )


def conv_padding(op: str, padding: Any, stride: Pair, dilation: Pair, kernel: Pair):
    """((top, bottom), (left, right)) for a conv's ``padding``: an int or pair (the same
    before and after), "valid" (none) or "same" (stride 1 only; d(K−1) split with the odd
    one after, as PyTorch)."""
    if not isinstance(padding, str):
        ph, pw = pair(op, "padding", padding, 0)
        return (ph, ph), (pw, pw)
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding != "same":
        raise TinyLMError(
            f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}"
        )
    if stride != (1, 1):
        raise TinyLMError(f"{op}: padding='same' is not supported for strided convolutions")
    totals = (d * (k - 1) for d, k in zip(dilation, kernel))
    (top, bottom), (left, right) = ((t // 2, t - t // 2) for t in totals)
    return (top, bottom), (left, right)


def _batched(input: Tensor, dims: int = 4) -> tuple[Tensor, bool]:
    """A batched input as it is, or an unbatched one as a batch of one; and whether it was."""
    return (input, False) if input.ndim == dims else (input.unsqueeze(0), True)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``:
    y[n, o, u, v] = b[o] + Σ_c Σ_i Σ_j w[o, c, i, j] · x[n, c, u·sh + i·dh − ph, v·sw + j·dw − pw].

    Args:
        input: (N, C_in, H, W), or unbatched (C_in, H, W).
        weight: (C_out, C_in/groups, KH, KW).
        bias: (C_out,) or None.
        stride, dilation: an int or an (h, w) pair, each ≥ 1.
        padding: zeros on both sides, an int or pair ≥ 0; or "valid" (none), or "same"
            (output the input's size; stride 1 only; d(K−1) zeros split with the odd one
            after, as PyTorch).
        groups: C_in and C_out split into this many groups, each convolved on its own.
    Returns:
        (N, C_out, OH, OW) (or (C_out, OH, OW)), OH = ⌊(H + 2ph − dh(KH−1) − 1) / sh⌋ + 1.
    """
    op = "conv2d"
    groups = one_int(op, "groups", groups, 1)
    _check_conv_inputs(op, input, weight, bias, groups, transposed=False)
    s = pair(op, "stride", stride, 1)
    d = pair(op, "dilation", dilation, 1)
    kernel = (weight.shape[2], weight.shape[3])
    pads = conv_padding(op, padding, s, d, kernel)
    for size, (before, after), k, dk in zip(input.shape[-2:], pads, kernel, d):
        if size + before + after < dk * (k - 1) + 1:
            raise TinyLMError(
                f"{op}: input {tuple(input.shape)} padded by {pads} is smaller than the "
                f"kernel's reach d(K−1)+1 (kernel {kernel}, dilation {d})"
            )
    x, unbatched = _batched(input)
    params = {"stride": s, "padding": pads, "dilation": d, "groups": groups}
    tensors = (x, weight) if bias is None else (x, weight, bias)
    y = _Conv2d.apply(*tensors, **params)
    return y.squeeze(0) if unbatched else y


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d`` (PyTorch's
    order: ``groups`` before ``dilation``): the gradient of ``conv2d`` with respect to its
    input, y[n, o, u·sh + i·dh − ph, v·sw + j·dw − pw] += Σ_c x[n, c, u, v] · w[c, o, i, j],
    plus b[o].

    Args:
        input: (N, C_in, H, W), or unbatched (C_in, H, W).
        weight: (C_in, C_out/groups, KH, KW).
        bias: (C_out,) or None.
        stride, dilation: int or pair ≥ 1; padding: int or pair ≥ 0 cut from both ends.
        output_padding: extra rows/columns at the end, each < its stride or its dilation.
    Returns:
        (N, C_out, OH, OW) (or unbatched), OH = (H−1)sh − 2ph + dh(KH−1) + output_padding + 1.
    """
    op = "conv_transpose2d"
    groups = one_int(op, "groups", groups, 1)
    _check_conv_inputs(op, input, weight, bias, groups, transposed=True)
    if isinstance(padding, str):
        raise TinyLMError(
            f"{op}: padding must be an int or a pair (PyTorch has no {padding!r} here)"
        )
    s = pair(op, "stride", stride, 1)
    d = pair(op, "dilation", dilation, 1)
    p = pair(op, "padding", padding, 0)
    extra = pair(op, "output_padding", output_padding, 0)
    out = []
    for e, si, di, pi, k, size in zip(extra, s, d, p, weight.shape[2:], input.shape[-2:]):
        if e >= max(si, di):
            raise TinyLMError(
                f"{op}: output_padding ({e}) must be smaller than either stride ({si}) or "
                f"dilation ({di})"
            )
        out.append((size - 1) * si - 2 * pi + di * (k - 1) + e + 1)
    if min(out) < 1:
        raise TinyLMError(
            f"{op}: the output would have size {tuple(out)} (input {tuple(input.shape)}, "
            f"weight {tuple(weight.shape)}, stride {s}, padding {p}, dilation {d})"
        )
    x, unbatched = _batched(input)
    params = {"stride": s, "padding": p, "out": tuple(out), "dilation": d, "groups": groups}
    tensors = (x, weight) if bias is None else (x, weight, bias)
    y = _ConvTranspose2d.apply(*tensors, **params)
    return y.squeeze(0) if unbatched else y


class _Unfold(Function):
    """im2col as an op: y[n, (c, i, j), (u, v)] = x[n, c, u·sh + i·dh − ph, v·sw + j·dw − pw]
    (0 on the padding). Shapes: x (N, C, H, W) → y (N, C·KH·KW, OH·OW).
    Backward: dL/dx = fold2d(g) — each column's gradient added back onto the pixel it read."""

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(
        ctx: Context, x: Any, *, kernel: Pair, dilation: Pair, padding: Pair, stride: Pair,
        out: Pair,
    ) -> Any:  # fmt: skip
        n, c, h, w = x.shape
        cols = unfold2d(x, kernel, stride, dilation, padding, out)
        ctx.meta = ((n, c, *kernel, *out), (h, w), stride, dilation, padding)
        return cols.reshape(n, c * kernel[0] * kernel[1], out[0] * out[1])

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, size, stride, dilation, padding = ctx.meta
        return fold2d(g.reshape(shape), size, stride, dilation, padding)


class _Fold(Function):
    """col2im as an op, the adjoint of ``unfold``: y[n, c, a, b] = Σ x[n, (c, i, j), (u, v)]
    over the (i, j, u, v) with u·sh + i·dh − ph = a and v·sw + j·dw − pw = b.
    Shapes: x (N, C·KH·KW, OH·OW) → y (N, C, H, W).
    Backward: dL/dx = unfold2d(g) as (N, C·KH·KW, OH·OW) — each column reads back its pixels."""

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(
        ctx: Context, x: Any, *, size: Pair, kernel: Pair, dilation: Pair, padding: Pair,
        stride: Pair, out: Pair,
    ) -> Any:  # fmt: skip
        n, ck, _ = x.shape
        c = ck // (kernel[0] * kernel[1])
        ctx.meta = (x.shape, kernel, stride, dilation, padding, out)
        return fold2d(x.reshape(n, c, *kernel, *out), size, stride, dilation, padding)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, kernel, stride, dilation, padding, out = ctx.meta
        return unfold2d(g, kernel, stride, dilation, padding, out).reshape(shape)


def _blocks(op: str, size: Pair, kernel: Pair, dilation: Pair, padding: Pair, stride: Pair):
    """The number of sliding blocks per dim, ⌊(H + 2p − d(K−1) − 1) / s⌋ + 1, each ≥ 1."""
    out = tuple(
        (h + 2 * p - d * (k - 1) - 1) // s + 1
        for h, k, d, p, s in zip(size, kernel, dilation, padding, stride)
    )
    if min(out) < 1:
        raise TinyLMError(
            f"{op}: spatial size {tuple(size)} padded by {padding} is too small for kernel "
            f"{kernel} with dilation {dilation}: the number of blocks would be {out}"
        )
    return out


def unfold(
    input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """Extract sliding blocks (im2col), as ``torch.nn.functional.unfold``:
    y[n, (c, i, j), (u, v)] = x[n, c, u·sh + i·dh − ph, v·sw + j·dw − pw], 0 on the padding.

    Shapes: (N, C, H, W) or unbatched (C, H, W) → (N, C·KH·KW, L) or (C·KH·KW, L), with L the
    number of blocks OH·OW, OH = ⌊(H + 2ph − dh(KH−1) − 1) / sh⌋ + 1. Any dtype.
    """
    op = "unfold"
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise TinyLMError(
            f"{op}: input must be (N, C, H, W) or unbatched (C, H, W), got shape "
            f"{tuple(input.shape)}"
        )
    k = pair(op, "kernel_size", kernel_size, 1)
    d, p, s = (
        pair(op, "dilation", dilation, 1),
        pair(op, "padding", padding, 0),
        pair(op, "stride", stride, 1),
    )
    out = _blocks(op, tuple(input.shape[-2:]), k, d, p, s)
    x, unbatched = _batched(input)
    y = _Unfold.apply(x, kernel=k, dilation=d, padding=p, stride=s, out=out)
    return y.squeeze(0) if unbatched else y


def fold(
    input: Tensor,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Sum sliding blocks back into an image (col2im), as ``torch.nn.functional.fold``:
    the adjoint of ``unfold`` (a pixel covered by several blocks gets their sum).

    Shapes: (N, C·KH·KW, L) or unbatched (C·KH·KW, L) → (N, C, H, W) or (C, H, W), where
    (H, W) = ``output_size`` and L must be the number of blocks ``unfold`` would give.
    """
    op = "fold"
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise TinyLMError(
            f"{op}: input must be (N, C·KH·KW, L) or unbatched (C·KH·KW, L), got shape "
            f"{tuple(input.shape)}"
        )
    size = pair(op, "output_size", output_size, 1)
    k = pair(op, "kernel_size", kernel_size, 1)
    d, p, s = (
        pair(op, "dilation", dilation, 1),
        pair(op, "padding", padding, 0),
        pair(op, "stride", stride, 1),
    )
    ck, length = input.shape[-2:]
    if ck % (k[0] * k[1]):
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} dim -2 ({ck}) is not divisible by the "
            f"kernel's size {k[0]}·{k[1]}"
        )
    out = _blocks(op, size, k, d, p, s)
    if out[0] * out[1] != length:
        raise TinyLMError(
            f"{op}: input {tuple(input.shape)} has {length} blocks, but output_size {size} "
            f"with kernel {k}, dilation {d}, padding {p}, stride {s} gives {out[0]}·{out[1]}"
        )
    x, unbatched = _batched(input, 3)
    y = _Fold.apply(x, size=size, kernel=k, dilation=d, padding=p, stride=s, out=out)
    return y.squeeze(0) if unbatched else y
