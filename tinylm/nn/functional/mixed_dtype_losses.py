"""PyTorch's dtype rules for the losses whose input and target are floats of different
dtypes (a float32 model output against a float64 target, say). Each rule is written with
existing differentiable Tensor ops (casts included), so the gradients follow from theirs.

- ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``kl_div``: both sides are promoted to
  their common dtype (float32 with float64 → float64), as a PyTorch pointwise op
  (:func:`promoted_pair`).
- ``huber_loss``: computed in the common dtype, the elementwise loss then stored in the
  *input's* dtype and reduced there (PyTorch's output is made like the input).
- ``binary_cross_entropy_with_logits``: PyTorch's composite formula
  loss = (1 − y)·x − log σ(x), built in place on (1 − y), so the result has the *target's*
  dtype (:func:`bce_with_logits_in_target_dtype`).
- ``binary_cross_entropy`` is refused, as by PyTorch (its kernel needs one dtype).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.dtypes import promote_types
from tinylm.nn.functional.more_activations import logsigmoid
from tinylm.tensor import Tensor

__all__ = ["bce_with_logits_in_target_dtype", "mixed_floats", "promoted_pair", "reduced"]


def mixed_floats(input: Tensor, target: Tensor) -> bool:  # noqa: A002
    """Both tensors floating point, of different dtypes."""
    kinds = (np.dtype(input.dtype).kind, np.dtype(target.dtype).kind)
    return kinds == ("f", "f") and input.dtype != target.dtype


def promoted_pair(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:  # noqa: A002
    """``input`` and ``target`` (any shapes) cast to their common dtype (differentiable)."""
    common = promote_types(input.dtype, target.dtype)
    return input.to(common), target.to(common)


def reduced(loss: Tensor, reduction: str) -> Tensor:
    """The elementwise ``loss`` reduced: "mean" → 0-d mean, "sum" → 0-d sum, "none" → itself."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def bce_with_logits_in_target_dtype(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Any,
    pos_weight: Tensor | None,
    reduction: str,
) -> Tensor:
    """PyTorch's binary cross-entropy on logits x (``input``) against y (``target``, same
    shape) of another float dtype, step by step with PyTorch's dtypes:

        s = log σ(x)                          (x's dtype)
        s ← s · (1 + (q − 1) y)               (with pos_weight q; kept in x's dtype)
        ℓ = (1 − y)·x − s                      (y's dtype: PyTorch writes it into 1 − y)
        ℓ ← ℓ · w                             (with weight w; y's dtype)

    then reduced in y's dtype. Gradients: those of the Tensor ops (σ(x) − 1 from log σ, …).
    """
    out_dtype = target.dtype
    s = logsigmoid(input)
    if pos_weight is not None:
        s = (s * ((pos_weight - 1) * target + 1)).to(input.dtype)
    loss = ((1 - target) * input).to(out_dtype)
    loss = (loss - s).to(out_dtype)
    if weight is not None:
        w = weight if isinstance(weight, Tensor) else Tensor(weight)
        loss = (loss * w).to(out_dtype)
    return reduced(loss, reduction)
