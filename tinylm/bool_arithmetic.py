"""PyTorch's refusals of subtraction and negation with bools, in its own words:
``int_tensor - True``, ``bool_tensor - 1``, ``bool_tensor - bool_tensor`` and
``-bool_tensor`` are errors there (NumPy computes most of them), with a hint to use
``~``/``logical_not()`` or ``^``/``logical_xor()`` instead."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.dtypes import bool_

__all__ = ["refuse_bool_neg", "refuse_bool_sub"]


def _is_bool(x: Any) -> bool:
    if isinstance(x, builtins.bool | np.bool_):
        return True
    return getattr(x, "dtype", None) == bool_


def refuse_bool_sub(op: str, a: Any, b: Any) -> None:
    """PyTorch refuses subtraction with a bool tensor or a Python bool on either side
    (``int_tensor - True``, ``bool_tensor - 1``); its message, in one line."""
    if _is_bool(a) and _is_bool(b):
        raise TinyLMError(
            f"{op}: Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    if _is_bool(a) or _is_bool(b):
        raise TinyLMError(
            f"{op}: Subtraction, the `-` operator, with a bool tensor is not supported. If "
            "you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )


def refuse_bool_neg(op: str, x: Any) -> None:
    """PyTorch refuses −x of a bool tensor; its message, in one line."""
    if _is_bool(x):
        raise TinyLMError(
            f"{op}: Negation, the `-` operator, on a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
