"""``torch.nn.utils``' gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``.

``clip_grad_norm_`` is :func:`tinylm.optim.clip_grad_norm_` (the equations are there) with
PyTorch's return value: the total norm as a 0-d tensor rather than a Python float.
"""

from __future__ import annotations

from collections.abc import Iterable

from tinylm.autograd import TinyLMError
from tinylm.optim import clip_grad
from tinylm.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _params(parameters: Iterable[Tensor] | Tensor) -> list[Tensor]:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most
    ``max_norm``; return the norm before clipping as a 0-d tensor (in the gradients' dtype).
    ``foreach`` (a PyTorch speed switch) is accepted and changes nothing."""
    params = _params(parameters)
    total = clip_grad.clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite)
    grads = [p.grad for p in params if p.grad is not None]
    dtype = grads[0].dtype if grads else None
    device = grads[0].device if grads else "cpu"
    return Tensor(total, dtype=dtype, device=device)


def clip_grad_value_(
    parameters: Iterable[Tensor] | Tensor, clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient element to [−clip_value, clip_value], in place."""
    if clip_value < 0:
        raise TinyLMError(f"clip_grad_value_: clip_value must be ≥ 0, got {clip_value}")
    for p in _params(parameters):
        if p.grad is not None:
            g = p.grad.data
            g[...] = g.clip(-clip_value, clip_value)
