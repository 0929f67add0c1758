"""RMSprop and Adagrad: per-coordinate step sizes from the history of squared gradients,
exactly PyTorch's updates (Adam, in ``adam.py``, adds momentum and bias correction to the
same idea)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.devices import array_module
from tinylm.optim.optimizer import (
    Optimizer,
    apply_weight_decay,
    check_implementation_flags,
    init_state,
)
from tinylm.tensor import Tensor

__all__ = ["Adagrad", "RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), as PyTorch's. For each parameter θ with gradient g
    (negated when ``maximize``: ascent):
    g ← g + λ θ                                   (weight decay λ)
    v ← α v + (1 − α) g²                          (running mean of g², v₀ = 0)
    d ← √(v − m̄²) + ε  (centered, m̄ ← α m̄ + (1 − α) g),  else  d ← √v + ε
    b ← μ b + g / d,  θ ← θ − η b   (momentum μ > 0),  else  θ ← θ − η g / d
    Shapes: ``square_avg``, ``grad_avg``, ``momentum_buffer`` have the parameter's shape.
    ``capturable``, ``foreach`` and ``differentiable`` are refused when True.
    """

    silences_fp_warnings = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
            centered=centered, capturable=capturable, foreach=foreach, maximize=maximize,
            differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["alpha"] < 0 or group["eps"] < 0 or group["momentum"] < 0:
            raise TinyLMError(
                f"RMSprop: alpha ({group['alpha']}), eps ({group['eps']}) and momentum "
                f"({group['momentum']}) must be ≥ 0"
            )
        check_implementation_flags("RMSprop", group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        alpha, eps, wd, mom = group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
        if not state:
            init_state(state, param, "square_avg")
            if mom > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        grad = apply_weight_decay(param, grad, wd)
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * grad * grad
        if group["centered"]:
            m = state["grad_avg"]
            m *= alpha
            m += (1 - alpha) * grad
            denom = xp.sqrt(v - m * m) + eps
        else:
            denom = xp.sqrt(v) + eps
        if mom > 0:
            buf = state["momentum_buffer"]
            buf *= mom
            buf += grad / denom
            param -= float(group["lr"]) * buf
        else:
            param -= float(group["lr"]) * (grad / denom)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as PyTorch's. For each parameter θ with gradient g
    (negated when ``maximize``: ascent), at step t (from 1):
        g ← g + λ θ                                   (weight decay λ)
        η_t = η / (1 + (t − 1) · lr_decay)
        s ← s + g²                                    (s₀ = initial_accumulator_value)
        θ ← θ − η_t g / (√s + ε)
    s₀ is the constructor's ``initial_accumulator_value`` for every group, as in PyTorch (a
    group's own value is kept in the group but not used).
    ``sum`` (s) has the parameter's shape. ``foreach``, ``differentiable`` and ``fused`` are
    refused when True.
    """

    silences_fp_warnings = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, eps=eps, foreach=foreach,
            maximize=maximize, differentiable=differentiable, fused=fused,
        )  # fmt: skip
        super().__init__(params, defaults)
        # as PyTorch's: the state exists from the start (so a state_dict saved before the
        # first step has it); a group added later gets its state at its first step
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state.setdefault(p, {}))

    def _init_state(self, p: Tensor, state: dict[str, Any]) -> None:
        """step 0 and s₀ = the constructor's ``initial_accumulator_value`` (even for a group
        that sets its own, as PyTorch), of the parameter's shape and dtype."""
        state["step"] = 0
        state["sum"] = array_module(p.data).full_like(
            p.data, self.defaults["initial_accumulator_value"]
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["lr_decay"] < 0 or group["initial_accumulator_value"] < 0 or group["eps"] < 0:
            raise TinyLMError(
                "Adagrad: lr_decay, initial_accumulator_value and eps must be ≥ 0, got "
                f"{group['lr_decay']}, {group['initial_accumulator_value']}, {group['eps']}"
            )
        check_implementation_flags("Adagrad", group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        if not state:
            self._init_state(p, state)
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        grad = apply_weight_decay(param, grad, group["weight_decay"])
        lr = float(group["lr"]) / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += grad * grad
        param -= lr * (grad / (xp.sqrt(s) + group["eps"]))
