"""Gradient clipping by the global norm."""

from __future__ import annotations

import math
from collections.abc import Iterable

from tinylm.autograd import TinyLMError
from tinylm.tensor import Tensor

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients together so their joint norm is at most ``max_norm``.

    ‖g‖ = (Σ_params Σ_i |g_i|^p)^(1/p) over every gradient at once (p = ``norm_type``,
    ``inf`` for the largest |g_i|). If ‖g‖ > max_norm, every gradient is multiplied by
    max_norm / (‖g‖ + 1e-6), which keeps the update's direction and caps its length — a
    guard against the rare huge gradient that would throw training off.

    Returns:
        ‖g‖ before clipping, as a Python float.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(abs(g).max()) if g.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        # Σ g² per tensor as a dot product of the flat gradient with itself (one BLAS call)
        total = math.sqrt(sum(float(g.reshape(-1) @ g.reshape(-1)) for g in grads))
    elif norm_type > 0:
        total = sum(float((abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    else:
        raise TinyLMError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if error_if_nonfinite and not math.isfinite(total):
        raise TinyLMError(
            f"clip_grad_norm_: the total gradient norm is {total}; a gradient holds NaN or "
            "inf (pass error_if_nonfinite=False to clip anyway)"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)  # in place on the gradient arrays
    return total
