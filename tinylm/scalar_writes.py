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

__all__ = ["number_into"]


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
