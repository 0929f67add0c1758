"""int8 weight-only inference: the linear layer y = x Ŵᵀ + b and the embedding lookup y = Ŵ[idx],
with Ŵ = scale[:, None] · q, q int8 (N, K) and one float scale per row (output channel).

Inference only: the int8 weights are not trainable (they are buffers, not Parameters), and a
backward through these ops raises one clear error. Train the float model, then quantise it
(:func:`tinylm.quantize_int8`). Readable: ``kernels/reference.py: int8_linear``; fast:
``kernels/numba/quantized.py`` (CPU), ``kernels/cuda/int8_linear.cu`` (GPU).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError, is_grad_enabled
from tinylm.devices import array_module
from tinylm.nn.functional.common import as_array, kernel
from tinylm.tensor import Tensor

__all__ = ["int8_embedding", "int8_linear"]

_INFERENCE_ONLY = (
    "is inference-only: int8 weights have no gradient. Train the float model and quantise it "
    "afterwards (tinylm.quantize_int8), or run the quantised one under tinylm.no_grad()"
)


def _int8_product(x: Any, qweight: Any, scale: Any, b: Any) -> Any:
    """The checked kernel call on arrays: x (..., K), qweight (N, K) int8, scale (N,), b (N,)
    or None → (..., N)."""
    if x.ndim < 1 or qweight.ndim != 2 or x.shape[-1] != qweight.shape[1]:
        raise TinyLMError(
            f"int8_linear: input {x.shape} and qweight {qweight.shape} do not fit: need "
            "input (..., in_features) and qweight (out_features, in_features)"
        )
    if qweight.dtype != np.int8 or scale.shape != (qweight.shape[0],):
        raise TinyLMError(
            f"int8_linear: need qweight int8 (N, K) and scale (N,), got {qweight.dtype} "
            f"{qweight.shape} and {scale.shape}"
        )
    return kernel("int8_linear", x)(x, qweight, scale, b)


class _Int8Linear(Function):
    """y = x Ŵᵀ + b, Ŵ[n, k] = scale[n] q[n, k], computed as scale[n] Σ_k x[k] q[n, k] + b[n].

    Shapes: x (..., K) float, q (N, K) int8, scale (N,), b (N,) → y (..., N). The kernel
    turns each int8 into a float in a register; the float weight is never built.
    Readable: ``kernels/reference.py: int8_linear``; fast: ``kernels/numba/quantized.py``
    (CPU) and ``kernels/cuda/int8_linear.cu`` (GPU).
    """

    @staticmethod
    def forward(ctx: Context, x: Any, qweight: Any, scale: Any, *bias: Any) -> Any:
        return _int8_product(x, qweight, scale, bias[0] if bias else None)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        raise TinyLMError(f"int8_linear {_INFERENCE_ONLY}")


def int8_linear(
    input: Tensor, qweight: Tensor, scale: Tensor, bias: Tensor | None = None
) -> Tensor:
    """input (..., K) @ (scale[:, None] · qweight (N, K) int8)ᵀ + bias (N,) → (..., N)."""
    arrays = (input, qweight, scale) if bias is None else (input, qweight, scale, bias)
    on_cpu = all(isinstance(t, Tensor) and type(t.data) is np.ndarray for t in arrays)
    if on_cpu and not (input.requires_grad and is_grad_enabled()):
        # nothing to record (inference, the op's only use): the kernel without the autograd
        # Function around it, ~5 µs less per layer of a decode step
        b = None if bias is None else bias.data
        return Tensor._wrap(_int8_product(input.data, qweight.data, scale.data, b))
    if bias is None:
        return _Int8Linear.apply(input, qweight, scale)
    return _Int8Linear.apply(input, qweight, scale, bias)


class _Int8Embedding(Function):
    """y = scale[idx][..., None] · q[idx]: only the rows looked up are turned into floats.

    Shapes: q (V, D) int8, scale (V,), idx (...) → y (..., D) in scale's dtype.
    """

    @staticmethod
    def forward(ctx: Context, qweight: Any, scale: Any, *, indices: Any) -> Any:
        xp = array_module(qweight)
        rows = xp.take(qweight, indices, axis=0).astype(scale.dtype)
        return rows * xp.take(scale, indices, axis=0)[..., None]

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        raise TinyLMError(f"int8_embedding {_INFERENCE_ONLY}")


def int8_embedding(input: Any, qweight: Tensor, scale: Tensor) -> Tensor:
    """Rows ``input`` (integers in [0, V), any shape) of the int8 table (V, D) → (..., D)."""
    idx = as_array("int8_embedding", input, qweight.data, "the indices")
    if not array_module(idx).issubdtype(idx.dtype, np.integer):
        raise TinyLMError(f"int8_embedding: indices must be integers, got dtype {idx.dtype}")
    num = qweight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise TinyLMError(f"int8_embedding: index {bad} is out of range for {num} rows")
    return _Int8Embedding.apply(qweight, scale, indices=idx)
