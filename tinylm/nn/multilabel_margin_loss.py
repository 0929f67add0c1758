"""PyTorch's ``nn.MultiLabelMarginLoss``: the multi-label hinge loss as a Module; the
equation and its gradient are in :mod:`tinylm.nn.functional.multilabel_margin`."""

from __future__ import annotations

from typing import Any

from tinylm.nn.functional.multilabel_margin import multilabel_margin_loss
from tinylm.nn.loss import ReducedLoss
from tinylm.tensor import Tensor

__all__ = ["MultiLabelMarginLoss"]


class MultiLabelMarginLoss(ReducedLoss):
    """``multilabel_margin_loss(input, target)``: scores (C,) or (N, C), target int64 of the
    same shape listing each sample's classes up to its first −1."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return multilabel_margin_loss(input, target, reduction=self.reduction)
