"""The losses as Modules, PyTorch's ``nn.CrossEntropyLoss`` and company: each keeps its
options and calls its function in :mod:`tinylm.nn.functional.losses`, where the equations
and their gradients are.

The constructors take PyTorch's arguments in PyTorch's order. What tinylm leaves out (the
deprecated ``size_average`` and ``reduce``) is refused when the loss is made, in one line, so a
model ported from PyTorch fails before training. Weights (the per-class ``weight`` of
``CrossEntropyLoss`` and ``NLLLoss``, ``BCELoss``'s ``weight``, ``BCEWithLogitsLoss``'s
``weight`` and ``pos_weight``) are buffers, as in PyTorch: they move with ``.to()`` and are in
the ``state_dict``.
"""

from __future__ import annotations

from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.nn.functional import losses as L
from tinylm.nn.functional.common import check_reduction
from tinylm.nn.module import Module
from tinylm.tensor import Tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "ReducedLoss",
    "SmoothL1Loss",
    "WeightedLoss",
]


class ReducedLoss(Module):
    """What every loss Module shares (PyTorch's ``_Loss``): its ``reduction``, checked once
    when the loss is made, with PyTorch's deprecated ``size_average``/``reduce`` refused. The
    losses of :mod:`tinylm.nn.more_losses` and :mod:`tinylm.nn.more_modules` build on it too."""

    def __init__(
        self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        check_reduction(type(self).__name__, reduction, size_average, reduce)
        self.reduction = reduction


class WeightedLoss(ReducedLoss):
    """A loss with optional element weights ``weight`` (PyTorch's ``_WeightedLoss``), kept
    as a buffer: it moves with ``.to()`` and is in the ``state_dict``."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class CrossEntropyLoss(WeightedLoss):
    """``cross_entropy(input, target, weight)``: logits (N, C) or (N, C, d1, …), class
    indices (N, …) or probabilities (N, C, …) → the loss, reduced by ``reduction``; see
    :func:`tinylm.nn.functional.cross_entropy`. ``weight`` (C,) is a buffer."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(WeightedLoss):
    """``nll_loss(input, target, weight)`` on log-probabilities; see
    :func:`tinylm.nn.functional.nll_loss`. ``weight`` (C,) is a buffer."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class MSELoss(ReducedLoss):
    """``mse_loss(input, target)``, mean of (input − target)² by default; see
    :func:`tinylm.nn.functional.mse_loss`."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.mse_loss(input, target, reduction=self.reduction)


class BCELoss(WeightedLoss):
    """``binary_cross_entropy(input, target, weight)`` on probabilities in [0, 1]; see
    :func:`tinylm.nn.functional.binary_cross_entropy`."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(WeightedLoss):
    """``binary_cross_entropy_with_logits(input, target, weight, pos_weight=…)`` on raw
    scores; see :func:`tinylm.nn.functional.binary_cross_entropy_with_logits`."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class L1Loss(ReducedLoss):
    """``l1_loss(input, target)``, mean of |input − target| by default; see
    :func:`tinylm.nn.functional.l1_loss`."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(ReducedLoss):
    """``smooth_l1_loss(input, target, beta=beta)``: quadratic within ``beta`` of the target,
    linear beyond; see :func:`tinylm.nn.functional.smooth_l1_loss`."""

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(ReducedLoss):
    """``huber_loss(input, target, delta=delta)``: ½ d² within ``delta``, delta·(|d| − ½ delta)
    beyond; see :func:`tinylm.nn.functional.huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(None, None, reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(ReducedLoss):
    """``kl_div(input, target)``: input log-probabilities, target probabilities (or their
    logs with ``log_target=True``); ``reduction="batchmean"`` is the KL divergence per sample.
    See :func:`tinylm.nn.functional.kl_div`."""

    def __init__(
        self,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        # "batchmean" is the one reduction only this loss has: checked with its list
        super().__init__(size_average, reduce, "mean" if reduction == "batchmean" else "sum")
        if reduction not in L.KL_REDUCTIONS:
            raise TinyLMError(
                f"KLDivLoss: reduction must be one of {L.KL_REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
