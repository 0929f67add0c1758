"""PyTorch's rule for a Python number written into a tensor of an integer or bool dtype
(``fill_``, ``full``, ``masked_fill``, ``x[i] = v``, ``index_fill``, index_add's alpha).

* an int must fit the dtype; an unsigned dtype also takes negatives down to −max, which
  wrap (uint8: −1 is 255, −255 is 1); int8 refuses 200;
* a float must lie in the dtype's range before it is truncated toward 0 (int8 takes −1.7
  as −1 but refuses 127.9 and −128.9; uint8 refuses −0.5); inf and NaN are refused;
* a bool dtype takes any number (non-zero is True, NaN too).

A value that breaks the rule is an error naming the op, the value and the dtype, not
NumPy's OverflowError or a silent wrap.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError

__all__ = ["check_numbers_fit", "number_into"]


def number_into(op: str, value: Any, dtype: Any) -> Any:
    """``value`` as a scalar of ``dtype`` by PyTorch's rule (see the module docstring);
    anything but a Python or NumPy number, or a float or complex dtype, passes unchanged."""
    dtype = np.dtype(dtype)
    if not isinstance(value, builtins.bool | int | float | np.bool_ | np.integer | np.floating):
        return value
    if dtype.kind == "b":
        return np.bool_(bool(value))
    if dtype.kind not in "iu":
        return value
    if isinstance(value, builtins.bool | np.bool_):
        return dtype.type(int(value))
    info = np.iinfo(dtype)
    high = int(info.max)
    if isinstance(value, int | np.integer):
        number = int(value)
        low = int(info.min) if dtype.kind == "i" else -high
        if low <= number <= high:
            return dtype.type(number % (high + 1) if number < 0 and dtype.kind == "u" else number)
    else:
        number = float(value)
        if math.isfinite(number) and int(info.min) <= number <= high:
            return dtype.type(int(number))  # int() truncates toward 0, as C's cast
    raise TinyLMError(f"{op}: value {value!r} cannot be converted to {dtype} without overflow")


def check_numbers_fit(op: str, array: Any, dtype: np.dtype) -> None:
    """The rule above for a whole array of Python numbers bound for ``dtype`` at once
    (``tensor([...], dtype=uint8)``), in NumPy: an error naming the first that breaks it.
    Floats are compared with the dtype's limits as float64, as PyTorch compares them (2^63
    passes for int64 and wraps, as there)."""
    if dtype.kind not in "iu" or array.size == 0 or array.dtype.kind not in "iuf":
        return
    info = np.iinfo(dtype)
    low = -info.max if dtype.kind == "u" and array.dtype.kind != "f" else info.min
    with np.errstate(invalid="ignore"):
        # as floats: a uint64 beside a negative bound would not compare; nan fails both
        values = array.astype(np.float64) if array.dtype.kind == "u" else array
        fits = (values >= low) & (values <= float(info.max))
    if not fits.all():
        bad = array.reshape(-1)[np.flatnonzero(~fits.reshape(-1))[0]]
        raise TinyLMError(
            f"{op}: value {bad.item()} cannot be converted to {dtype} without overflow "
            f"(it holds {info.min} … {info.max}), as in PyTorch"
        )
