"""Layer normalisation: normalise each row over its last features, then scale and shift."""

from __future__ import annotations

import math
from typing import Any

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.device import array_module
from tinylm.nn.functional.common import check_same_dtype, kernel
from tinylm.tensor import Tensor

__all__ = ["layer_norm"]


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
