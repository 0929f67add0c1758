"""More of PyTorch's losses as Modules: ``MarginRankingLoss``, ``CosineEmbeddingLoss``,
``TripletMarginLoss``, ``HingeEmbeddingLoss``, ``SoftMarginLoss``,
``MultiLabelSoftMarginLoss``, ``GaussianNLLLoss``, ``PoissonNLLLoss``. Each keeps its options,
PyTorch's constructor arguments in PyTorch's order, and calls its function in
:mod:`tinylm.nn.functional.more_losses`, where the equations are. The deprecated
``size_average``/``reduce`` are refused when the loss is made (by
:class:`~tinylm.nn.loss.ReducedLoss`, the base of every loss Module).
"""

from __future__ import annotations

from typing import Any

from tinylm.nn.functional import more_losses as L
from tinylm.nn.loss import ReducedLoss, WeightedLoss
from tinylm.tensor import Tensor

__all__ = [
    "CosineEmbeddingLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "MarginRankingLoss",
    "MultiLabelSoftMarginLoss",
    "PoissonNLLLoss",
    "SoftMarginLoss",
    "TripletMarginLoss",
]


class _MarginLoss(ReducedLoss):
    """A loss with a ``margin`` (0 unless given) besides its ``reduction``."""

    def __init__(
        self,
        margin: float = 0.0,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class MarginRankingLoss(_MarginLoss):
    """``margin_ranking_loss(input1, input2, target, margin)``: max(0, −y (x1 − x2) + margin)."""

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return L.margin_ranking_loss(input1, input2, target, self.margin, reduction=self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """``cosine_embedding_loss(input1, input2, target, margin)``: 1 − cos for y = 1,
    max(0, cos − margin) for y = −1."""

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return L.cosine_embedding_loss(
            input1, input2, target, self.margin, reduction=self.reduction
        )


class TripletMarginLoss(ReducedLoss):
    """``triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap)``:
    max(0, margin + d(a, p) − d(a, n)) with the p-norm distance."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return L.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
            reduction=self.reduction,
        )  # fmt: skip


class HingeEmbeddingLoss(_MarginLoss):
    """``hinge_embedding_loss(input, target, margin)``: x for y = 1, max(0, margin − x)
    for y = −1. Its margin is 1 unless given, as PyTorch's."""

    def __init__(
        self,
        margin: float = 1.0,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(margin, size_average, reduce, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.hinge_embedding_loss(input, target, self.margin, reduction=self.reduction)


class SoftMarginLoss(ReducedLoss):
    """``soft_margin_loss(input, target)``: log(1 + e^{−y x})."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(WeightedLoss):
    """``multilabel_soft_margin_loss(input, target, weight)``: per-class logistic losses
    averaged over the classes. ``weight`` (C,) is a buffer, as in PyTorch."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return L.multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


class GaussianNLLLoss(ReducedLoss):
    """``gaussian_nll_loss(input, target, var, full, eps)``: ½ (log var + (x − y)² / var)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Any, var: Tensor | float) -> Tensor:
        return L.gaussian_nll_loss(
            input, target, var, full=self.full, eps=self.eps, reduction=self.reduction
        )


class PoissonNLLLoss(ReducedLoss):
    """``poisson_nll_loss(input, target, log_input, full, eps=eps)``: e^x − y x (log input)
    or λ − y log(λ + eps)."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average: Any = None,
        eps: float = 1e-8,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Any) -> Tensor:
        return L.poisson_nll_loss(
            log_input, target, self.log_input, self.full, eps=self.eps, reduction=self.reduction
        )
