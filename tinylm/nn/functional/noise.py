"""The random regularisers beside ``dropout``: ``rrelu`` (a leaky ReLU whose negative slope
is drawn at random while training), ``alpha_dropout`` (dropout that keeps SELU's zero mean
and unit variance) and ``dropout1d`` (whole channels dropped).

Each multiplies the input by an array drawn from ``tinylm.default_generator`` (seed it with
``tinylm.manual_seed``) and adds a constant one, so each is a composition of Tensor ops and
its gradient is exact: dL/dx = g · (the multiplier). The draws are not PyTorch's numbers
(another generator), but they follow the same distributions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import device_of, to_device_array
from tinylm.nn.functional.common import check_not_inplace, check_probability
from tinylm.nn.functional.dropout import dropout_mask
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["ALPHA_DROPOUT_ALPHA", "alpha_dropout", "dropout1d", "rrelu"]

#: −λα of SELU: the value a SELU network's activations saturate at (alpha_dropout's
#: "dropped" value, before its affine correction)
ALPHA_DROPOUT_ALPHA = -1.7580993408473766


def _float(op: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if not np.issubdtype(input.dtype, np.floating):
        raise TinyLMError(f"{op}: input must be floating point, got {input.dtype}")
    return input


def _constant(array: np.ndarray, like: Tensor) -> Tensor:
    """``array`` as a Tensor of ``like``'s dtype and device (no gradient)."""
    return Tensor._wrap(to_device_array(array.astype(like.dtype), device_of(like.data)))


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Randomized leaky ReLU (Xu et al., 2015): y = x for x > 0, else a·x, where while
    ``training`` each element draws its own a ~ U(lower, upper), and otherwise a is the
    mean slope (lower + upper)/2 (note PyTorch's default ``training=False`` here; the
    ``nn.RReLU`` module passes its mode). dy/dx = 1 for x > 0, else a (a at x = 0 too).

    Shapes: any → the same shape.
    """
    op = "rrelu"
    check_not_inplace(op, inplace)
    input = _float(op, input)
    lo, hi = float(lower), float(upper)
    if lo > hi:
        raise TinyLMError(f"{op}: lower ({lo}) must be ≤ upper ({hi})")
    if training:
        slopes = default_generator.numpy.uniform(lo, hi, size=input.shape)
    else:
        slopes = np.full(input.shape, (lo + hi) / 2)
    positive = input.data > 0
    if not isinstance(positive, np.ndarray):  # a GPU array: decide on the host
        positive = np.asarray(positive.get())
    multiplier = np.where(positive, 1.0, slopes)
    return input * _constant(multiplier, input)


def alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """Alpha dropout (Klambauer et al., 2017), for SELU networks: each element is kept with
    probability 1 − p, a dropped one is set to α' = −λα ≈ −1.7581, and then
    y = a·(kept or α') + b with a = ((1 − p)(1 + p α'²))^(−½), b = −a α' p, which keeps a
    zero-mean, unit-variance input so. dy/dx = a where kept, 0 where dropped.

    The identity when ``p == 0`` or not ``training`` (PyTorch's default here is
    ``training=False``); zeros when ``p == 1``. Shapes: any → the same shape.
    """
    op = "alpha_dropout"
    p = check_probability(op, p)
    check_not_inplace(op, inplace)
    input = _float(op, input)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = (default_generator.numpy.random(input.shape) >= p).astype(np.float64)
    alpha = ALPHA_DROPOUT_ALPHA
    a = 1.0 / np.sqrt((1.0 - p) * (1.0 + p * alpha * alpha))
    scale = keep * a
    shift = (1.0 - keep) * (a * alpha) - a * alpha * p
    return input * _constant(scale, input) + _constant(shift, input)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Channel-wise dropout: each channel (a whole row of length L) is zeroed with
    probability p, the others scaled by 1/(1 − p). dL/dx = g · (the channel's factor).

    Shapes: (N, C, L) or unbatched (C, L) → the same shape. The identity when ``p == 0`` or
    not ``training``; zeros when ``p == 1``.
    """
    op = "dropout1d"
    p = check_probability(op, p)
    check_not_inplace(op, inplace)
    input = _float(op, input)
    if input.ndim not in (2, 3):
        raise TinyLMError(
            f"{op}: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape {tuple(input.shape)}"
        )
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    channels = tuple(input.shape[:-1]) + (1,)
    return input * Tensor._wrap(dropout_mask(channels, p, input.data))
