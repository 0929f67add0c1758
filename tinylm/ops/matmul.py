"""Matrix multiplication."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.kernels.parallel import note_blas_product

__all__ = ["MatMul"]

# ---------------------------------------------------------------------------------------
# Matrix multiplication
# ---------------------------------------------------------------------------------------


class MatMul(Function):
    """C = A @ B over the last two axes, broadcasting the leading (batch) axes.

    With C_ij = Σ_k A_ik B_kj:  dL/dA = G Bᵀ  and  dL/dB = Aᵀ G.
    1-D operands are treated as a row (A) or a column (B) vector, as in numpy.
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        if a.ndim == 0 or b.ndim == 0:
            raise TinyLMError(
                f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}"
            )
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if k_a != k_b:
            raise TinyLMError(
                f"matmul: shapes {a.shape} {a.dtype} and {b.shape} {b.dtype} are not aligned: "
                f"{k_a} (last dim of the first) != {k_b} "
                f"({'second-to-last' if b.ndim >= 2 else 'only'} dim of the second)"
            )
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise TinyLMError(
                f"matmul: batch dims of {a.shape} and {b.shape} do not broadcast"
            ) from None
        ctx.save_for_backward(a, b)
        c = a @ b
        note_blas_product()  # BLAS's threads spin for a while now (kernels/parallel.py)
        return c

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        a2 = a[None, :] if a.ndim == 1 else a  # row vector (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # column vector (k, 1)
        # Put back the axes that numpy dropped for 1-D operands: m (b was 1-D) then n.
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if ctx.needs_input_grad[1]:
            gb = a2.swapaxes(-1, -2) @ g
            if b.ndim == 1:
                gb = gb[..., 0]
        note_blas_product()
        return ga, gb
