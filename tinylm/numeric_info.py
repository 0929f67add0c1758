"""What a dtype can hold, and PyTorch's numeric constants.

``finfo(dtype)`` and ``iinfo(dtype)`` as ``torch.finfo`` / ``torch.iinfo``: attention code
masks with ``x.masked_fill(mask, tinylm.finfo(x.dtype).min)``, the most negative float32 or
float16, so that softmax gives the masked places 0 without an ``inf − inf``. The numbers are
Python floats and ints (NumPy's ``finfo`` gives them in the dtype itself); ``dtype`` is the
dtype's name, as PyTorch's (``"float32"``).

``inf``, ``nan``, ``pi``, ``e`` are Python floats and ``newaxis`` is None, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.dtypes import get_default_dtype

__all__ = ["e", "finfo", "iinfo", "inf", "nan", "newaxis", "pi"]

inf = math.inf
nan = math.nan
pi = math.pi
e = math.e
newaxis = None


def _dtype(op: str, dtype: Any) -> np.dtype:
    """A tinylm dtype (a NumPy dtype) or NumPy scalar type; PyTorch refuses names as strings."""
    if isinstance(dtype, np.dtype):
        return dtype
    if isinstance(dtype, type) and issubclass(dtype, np.generic):
        return np.dtype(dtype)
    raise TinyLMError(f"{op}: expected a dtype such as tinylm.float32, got {dtype!r}")


class finfo:  # noqa: N801 - PyTorch's name
    """The limits of a floating-point dtype (the default dtype when none is given).

    Attributes:
        bits: bits per number (16, 32, 64).
        eps: the gap between 1.0 and the next larger number.
        max, min: the largest and most negative finite numbers (min = −max).
        tiny, smallest_normal: the smallest positive normal number (two names, one value).
        resolution: 10^−d for the d decimal digits the dtype keeps (float32: 1e-06).
        dtype: the dtype's name (``"float32"``).
    """

    def __init__(self, type: Any = None) -> None:  # noqa: A002 - PyTorch's argument name
        d = get_default_dtype() if type is None else _dtype("finfo", type)
        if d.kind != "f":
            raise TinyLMError(f"finfo: {d} is not a floating-point dtype; use iinfo for it")
        info = np.finfo(d)
        self.bits: int = int(info.bits)
        self.eps: float = float(info.eps)
        self.max: float = float(info.max)
        self.min: float = float(info.min)
        self.tiny: float = float(info.smallest_normal)
        self.smallest_normal: float = self.tiny
        self.resolution: float = 10.0 ** -int(info.precision)  # an exact power of ten
        self.dtype: str = d.name

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:  # noqa: N801 - PyTorch's name
    """The limits of an integer dtype: ``bits``, ``max``, ``min`` (Python ints) and
    ``dtype`` (its name). bool is refused, as in PyTorch."""

    def __init__(self, type: Any) -> None:  # noqa: A002 - PyTorch's argument name
        d = _dtype("iinfo", type)
        if d.kind not in "iu":
            raise TinyLMError(f"iinfo: {d} is not an integer dtype; use finfo for floats")
        info = np.iinfo(d)
        self.bits: int = int(info.bits)
        self.max: int = int(info.max)
        self.min: int = int(info.min)
        self.dtype: str = d.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
