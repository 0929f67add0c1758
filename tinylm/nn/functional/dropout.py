"""Dropout: zero each element with probability p, scale the rest by 1/(1 − p)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import device_of, to_device_array
from tinylm.nn.functional.common import check_not_inplace, check_probability
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = ["dropout", "dropout_mask"]


class _Dropout(Function):
    """y = x · mask,  mask_i = keep_i / (1 − p),  keep_i ~ Bernoulli(1 − p).

    Dividing by 1 − p keeps E[y] = x, so nothing changes at evaluation time when dropout
    is switched off. Backward uses the same mask: dL/dx = g · mask.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, mask: Any) -> Any:
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g * ctx.mask


def dropout_mask(shape: tuple[int, ...], p: float, like: Any) -> Any:
    """keep/(1 − p) drawn from ``tinylm.default_generator`` (seed with ``tinylm.manual_seed``)."""
    dtype = like.dtype
    uniform = default_generator.numpy.random(shape, dtype=np.float32)
    mask = (uniform >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))
    return to_device_array(mask, device_of(like))


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1 − p).

    The identity when ``p == 0`` or ``training`` is False. ``p == 1`` zeros everything.
    """
    p = check_probability("dropout", p)
    check_not_inplace("dropout", inplace)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0  # (an integer 0: an integer input stays integer, as in PyTorch)
    if not input.is_floating_point():  # PyTorch's refusal: the 1/(1 − p) scale is a float
        raise TinyLMError(
            f"dropout: result type float can't be cast to the desired output type "
            f"{input.dtype} (dropout of an integer tensor with 0 < p < 1)"
        )
    return _Dropout.apply(input, mask=dropout_mask(input.shape, p, input.data))
