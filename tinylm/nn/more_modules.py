"""More of PyTorch's layers as Modules: ``RReLU``, ``Softmax2d``, ``AlphaDropout``,
``Dropout1d``, ``MultiMarginLoss`` and ``TripletMarginWithDistanceLoss``. Each keeps its
options (PyTorch's constructor arguments in PyTorch's order) and calls its function, where
the equations are: :mod:`tinylm.nn.functional.noise` and
:mod:`tinylm.nn.functional.margin_losses`. ``inplace=True`` is refused when made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.nn.functional import margin_losses, noise
from tinylm.nn.functional.common import check_not_inplace, check_probability
from tinylm.nn.loss import ReducedLoss
from tinylm.nn.module import Module
from tinylm.nn.more_layers import PairwiseDistance
from tinylm.tensor import Tensor

__all__ = [
    "AlphaDropout",
    "Dropout1d",
    "MultiMarginLoss",
    "RReLU",
    "Softmax2d",
    "TripletMarginWithDistanceLoss",
]


class RReLU(Module):
    """``rrelu(x, lower, upper, training=self.training)``: a random negative slope in
    [lower, upper] per element while training, their mean in eval mode."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        super().__init__()
        check_not_inplace("RReLU", inplace)
        self.lower, self.upper = lower, upper

    def forward(self, input: Tensor) -> Tensor:
        return noise.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"


class Softmax2d(Module):
    """Softmax over the channels at every position: (C, H, W) or (N, C, H, W), along
    dim −3."""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise TinyLMError(
                f"Softmax2d: expected a 3-D or 4-D input, got shape {tuple(input.shape)}"
            )
        return input.softmax(-3)


class _DropoutBase(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        self.p = check_probability(name, p)
        check_not_inplace(name, inplace)
        self.inplace = False

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class AlphaDropout(_DropoutBase):
    """``alpha_dropout(x, p, training=self.training)``: dropout for SELU networks."""

    def forward(self, input: Tensor) -> Tensor:
        return noise.alpha_dropout(input, self.p, self.training)


class Dropout1d(_DropoutBase):
    """``dropout1d(x, p, training=self.training)``: whole channels of (N, C, L) or (C, L)
    zeroed."""

    def forward(self, input: Tensor) -> Tensor:
        return noise.dropout1d(input, self.p, self.training)


class MultiMarginLoss(ReducedLoss):
    """``multi_margin_loss(input, target, p, margin, weight)``: the multi-class hinge loss.
    ``weight`` (C,) is kept as a buffer, as PyTorch's."""

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if p not in (1, 2) or isinstance(p, bool):
            raise TinyLMError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p!r}")
        if weight is not None and (not isinstance(weight, Tensor) or weight.ndim != 1):
            raise TinyLMError("MultiMarginLoss: weight must be a 1-D Tensor (one per class)")
        self.p, self.margin = p, margin
        self.register_buffer("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return margin_losses.multi_margin_loss(
            input, target, self.p, self.margin, self.weight, reduction=self.reduction
        )


class TripletMarginWithDistanceLoss(ReducedLoss):
    """``triplet_margin_with_distance_loss(anchor, positive, negative, ...)``: a triplet
    loss with any distance function (default: ``PairwiseDistance()``, kept as a sub-module
    when it is one, as PyTorch's)."""

    def __init__(
        self,
        *,
        distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(None, None, reduction)
        if not margin > 0:
            raise TinyLMError(
                f"TripletMarginWithDistanceLoss: margin must be greater than 0, got {margin}"
            )
        self.distance_function = (
            distance_function if distance_function is not None else PairwiseDistance()
        )
        self.margin, self.swap = margin, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return margin_losses.triplet_margin_with_distance_loss(
            anchor, positive, negative,
            distance_function=self.distance_function, margin=self.margin, swap=self.swap,
            reduction=self.reduction,
        )  # fmt: skip
