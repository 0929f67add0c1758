"""Normalisation: layer norm (normalise each row over its last features, then scale and
shift), RMS norm (scale only, by the root mean square), and the p-norm of vectors with what
is built on it: ``normalize`` (unit vectors) and ``cosine_similarity``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm import ops
from tinylm.autograd import Context, Function, TinyLMError, no_grad
from tinylm.devices import array_module
from tinylm.nn.functional.common import check_same_dtype, kernel
from tinylm.tensor import Tensor

__all__ = ["batch_norm", "cosine_similarity", "layer_norm", "normalize", "rms_norm"]


class _LayerNorm(Function):
    """y = (x − μ) / √(σ² + ε) · w + b over the last C features of each row.

    Shapes: x (..., C), w (C,), b (C,) → y (..., C); μ, σ² are the mean and the biased
    variance of each row. With x̂ = (x − μ)·r, r = 1/√(σ² + ε), and ĝ = g·w, the fused
    backward (derived by differentiating through μ and r; means over the C features) is
        dL/dx = r (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)),
        dL/dw = Σ_rows g x̂,   dL/db = Σ_rows g.
    It is one pass instead of the ~10 ops autograd would record, and it never forms the
    small difference of two large numbers that the composed graph does.

    Readable: ``kernels/reference.py: layer_norm_forward/backward``; fast:
    ``kernels/numba/rowwise.py`` (CPU), ``kernels/cuda/layer_norm.cu`` (GPU).
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *affine: Any, n_features: int, eps: float) -> Any:
        # no weight = weight 1, no bias = bias 0 (their gradients are simply not returned)
        xp = array_module(x)
        weight = affine[0].reshape(-1) if affine else xp.ones(n_features, dtype=x.dtype)
        bias = affine[1].reshape(-1) if len(affine) > 1 else xp.zeros(n_features, x.dtype)
        rows = x.reshape(-1, n_features)  # the normalised axes flattened into one of C
        y, mean, rstd = kernel("layer_norm_forward", x)(rows, weight, bias, eps)
        ctx.save_for_backward(rows, weight, mean, rstd)
        ctx.shapes = (x.shape, [a.shape for a in affine])
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        rows, weight, mean, rstd = ctx.saved_arrays
        x_shape, affine_shapes = ctx.shapes
        gx, gw, gb = kernel("layer_norm_backward", g)(
            g.reshape(rows.shape), rows, weight, mean, rstd
        )
        grads = [gx.reshape(x_shape), gw, gb][: 1 + len(affine_shapes)]
        return tuple(gr.reshape(s) for gr, s in zip(grads, (x_shape, *affine_shapes)))


def layer_norm(
    input: Tensor,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes, then scale and shift.

    y = (x − mean) / √(var + eps) · weight + bias, with mean and the biased variance taken
    over the last ``len(normalized_shape)`` axes. weight and bias have ``normalized_shape``.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    x_shape = input.shape
    if len(shape) > len(x_shape) or x_shape[len(x_shape) - len(shape) :] != shape:
        raise TinyLMError(
            f"layer_norm: input {x_shape} {input.dtype} does not end with normalized_shape {shape}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise TinyLMError(f"layer_norm: {name} has shape {t.shape}, expected {shape}")
    if bias is not None and weight is None:
        raise TinyLMError("layer_norm: a bias needs a weight (pass weight=ones)")
    affine = () if weight is None else (weight,) if bias is None else (weight, bias)
    if any(t.dtype != input.dtype for t in affine):
        check_same_dtype("layer_norm", input=input, weight=weight, bias=bias)  # raises
    return _LayerNorm.apply(input, *affine, n_features=math.prod(shape), eps=float(eps))


def _normalized_shape(op: str, input: Tensor, normalized_shape: Any) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple that the input's shape ends with, or one clear line."""
    if isinstance(normalized_shape, int | np.integer):
        shape: tuple[int, ...] = (int(normalized_shape),)
    else:
        try:
            shape = tuple(int(s) for s in normalized_shape)
        except (TypeError, ValueError):
            raise TinyLMError(
                f"{op}: normalized_shape must be an int or a tuple of ints, got "
                f"{normalized_shape!r:.60}"
            ) from None
    x_shape = tuple(input.shape)
    if len(shape) > len(x_shape) or x_shape[len(x_shape) - len(shape) :] != shape:
        raise TinyLMError(
            f"{op}: input {x_shape} {input.dtype} does not end with normalized_shape {shape}"
        )
    return shape


def rms_norm(
    input: Tensor,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """RMS normalisation (LLaMA's): y = x / √(mean(x²) + eps) · weight, the mean over the
    trailing ``normalized_shape`` axes (no centring, no bias).

    Shapes: input (..., *normalized_shape), weight ``normalized_shape`` → input's shape.
    ``eps=None`` is the machine epsilon of the input's dtype, as in PyTorch. A composition of
    ops (square, mean, add, sqrt, divide, multiply), so its gradient is autograd's:
    with r = 1/√(mean(x²) + eps), dL/dx = r·(ĝ − x r² mean(ĝ x)), ĝ = g·weight.
    """
    if not isinstance(input, Tensor) or not np.issubdtype(input.dtype, np.floating):
        what = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise TinyLMError(f"rms_norm: input must be a floating-point Tensor, got {what}")
    shape = _normalized_shape("rms_norm", input, normalized_shape)
    if weight is not None:
        if tuple(weight.shape) != shape:
            raise TinyLMError(f"rms_norm: weight has shape {tuple(weight.shape)}, expected {shape}")
        check_same_dtype("rms_norm", input=input, weight=weight)
    eps = float(np.finfo(input.dtype).eps) if eps is None else float(eps)
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    mean_square = (input * input).mean(axes, keepdims=True)
    y = input / (mean_square + eps).sqrt()
    return y if weight is None else y * weight


class _VectorNorm(Function):
    """The p-norm of vectors along ``axis`` (kept, size 1): n = (Σ_i |x_i|^p)^(1/p).

    dn/dx_i = sign(x_i) |x_i|^(p−1) / n^(p−1)  (x_i / n for p = 2, sign(x_i) for p = 1),
    and 0 for a zero vector (PyTorch's choice of subgradient there). Shapes: x (..., D, ...)
    → n with axis ``axis`` of size 1.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, p: float, axis: int) -> Any:
        xp = array_module(x)
        if p == 2:
            n = xp.sqrt((x * x).sum(axis=axis, keepdims=True))
        elif p == 1:
            n = xp.abs(x).sum(axis=axis, keepdims=True)
        else:
            n = (xp.abs(x) ** p).sum(axis=axis, keepdims=True) ** (1 / p)
        ctx.save_for_backward(x, n)
        ctx.p = p
        return n.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, n = ctx.saved_arrays
        xp, p = array_module(x), ctx.p
        zero = x.dtype.type(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 1:
                d = xp.sign(x)
            elif p == 2:
                d = x / n
            else:
                a = xp.abs(x)
                d = xp.where(a == 0, zero, xp.sign(x) * a ** (p - 1) / n ** (p - 1))
            d = xp.where(n > 0, d, zero)
        return g * d


def _vector_norm(op: str, x: Tensor, p: Any, dim: int) -> Tensor:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p < float("inf"):
        raise TinyLMError(
            f"{op}: p must be a positive finite number (p=inf and p ≤ 0 are not supported), "
            f"got {p!r:.60}"
        )
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TinyLMError(f"{op}: dim must be one int, got {dim!r:.60}")
    (axis,) = ops.normalize_axis(int(dim), x.ndim, op) or (0,)
    return _VectorNorm.apply(x, p=float(p), axis=axis) if x.ndim else x.abs()


def _check_float_tensor(op: str, name: str, t: Any) -> None:
    if not isinstance(t, Tensor) or not np.issubdtype(t.dtype, np.floating):
        what = t.dtype if isinstance(t, Tensor) else type(t).__name__
        raise TinyLMError(f"{op}: {name} must be a floating-point Tensor, got {what}")


def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None
) -> Tensor:
    """Unit vectors along ``dim``: y = x / max(‖x‖_p, eps), as ``torch.nn.functional.normalize``.

    Shapes: any → the input's. ``eps`` keeps a zero vector finite (it stays zero). The norm
    is :class:`_VectorNorm`; the rest (clamp, divide) are ops.
    """
    if out is not None:
        raise TinyLMError("normalize: out= is not supported; use the returned tensor")
    _check_float_tensor("normalize", "input", input)
    norm = _vector_norm("normalize", input, p, dim)
    return input / norm.clamp(min=float(eps))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """cos θ = Σ x1·x2 / (max(‖x1‖₂, eps) · max(‖x2‖₂, eps)) along ``dim``.

    Shapes: x1 and x2 broadcast against each other; the result has their broadcast shape
    without ``dim``. As in PyTorch, each vector is divided by its own clamped norm before
    the sum, which keeps the products in range.
    """
    _check_float_tensor("cosine_similarity", "x1", x1)
    _check_float_tensor("cosine_similarity", "x2", x2)
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise TinyLMError(
            f"cosine_similarity: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} do not broadcast "
            "against each other"
        ) from None
    check_same_dtype("cosine_similarity", x1=x1, x2=x2)
    if not shape:
        raise TinyLMError("cosine_similarity: inputs must have at least one dim, got 0-d")
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = _vector_norm("cosine_similarity", x1, 2, dim).clamp(min=float(eps))
    n2 = _vector_norm("cosine_similarity", x2, 2, dim).clamp(min=float(eps))
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x − μ) / √(σ² + eps) · weight + bias for each channel c (axis 1), as PyTorch's.

    input (N, C), (N, C, L) or (N, C, H, W) …. Training: μ and σ² are the batch's, over every
    dim but C, σ² biased;
    the running statistics, if given, move toward them by ``momentum`` (the running variance
    toward the unbiased σ² · n/(n − 1)), outside the graph. Evaluation: μ, σ² are the running
    statistics. weight, bias, running_mean, running_var: (C,).
    """
    if input.ndim < 2:
        raise TinyLMError(f"batch_norm: input must be (N, C, *), got shape {input.shape}")
    c = input.shape[1]
    axes = (0, *range(2, input.ndim))
    shape = (1, c) + (1,) * (input.ndim - 2)
    if training:
        n = input.numel() // max(c, 1)
        if n <= 1:
            raise TinyLMError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {input.shape}"
            )
        mean = input.mean(dim=axes)
        var = input.var(dim=axes, unbiased=False)
        if running_mean is not None and running_var is not None:
            with no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                running_var.mul_(1 - momentum).add_(var.detach() * (momentum * n / (n - 1)))
    else:
        if running_mean is None or running_var is None:
            raise TinyLMError("batch_norm: evaluation needs running_mean and running_var")
        mean, var = running_mean, running_var
    y = (input - mean.reshape(shape)) / (var.reshape(shape) + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y
