"""Argument checks shared by the PyTorch-compatible function modules (``tensor_shaping``,
``tensor_selecting``, ``tensor_stats``, ``tensor_linalg``): each turns a wrong argument into
one line that names the op, as PyTorch's errors do.
"""

from __future__ import annotations

import builtins
import operator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # for type hints only
    from tinylm.tensor import Tensor

__all__ = ["described", "int_arg"]


def described(x: Tensor) -> str:
    """x's shape and dtype, as error messages show them: ``(2, 3) float32``."""
    return f"{tuple(x.shape)} {x.dtype}"


def int_arg(op: str, name: str, value: Any) -> int:
    """A Python or NumPy int, or a one-element integer tensor, as an int; a float or a bool
    (which would silently be cut or read as 0/1) is a TypeError naming ``op``."""
    if isinstance(value, builtins.bool | np.bool_):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int, got {value!r}") from None
