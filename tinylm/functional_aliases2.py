"""More of ``torch.nn.functional``'s functions that PyTorch also has at the top level, with
the top-level signatures (see :mod:`tinylm.functional_aliases`): ``torch.instance_norm``
takes weight and bias first and every argument; the losses take ``reduction`` as an int
(0 "none", 1 "mean", 2 "sum") that defaults, in PyTorch 2.13's Python binding, to 0.
Each is one call of :mod:`tinylm.nn.functional`, where the arithmetic is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tinylm.nn.functional as F
from tinylm.functional_aliases import reduction_name

if TYPE_CHECKING:  # type hints only
    from tinylm.tensor import Tensor

__all__ = ["hinge_embedding_loss", "instance_norm", "triplet_margin_loss"]


def hinge_embedding_loss(
    input: Tensor,  # noqa: A002 - PyTorch's name
    target: Tensor,
    margin: float = 1.0,
    reduction: int = 0,
) -> Tensor:
    """F.hinge_embedding_loss, with ``reduction`` an int."""
    name = reduction_name("hinge_embedding_loss", reduction)
    return F.hinge_embedding_loss(input, target, margin, reduction=name)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: int = 0,
) -> Tensor:
    """F.triplet_margin_loss, with ``reduction`` an int."""
    name = reduction_name("triplet_margin_loss", reduction)
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=name)


def instance_norm(
    input: Tensor,  # noqa: A002
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    use_input_stats: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    """F.instance_norm with torch.instance_norm's order (weight and bias first, every
    argument required; ``cudnn_enabled`` is a CUDA hint and is ignored)."""
    return F.instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )
