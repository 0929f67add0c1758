"""Adam and AdamW with Numba: one fused, in-place pass over each parameter array.

Implements (same name, signature and results up to rounding) ``kernels/reference.py``:
adam_update. Other dtypes than float32/float64, and a parameter or state that is not
C-contiguous (an in-place update must write the caller's own memory), take the reference; the
gradient, only read, may come in any layout.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import reference
from ..parallel import parallel_ranges
from .jit import FASTMATH, rjit
from .threads import kernel_input

__all__ = ["adam_kernel", "adam_update"]


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _adam_element(p, g, m, v, decay, l2, beta1, beta2, eps, step_size, inv_bc2_sqrt):
    """One coordinate's step; returns the new (θ, m, v). Every argument has the array's
    float type (a Python 1 − β would promote float32 to float64), so β₁, β₂ arrive as pairs
    beta1 = (β₁, 1 − β₁), beta2 = (β₂, 1 − β₂).

    AdamW and Adam differ only in where the weight decay goes, so both are one formula:
        AdamW: decay = 1 − lr·λ, l2 = 0      Adam (+ L2): decay = 1, l2 = λ
    """
    g = g + l2 * p
    m = beta1[0] * m + beta1[1] * g
    v = beta2[0] * v + beta2[1] * g * g
    # θ ← θ·decay − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
    return p * decay - step_size * m / (math.sqrt(v) * inv_bc2_sqrt + eps), m, v


@rjit
def adam_kernel(start, end, param, grad, m, v, decay, l2, beta1, beta2, eps, step_size, rsqrt_bc2):
    """Coordinates ``start:end``: one flat loop with no branch inside, so LLVM vectorises it
    (8 floats per instruction)."""
    param, grad, m, v = param[start:end], grad[start:end], m[start:end], v[start:end]
    for i in range(param.shape[0]):
        param[i], m[i], v[i] = _adam_element(
            param[i], grad[i], m[i], v[i], decay, l2, beta1, beta2, eps, step_size, rsqrt_bc2
        )


def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    decoupled: bool,
) -> None:
    """One fused Adam/AdamW step in place; see :func:`reference.adam_update`."""
    if param.dtype in (np.float32, np.float64):
        grad = kernel_input(grad, param.dtype)  # read only: any layout or dtype will do
    arrays = (param, grad, exp_avg, exp_avg_sq)
    if param.dtype not in (np.float32, np.float64) or not all(
        a.flags.c_contiguous and a.dtype == param.dtype for a in arrays
    ):
        # other dtypes, and strided views (an in-place update needs the caller's own
        # memory), take the plain path
        reference.adam_update(
            param, grad, exp_avg, exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, step=step, decoupled=decoupled,
        )  # fmt: skip
        return
    f = param.dtype.type
    step_size = lr / (1.0 - beta1**step)
    inv_bc2_sqrt = 1.0 / math.sqrt(1.0 - beta2**step)
    decay, l2 = (1.0 - lr * weight_decay, 0.0) if decoupled else (1.0, weight_decay)
    parallel_ranges(
        adam_kernel,
        param.size,
        *(a.reshape(-1) for a in arrays),
        f(decay), f(l2), (f(beta1), f(1.0 - beta1)), (f(beta2), f(1.0 - beta2)), f(eps),
        f(step_size), f(inv_bc2_sqrt),
    )  # fmt: skip
