"""Adadelta, Rprop and ASGD: three optimizers from before Adam, exactly PyTorch's updates.

State per parameter: ``step`` (an int) and arrays of the parameter's shape (``square_avg``
and ``acc_delta``; ``prev`` and ``step_size``; ``ax``), and ASGD's ``eta`` and ``mu``
(floats; PyTorch keeps them as 0-d tensors of its default dtype, float32 unless
``torch.set_default_dtype(torch.float64)``).
"""

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

__all__ = ["ASGD", "Adadelta", "Rprop"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), as PyTorch's. For each parameter θ with gradient g (negated
    when ``maximize``):

        g ← g + λ θ
        v ← ρ v + (1 − ρ) g²                       (``square_avg``)
        Δ = √(a + ε) / √(v + ε) · g                (a: ``acc_delta``)
        a ← ρ a + (1 − ρ) Δ²
        θ ← θ − η Δ

    The ratio of the two running root-mean-squares gives the step its units (those of θ),
    so the default η = 1.0 is the paper's method; η scales it.
    """

    silences_fp_warnings = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
            capturable=capturable, foreach=foreach, differentiable=differentiable,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if not 0.0 <= group["rho"] <= 1.0 or group["eps"] < 0 or group["weight_decay"] < 0:
            raise TinyLMError(
                f"Adadelta: rho must be in [0, 1] (got {group['rho']}), eps and weight_decay "
                f"≥ 0 (got {group['eps']}, {group['weight_decay']})"
            )
        check_implementation_flags("Adadelta", group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        if not state:
            init_state(state, param, "square_avg", "acc_delta")
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        rho, eps = group["rho"], group["eps"]
        grad = apply_weight_decay(param, grad, group["weight_decay"])
        v, a = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * grad * grad
        delta = xp.sqrt(a + eps) / xp.sqrt(v + eps) * grad
        a *= rho
        a += (1 - rho) * delta * delta
        param -= float(group["lr"]) * delta


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun, 1993), as PyTorch's: each coordinate moves by its own step
    size s in the direction of −sign(g), whatever g's magnitude. For each parameter θ with
    gradient g (negated when ``maximize``) and the previous step's g′ (``prev``, 0 at first):

        s ← clamp(s · η₊, s_min, s_max)   where g g′ > 0   (same sign: speed up)
        s ← clamp(s · η₋, s_min, s_max)   where g g′ < 0   (overshot: slow down, and
                                                           set g ← 0 there: no move now)
        θ ← θ − sign(g) · s,   g′ ← g

    with (η₋, η₊) = ``etas`` and (s_min, s_max) = ``step_sizes``; s starts at the group's lr.
    A full-batch method: mini-batch noise flips signs and shrinks every step size.
    """

    silences_fp_warnings = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
            maximize=maximize, differentiable=differentiable, capturable=capturable,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        minus, plus = group["etas"]
        if not 0.0 < minus < 1.0 < plus:
            raise TinyLMError(
                f"Rprop: etas must satisfy 0 < etaminus < 1 < etaplus, got ({minus}, {plus})"
            )
        check_implementation_flags("Rprop", group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        if not state:
            init_state(state, param, "prev")
            state["step_size"] = xp.full_like(param, group["lr"])
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        minus, plus = group["etas"]
        low, high = group["step_sizes"]
        agreement = xp.sign(grad * state["prev"])
        factor = xp.where(agreement > 0, plus, xp.where(agreement < 0, minus, 1.0))
        step_size = state["step_size"]
        step_size *= factor.astype(step_size.dtype, copy=False)
        xp.clip(step_size, low, high, out=step_size)
        grad = xp.where(agreement < 0, 0, grad).astype(param.dtype, copy=False)
        param -= xp.sign(grad) * step_size
        state["prev"][...] = grad


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992), as PyTorch's. For each parameter θ with
    gradient g (negated when ``maximize``), at step t = 1, 2, … with step size η_t (η_1 = the
    lr when the state was created) and averaging weight μ_t (μ_1 = 1):

        g ← g + λ_wd θ
        θ ← θ (1 − λ η_t) − η_t g                  (λ = ``lambd``: a decay term)
        ā ← θ  if μ_t = 1,  else  ā ← ā + μ_t (θ − ā)     (``ax``: the running average)
        η_{t+1} = lr / (1 + λ lr t)^α,   μ_{t+1} = 1 / max(1, t − t₀)

    θ itself follows plain SGD with a decaying step; the average ā over the steps after t₀
    is the estimate the method is named for (read it from ``optimizer.state[p]["ax"]``).
    """

    _number_state = ("step", "eta", "mu")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
            foreach=foreach, maximize=maximize, differentiable=differentiable,
            capturable=capturable,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["weight_decay"] < 0:
            raise TinyLMError(f"ASGD: weight_decay must be ≥ 0, got {group['weight_decay']}")
        check_implementation_flags("ASGD", group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        param = p.data
        if not state:
            init_state(state, param, "ax", eta=float(group["lr"]), mu=1.0)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        t, eta, lr, lambd = state["step"], state["eta"], float(group["lr"]), group["lambd"]
        grad = apply_weight_decay(param, grad, group["weight_decay"])
        param *= 1 - lambd * eta
        param -= eta * grad
        ax = state["ax"]
        if state["mu"] != 1:
            ax += (param - ax) * state["mu"]
        else:
            ax[...] = param
        state["eta"] = lr / ((1 + lambd * lr * t) ** group["alpha"])
        state["mu"] = 1 / max(1, t - group["t0"])
