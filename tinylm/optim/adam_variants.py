"""NAdam, RAdam and Adamax: Adam (``adam.py``) with Nesterov momentum, with a rectified
warm-up of its step size, and with an infinity norm in place of √v, exactly PyTorch's updates.

Each keeps Adam's running mean m of the gradient; ``state`` per parameter holds ``step``
(an int), ``exp_avg`` (m, the parameter's shape) and ``exp_avg_sq`` (v) or ``exp_inf`` (u),
and NAdam's ``mu_product`` (a float). PyTorch keeps ``step`` and ``mu_product`` as 0-d tensors
of its default dtype (float32 unless ``torch.set_default_dtype(torch.float64)``); tinylm keeps
them as Python numbers, i.e. in float64.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.devices import array_module
from tinylm.optim.optimizer import (
    Optimizer,
    apply_weight_decay,
    check_adam_group,
    init_state,
    lerp_,
)
from tinylm.tensor import Tensor

__all__ = ["Adamax", "NAdam", "RAdam"]


class NAdam(Optimizer):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum, as PyTorch's. For each parameter θ
    with gradient g (negated when ``maximize``), at step t = 1, 2, …:

        g ← g + λ θ     (or θ ← θ (1 − η λ) with ``decoupled_weight_decay``, as AdamW)
        μ_t = β₁ (1 − ½ · 0.96^(t ψ))              (ψ = ``momentum_decay``)
        P_t = μ_1 ⋯ μ_t                            (``mu_product``)
        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
        d = √(v / (1 − β₂ᵗ)) + ε
        θ ← θ − η (1 − μ_t) / (1 − P_t) · g / d − η μ_{t+1} / (1 − P_t μ_{t+1}) · m / d

    The last term looks one step ahead with the next momentum μ_{t+1} (Nesterov's trick);
    μ_t warms up from β₁/2 towards β₁. Shapes: state arrays have the parameter's shape.
    """

    silences_fp_warnings = True
    _number_state = ("step", "mu_product")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
            momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_adam_group("NAdam", group)
        if group["momentum_decay"] < 0:
            raise TinyLMError(f"NAdam: momentum_decay must be ≥ 0, got {group['momentum_decay']}")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        if not state:
            init_state(state, param, "exp_avg", "exp_avg_sq", mu_product=1.0)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        t = state["step"]
        lr, wd, psi = float(group["lr"]), group["weight_decay"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        grad = apply_weight_decay(param, grad, wd, lr=lr, decoupled=group["decoupled_weight_decay"])
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        product = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad
        denom = xp.sqrt(v / (1 - beta2**t)) + group["eps"]
        param += (-lr * (1.0 - mu) / (1.0 - product)) * (grad / denom)
        param += (-lr * mu_next / (1.0 - product * mu_next)) * (m / denom)


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020): Adam whose adaptive step is switched on only once the
    variance of v's estimate is bounded, as PyTorch's. For each parameter θ with gradient g
    (negated when ``maximize``), at step t = 1, 2, …:

        g ← g + λ θ     (or θ ← θ (1 − η λ) with ``decoupled_weight_decay``, as AdamW)
        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,   m̂ = m / (1 − β₁ᵗ)
        ρ_∞ = 2 / (1 − β₂) − 1,   ρ_t = ρ_∞ − 2 t β₂ᵗ / (1 − β₂ᵗ)
        ρ_t > 5:  r = √((ρ_t − 4)(ρ_t − 2) ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2) ρ_t)),
                  θ ← θ − η m̂ · √(1 − β₂ᵗ) / (√v + ε) · r
        else:     θ ← θ − η m̂        (plain momentum SGD while ρ_t is small)

    Shapes: state arrays have the parameter's shape.
    """

    silences_fp_warnings = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize,
            foreach=foreach, capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_adam_group("RAdam", group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        if not state:
            init_state(state, param, "exp_avg", "exp_avg_sq")
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        t = state["step"]
        lr, wd = float(group["lr"]), group["weight_decay"]
        beta1, beta2 = group["betas"]
        grad = apply_weight_decay(param, grad, wd, lr=lr, decoupled=group["decoupled_weight_decay"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad
        bias_correction2 = 1 - beta2**t
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            adaptive = bias_correction2**0.5 / (xp.sqrt(v) + group["eps"])
            param -= m_hat * lr * adaptive * rect
        else:
            param -= m_hat * lr


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, §7): Adam with the infinity norm, as PyTorch's. For each
    parameter θ with gradient g (negated when ``maximize``), at step t = 1, 2, …:

        g ← g + λ θ
        m ← β₁ m + (1 − β₁) g
        u ← max(β₂ u, |g| + ε)                     (element-wise; ``exp_inf``)
        θ ← θ − η / (1 − β₁ᵗ) · m / u

    u needs no bias correction: a maximum does not start biased towards 0 as a mean does.
    Shapes: state arrays have the parameter's shape.
    """

    silences_fp_warnings = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach,
            maximize=maximize, differentiable=differentiable, capturable=capturable,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_adam_group("Adamax", group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        if not state:
            init_state(state, param, "exp_avg", "exp_inf")
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        beta1, beta2 = group["betas"]
        grad = apply_weight_decay(param, grad, group["weight_decay"])
        m, u = state["exp_avg"], state["exp_inf"]
        lerp_(m, grad, 1 - beta1)
        u *= beta2
        xp.maximum(u, xp.abs(grad) + group["eps"], out=u)
        clr = float(group["lr"]) / (1 - beta1 ** state["step"])
        param += -clr * (m / u)
