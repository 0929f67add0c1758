"""``torch.nn.utils``' gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``) and the
flattening of parameters into one vector and back (``parameters_to_vector``,
``vector_to_parameters``).

``clip_grad_norm_`` is :func:`tinylm.optim.clip_grad_norm_` (the equations are there) with
PyTorch's return value: the total norm as a 0-d tensor rather than a Python float.

:mod:`tinylm.nn.utils.rnn` — padded and packed batches of sequences (``pad_sequence``,
``pack_padded_sequence``, ``PackedSequence`` …), as ``torch.nn.utils.rnn``.
"""

from __future__ import annotations

from collections.abc import Iterable

from tinylm import creation
from tinylm.autograd import TinyLMError, no_grad
from tinylm.nn.utils import rnn
from tinylm.optim import clip_grad
from tinylm.tensor import Tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "rnn",
    "vector_to_parameters",
]


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


def parameters_to_vector(parameters: Iterable[Tensor] | Tensor) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor (Σ numel,), in order, as
    PyTorch's: a new tensor (a ``cat`` of the ``reshape(-1)``s), through which gradients
    flow back to each parameter."""
    params = _params(parameters)
    if not params:
        raise TinyLMError("parameters_to_vector: got no parameters")
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise TinyLMError(
            "parameters_to_vector: the parameters live on different devices "
            f"{sorted(map(str, devices))}"
        )
    return creation.cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor] | Tensor) -> None:
    """The inverse of :func:`parameters_to_vector`: each parameter's values become the next
    ``numel`` elements of ``vec`` (1-D), as PyTorch's ``param.data = ...``: the parameters
    then view ``vec``'s memory, and no graph is recorded."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise TinyLMError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    params = _params(parameters)
    need = sum(p.numel() for p in params)
    if vec.numel() < need:
        raise TinyLMError(
            f"vector_to_parameters: vec has {vec.numel()} elements, the parameters {need}"
        )
    start = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.data = vec.data[start : start + n].reshape(p.shape)
            start += n
