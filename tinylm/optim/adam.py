"""Adam and AdamW: per-parameter step sizes from running moments of the gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinylm.devices import array_module, device_type
from tinylm.kernels import registry
from tinylm.optim.optimizer import (
    Optimizer,
    apply_weight_decay,
    check_adam_group,
    init_state,
    lerp_,
)
from tinylm.tensor import Tensor

__all__ = ["Adam", "AdamW", "amsgrad_update"]


def amsgrad_update(
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    max_exp_avg_sq: Any,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    decoupled: bool,
) -> None:
    """One AMSGrad step (Reddi et al., 2018), in place: Adam's, but the step is divided by
    the largest v seen so far, so a coordinate's step size never grows back when its
    gradients shrink. All arrays share the parameter's shape; ``step`` counts from 1:
        θ ← θ (1 − η λ)  (decoupled)   or   g ← g + λ θ
        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
        v_max ← max(v_max, v)
        θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v_max / √(1 − β₂ᵗ) + ε)
    PyTorch's order of operations, so float64 runs match torch.optim's ``amsgrad=True``.
    ``grad`` is not modified.
    """
    xp = array_module(param)
    grad = apply_weight_decay(param, grad, weight_decay, lr=lr, decoupled=decoupled)
    lerp_(exp_avg, grad, 1.0 - beta1)  # m ← β₁ m + (1 − β₁) g, rounded once as PyTorch's
    exp_avg_sq *= beta2
    exp_avg_sq += (1.0 - beta2) * (grad * grad)
    xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    step_size = lr / (1.0 - beta1**step)
    denom = xp.sqrt(max_exp_avg_sq) / (1.0 - beta2**step) ** 0.5 + eps
    param -= step_size * (exp_avg / denom)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with weight decay as an L2 term added to the gradient
    (``decoupled_weight_decay=True``: as :class:`AdamW`).

    For each parameter θ with gradient g (negated when ``maximize``: ascent), at step
    t = 1, 2, …:
        g ← g + λ θ                              (Adam's weight decay; AdamW differs here)
        m ← β₁ m + (1 − β₁) g                    (running mean of g)
        v ← β₂ v + (1 − β₂) g²                   (running mean of g²)
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)    (bias correction: m, v start at 0)
        θ ← θ − η m̂ / (√v̂ + ε)
    Each coordinate moves by about η in the direction of its average gradient, whatever
    the gradient's scale.

    ``step()`` (from :class:`~tinylm.optim.Optimizer`) calls :meth:`_update` for each
    parameter, which runs the registry's fused ``adam_update``: readable in
    ``kernels/reference.py: adam_update``; fast in ``kernels/numba/optimizers.py`` (CPU) and
    ``kernels/cuda/adam.cu`` (GPU). ``amsgrad=True`` divides by the running maximum of v̂
    instead (:func:`amsgrad_update`, plain array code). State per parameter: ``step`` (an
    int), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with ``amsgrad``, ``max_exp_avg_sq``, each
    of the parameter's shape. ``foreach``, ``capturable``, ``differentiable`` and ``fused``
    are refused when True.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable, fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_adam_group(type(self).__name__, group)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp = array_module(p.data)
        if "exp_avg" not in state:
            init_state(state, p.data, "exp_avg", "exp_avg_sq")
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        grad = xp.ascontiguousarray(grad)  # p.grad's own array when it is contiguous
        if group["maximize"]:
            grad = -grad  # a new array only when ascending: the default path copies nothing
        hyper = dict(
            lr=float(group["lr"]), beta1=float(beta1), beta2=float(beta2),
            eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
            step=int(state["step"]), decoupled=bool(group["decoupled_weight_decay"]),
        )  # fmt: skip
        # p.data, exp_avg, exp_avg_sq (and max_exp_avg_sq) are updated in place
        if group["amsgrad"]:
            amsgrad_update(
                p.data, grad, state["exp_avg"], state["exp_avg_sq"], state["max_exp_avg_sq"],
                **hyper,
            )  # fmt: skip
            return
        adam_update = registry.lookup("adam_update", device_type(p.data))
        adam_update(p.data, grad, state["exp_avg"], state["exp_avg_sq"], **hyper)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with *decoupled* weight decay.

    Instead of adding λθ to the gradient (where Adam's normalisation would shrink it for
    coordinates with large gradients), the weights decay directly before the Adam step:
        θ ← θ (1 − η λ),   then the Adam update with the raw gradient g.
    Default λ = 0.01, as in PyTorch. The same kernel as :class:`Adam` (``decoupled=True``):
    readable in ``kernels/reference.py: adam_update``; ``amsgrad`` and ``maximize`` as there.
    It is ``Adam(..., decoupled_weight_decay=True)``, as PyTorch's (whose groups carry that key).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            foreach=foreach, maximize=maximize, capturable=capturable,
            differentiable=differentiable, fused=fused, decoupled_weight_decay=True,
        )  # fmt: skip
