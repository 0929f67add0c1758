"""Adafactor (Shazeer & Stern, 2018) as PyTorch 2.13's ``torch.optim.Adafactor``: Adam's
per-coordinate scaling without Adam's memory. For a matrix gradient G (r × c) it keeps only
the running mean of G² along each row (r numbers) and along each column (c numbers) and
rebuilds the full second moment from them as an outer product, so the state is r + c
numbers instead of r · c.

State per parameter: ``step`` (an int; PyTorch keeps a 0-d float tensor) and, for a
parameter of 2 or more dimensions (…, r, c), ``row_var`` (…, r, 1) and ``col_var``
(…, 1, c); for a 0-d or 1-d one, ``variance`` (its own shape).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.devices import array_module
from tinylm.optim.optimizer import Optimizer, check_implementation_flags, lerp_
from tinylm.tensor import Tensor

__all__ = ["Adafactor"]


def _rms(xp: Any, a: Any) -> float:
    """‖a‖₂ / √(number of elements): the root mean square of a."""
    return float(xp.sqrt(xp.sum(a * a))) / a.size**0.5


class Adafactor(Optimizer):
    """Adafactor, as PyTorch's. For each parameter θ with gradient g (negated when
    ``maximize``), at step t = 1, 2, …, with τ = ``beta2_decay`` (≤ 0), λ = ``weight_decay``,
    (ε₁, ε₂) = ``eps`` (ε₁ None: the machine epsilon of θ's dtype):

        β̂ = t^τ                                   (the weight of the new g²; 1 at t = 1)
        ρ = min(lr, 1 / √t),   α = max(ε₂, RMS(θ)) · ρ     (RMS(θ) before the decay below)
        θ ← θ (1 − lr λ)
        θ of ≥ 2 dims (…, r, c):
            R ← R + β̂ (mean_c g² − R)          (…, r, 1)   ``row_var``
            C ← C + β̂ (mean_r g² − C)          (…, 1, c)   ``col_var``
            V = R C / max(mean_r R, ε₁)         (…, r, c)   the outer product, rescaled
        θ of 0 or 1 dim:
            V ← V + β̂ (g² − V)                             ``variance``
        U = g / √max(V, ε₁²)
        θ ← θ − α / max(1, RMS(U) / d) · U

    The step is relative (α scales with θ's own size) and clipped (an update whose RMS
    exceeds d is scaled down to d). ``foreach=True`` is refused (one implementation).
    """

    silences_fp_warnings = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
            foreach=foreach, maximize=maximize,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        eps1, eps2 = group["eps"]
        problems = [
            (group["beta2_decay"] > 0, f"beta2_decay must be ≤ 0, got {group['beta2_decay']}"),
            (eps1 is not None and eps1 < 0, f"eps[0] must be None or ≥ 0, got {eps1}"),
            (eps2 < 0, f"eps[1] must be ≥ 0, got {eps2}"),
            (group["d"] < 1, f"the clipping threshold d must be ≥ 1, got {group['d']}"),
            (group["weight_decay"] < 0, f"weight_decay must be ≥ 0, got {group['weight_decay']}"),
        ]
        for bad, message in problems:
            if bad:
                raise TinyLMError(f"Adafactor: {message}")
        check_implementation_flags("Adafactor", group)

    def _state_shape(self, p: Tensor, key: str) -> tuple[int, ...]:
        """``row_var`` is (…, r, 1) and ``col_var`` (…, 1, c) for a (…, r, c) parameter."""
        if key == "row_var":
            return (*p.shape[:-1], 1)
        if key == "col_var":
            return (*p.shape[:-2], 1, p.shape[-1])
        return p.shape

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        factored = param.ndim > 1
        if not state:
            state["step"] = 0
            if factored:
                state["row_var"] = xp.zeros(self._state_shape(p, "row_var"), dtype=param.dtype)
                state["col_var"] = xp.zeros(self._state_shape(p, "col_var"), dtype=param.dtype)
            else:
                state["variance"] = xp.zeros_like(param)
        if group["maximize"]:
            grad = -grad
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(xp.finfo(param.dtype).eps)
        state["step"] += 1
        t = float(state["step"])
        lr = float(group["lr"])
        new_weight = t ** group["beta2_decay"]
        alpha = max(eps2, _rms(xp, param)) * min(lr, 1 / t**0.5)
        if group["weight_decay"] != 0:
            param *= 1 - lr * group["weight_decay"]
        squared = grad * grad
        if factored:
            row, col = state["row_var"], state["col_var"]
            lerp_(row, squared.mean(axis=-1, keepdims=True), new_weight)
            lerp_(col, squared.mean(axis=-2, keepdims=True), new_weight)
            scale = xp.maximum(row.mean(axis=-2, keepdims=True), eps1)  # (…, 1, 1)
            variance = (row @ col) / scale
        else:
            lerp_(state["variance"], squared, new_weight)
            variance = state["variance"]
        step = grad / xp.sqrt(xp.maximum(variance, eps1 * eps1))
        clip = max(1.0, _rms(xp, step) / group["d"])
        param -= (alpha / clip) * step
