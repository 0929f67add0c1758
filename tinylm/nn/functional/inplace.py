"""PyTorch's in-place activation functions: ``F.relu_``, ``F.elu_``, ``F.leaky_relu_``,
``F.hardtanh_``, ``F.selu_``, ``F.celu_``, ``F.threshold_`` and ``F.rrelu_``.

Each is its out-of-place function (same arguments, same checks, same result) computed on
the input's values and written into the input's own memory, which it returns. As tinylm's
autograd does not record in-place changes, a tensor that requires grad is refused while
gradients are being recorded (PyTorch refuses a leaf too, and records the change of any other
tensor): call the out-of-place function there, e.g. ``x = F.relu(x)``.

Shapes: any input, changed in place; the returned tensor is the input itself.
"""

from __future__ import annotations

from collections.abc import Callable

from tinylm.autograd import TinyLMError, is_grad_enabled, no_grad
from tinylm.nn.functional import activations, more_activations, noise
from tinylm.tensor import Tensor

__all__ = [
    "celu_",
    "elu_",
    "hardtanh_",
    "leaky_relu_",
    "relu_",
    "rrelu_",
    "selu_",
    "threshold_",
]


def write_result(op: str, input: Tensor, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """``compute(input)`` written into ``input`` (which is returned): the in-place form of
    an out-of-place function. ``op`` names it in errors."""
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.requires_grad and is_grad_enabled():
        if input.is_leaf:  # PyTorch's refusal too
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad cannot be changed in place; use "
                f"{op.rstrip('_')} (out of place)"
            )
        raise TinyLMError(
            f"{op}: tinylm's autograd does not record in-place changes; use "
            f"{op.rstrip('_')} (out of place) on a tensor that requires grad"
        )
    with no_grad():
        result = compute(input)
    return input.copy_(result)


def relu_(input: Tensor) -> Tensor:
    """``relu`` in place: x ← max(x, 0)."""
    return write_result("relu_", input, activations.relu)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``elu`` in place: x ← x for x > 0, else α(eˣ − 1)."""
    return write_result("elu_", input, lambda x: activations.elu(x, alpha))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``leaky_relu`` in place: x ← x for x > 0, else ``negative_slope``·x."""
    return write_result("leaky_relu_", input, lambda x: activations.leaky_relu(x, negative_slope))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``hardtanh`` in place: x ← x clamped to [min_val, max_val] (integers stay integers)."""
    return write_result(
        "hardtanh_", input, lambda x: more_activations.hardtanh(x, min_val, max_val)
    )


def selu_(input: Tensor) -> Tensor:
    """``selu`` in place: x ← λ x for x > 0, else λ α (eˣ − 1)."""
    return write_result("selu_", input, more_activations.selu)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``celu`` in place: x ← x for x > 0, else α (e^{x/α} − 1)."""
    return write_result("celu_", input, lambda x: more_activations.celu(x, alpha))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """``threshold`` in place: x ← x where x > ``threshold``, else ``value``."""
    return write_result(
        "threshold_", input, lambda x: more_activations.threshold(x, threshold, value)
    )


def rrelu_(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
) -> Tensor:
    """``rrelu`` in place: x ← x for x > 0, else a·x (a random in [lower, upper] while
    training, (lower + upper)/2 otherwise)."""
    return write_result("rrelu_", input, lambda x: noise.rrelu(x, lower, upper, training))
