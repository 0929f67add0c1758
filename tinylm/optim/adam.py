"""Adam and AdamW: per-parameter step sizes from running moments of the gradient."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.device import array_module, device_type
from tinylm.kernels import registry
from tinylm.optim.optimizer import Optimizer
from tinylm.tensor import Tensor

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with weight decay as an L2 term added to the gradient.

    For each parameter θ with gradient g, at step t = 1, 2, …:
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
    ``kernels/cuda/adam.cu`` (GPU).
    """

    decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        beta1, beta2 = group["betas"]
        name = type(self).__name__
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise TinyLMError(f"{name}: betas must be in [0, 1), got {group['betas']}")
        if group["eps"] < 0 or group["weight_decay"] < 0:
            raise TinyLMError(f"{name}: eps and weight_decay must be ≥ 0")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp = array_module(p.data)
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        adam_update = registry.lookup("adam_update", device_type(p.data))
        adam_update(
            p.data,  # updated in place, with exp_avg and exp_avg_sq
            xp.ascontiguousarray(grad),
            state["exp_avg"],
            state["exp_avg_sq"],
            lr=float(group["lr"]),
            beta1=float(beta1),
            beta2=float(beta2),
            eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]),
            step=int(state["step"]),
            decoupled=self.decoupled,
        )


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): Adam with *decoupled* weight decay.

    Instead of adding λθ to the gradient (where Adam's normalisation would shrink it for
    coordinates with large gradients), the weights decay directly before the Adam step:
        θ ← θ (1 − η λ),   then the Adam update with the raw gradient g.
    Default λ = 0.01, as in PyTorch. The same kernel as :class:`Adam` (``decoupled=True``):
    readable in ``kernels/reference.py: adam_update``.
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
