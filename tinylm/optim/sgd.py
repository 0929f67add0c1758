"""Stochastic gradient descent with momentum, exactly PyTorch's update."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.optim.optimizer import Optimizer, apply_weight_decay, check_implementation_flags
from tinylm.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum and weight decay.

    For each parameter θ with gradient g (negated when ``maximize``: ascent), at every step:
        g ← g + λ θ                                  (weight decay λ, as an L2 term)
        b ← g at the first step, else  b ← μ b + (1 − τ) g     (momentum μ, dampening τ)
        g ← g + μ b  (Nesterov)   or   g ← b
        θ ← θ − η g                                  (learning rate η)
    Without momentum this is the plain θ ← θ − η ∇L of gradient descent.

    ``foreach``, ``differentiable`` and ``fused`` (PyTorch's other implementations) are
    accepted at their defaults (or False) and refused when True.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov, maximize=maximize, foreach=foreach,
            differentiable=differentiable, fused=fused,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["momentum"] < 0 or group["weight_decay"] < 0:
            raise TinyLMError(
                f"SGD: momentum ({group['momentum']}) and weight_decay "
                f"({group['weight_decay']}) must be ≥ 0"
            )
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise TinyLMError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        check_implementation_flags("SGD", group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        lr, momentum, wd = float(group["lr"]), group["momentum"], group["weight_decay"]
        param = p.data  # updated in place: the Parameter object and its memory stay the same
        if group["maximize"]:
            grad = -grad
        grad = apply_weight_decay(param, grad, wd)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= lr * grad
