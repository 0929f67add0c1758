"""Dtypes, the default floating-point dtype, and the dtype a tensor gets from Python data.

Dtypes are numpy dtypes, so ``x.dtype == tinylm.float32`` and ``== np.float32`` both work.
Python data gets PyTorch's dtypes, not numpy's: a float is the default dtype (float32), an
int is int64, a bool is bool.

Also PyTorch's type promotion (:func:`result_type`, :func:`promote_types`,
:func:`can_cast`): the dtype that an op on tensors of different dtypes computes in.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.scalar_writes import check_numbers_fit

__all__ = [
    "bool_",
    "can_cast",
    "float16",
    "float32",
    "float64",
    "array_from_python",
    "get_default_dtype",
    "int8",
    "int16",
    "int32",
    "int64",
    "check_float_fits",
    "is_floating_point",
    "promote_types",
    "result_type",
    "set_default_dtype",
    "uint8",
]

# Dtypes are numpy dtypes, so `x.dtype == tinylm.float32` and `np.float32` both work.
float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_default_dtype = float32


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype used for floating-point tensors created from Python numbers."""
    global _default_dtype
    d = np.dtype(dtype)
    if d not in (float32, float64):
        raise TinyLMError(f"set_default_dtype: only float32 and float64 are supported, got {d}")
    _default_dtype = d


def get_default_dtype() -> np.dtype:
    """The dtype of floating-point tensors created without an explicit dtype (float32)."""
    return _default_dtype


def is_floating_point(dtype: Any) -> bool:
    """True for float16/32/64 (the dtypes that can carry gradients)."""
    # the dtype's kind letter: "f" for float16/32/64 (np.issubdtype says the same, ~10x slower)
    return np.dtype(dtype).kind == "f"


# ---- type promotion (PyTorch's rule, not NumPy's) ---------------------------------------

#: bool < integer < floating: an operand of a higher category always decides the category.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _category(dtype: np.dtype) -> int:
    return _CATEGORY[dtype.kind]


def promote_types(type1: Any, type2: Any) -> np.dtype:
    """The smallest dtype that both dtypes convert to, as ``torch.promote_types``: the higher
    category wins outright (int64 with float16 is float16, where NumPy says float64), and
    within a category NumPy's rule holds (uint8 with int8 is int16)."""
    d1, d2 = np.dtype(type1), np.dtype(type2)
    c1, c2 = _category(d1), _category(d2)
    if c1 != c2:
        return d1 if c1 > c2 else d2
    return np.promote_types(d1, d2)


def can_cast(from_: Any, to: Any) -> bool:
    """Whether an op may write a result of dtype ``from_`` into a tensor of dtype ``to``
    (``torch.can_cast``): never to a lower category (float → int, int → bool)."""
    return _category(np.dtype(from_)) <= _category(np.dtype(to))


def result_type(*operands: Any) -> np.dtype:
    """The dtype an element-wise op computes in, as PyTorch's ``torch.result_type``.

    Operands are tensors (or arrays) and Python numbers. The result has the highest
    category (bool < integer < floating) among them all; among the operands of that
    category, dimensioned tensors decide the width first, then 0-d tensors, then numbers —
    so ``float32 tensor + 0-d float64`` is float32, ``int8 tensor + 200`` int8 (it wraps),
    ``int tensor * 1.5`` the default float dtype, ``int tensor + 0-d float64`` float64.
    A Python float is the default float dtype, an int int64, a bool bool.
    """
    # the promoted dtype of each priority group: numbers, 0-d tensors, dimensioned tensors
    groups: list[np.dtype | None] = [None, None, None]
    for x in operands:
        if hasattr(x, "shape") and not isinstance(x, np.generic):  # a tensor or an array
            rank, dtype = (2 if x.ndim else 1), np.dtype(x.dtype)
        elif isinstance(x, list | tuple):  # nested lists become a dimensioned tensor
            rank, dtype = 2, array_from_python(x, None, np).dtype
        else:  # a Python (or numpy) number counts as its category's default dtype
            rank, dtype = 0, _number_dtype(x)
        old = groups[rank]
        groups[rank] = dtype if old is None else promote_types(old, dtype)
    result = None
    for dtype in groups:  # lowest priority first: a later group wins unless lower in category
        if dtype is not None and (result is None or _category(dtype) >= _category(result)):
            result = dtype
    if result is None:
        raise TinyLMError("result_type: needs at least one operand")
    return result


def _number_dtype(x: Any) -> np.dtype:
    """The dtype that stands for a number in promotion: bool, int64 or the default float."""
    if isinstance(x, builtins.bool | np.bool_):
        return bool_
    if isinstance(x, int | np.integer):
        return int64
    if isinstance(x, float | np.floating):
        return _default_dtype
    raise TinyLMError(f"result_type: expected tensors or numbers, got {type(x).__name__}")


def check_float_fits(op: str, dtype: Any, *numbers: Any) -> None:
    """Finite numbers given for a float tensor are within its dtype's range, as PyTorch checks
    in ``full``, ``fill_``, ``linspace`` and ``clamp`` ("value cannot be converted to type
    c10::Half without overflow"), where NumPy would give inf with a warning. ±inf and nan
    fit; so do all numbers for float64."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype == float64:
        return
    largest = float(np.finfo(dtype).max)
    for x in numbers:
        if isinstance(x, float | int | np.number) and not isinstance(x, bool | np.bool_):
            if math.isfinite(x) and abs(x) > largest:
                raise TinyLMError(
                    f"{op}: value {x} cannot be converted to {dtype} without overflow"
                )


def array_from_python(data: Any, dtype: Any, xp: ModuleType) -> Any:
    """Convert Python numbers / nested lists to an array with PyTorch's default dtypes."""
    try:
        array = np.asarray(data)
    except ValueError:  # numpy >= 1.24 refuses ragged nested lists outright
        array = np.empty(0, dtype=object)
    if array.dtype == object or array.dtype.kind in "USV":  # also strings, bytes, records
        raise TinyLMError("tensor: could not build a tensor from ragged or non-numeric data")
    if dtype is None and isinstance(data, list | tuple):
        dtype = _sequence_dtype(data)  # None unless the sequence holds numpy scalars
    with np.errstate(all="ignore"):  # 1e300 → inf in float32, silent as PyTorch
        if dtype is not None:
            check_numbers_fit("tensor", array, np.dtype(dtype))
            array = array.astype(dtype)
        elif is_floating_point(array.dtype):
            array = array.astype(_default_dtype)
        elif np.issubdtype(array.dtype, np.integer):
            array = array.astype(int64)
    return array if xp is np else xp.asarray(array)


def _sequence_dtype(data: Any) -> Any:
    """PyTorch's dtype for a (nested) list that holds numpy scalars, else None.

    Each element has a type of its own — a Python float the default float dtype, a Python
    int int64, a bool bool, a numpy scalar its own dtype — and the list takes the widest of
    the highest kind present (float over int over bool), so ``[np.float64(0.3)]`` is float64
    and ``[np.int32(3), 1.5]`` float32. (NumPy alone would make int64 with float32 float64.)
    """
    items = list(_flat(data))
    if not any(isinstance(d, np.generic) for d in items):
        return None
    kinds: dict[str, list[Any]] = {"f": [], "i": [], "b": []}
    for d in items:
        if isinstance(d, np.generic):
            dt = d.dtype
        elif isinstance(d, builtins.bool):
            dt = np.dtype(bool)
        elif isinstance(d, int):
            dt = np.dtype(int64)
        elif isinstance(d, float):
            dt = np.dtype(_default_dtype)
        else:
            return None  # complex or anything else: numpy's own inference
        kind = {"f": "f", "i": "i", "u": "i", "b": "b"}.get(dt.kind)  # unsigned counts as int
        if kind is None:
            return None
        kinds[kind].append(dt)
    for kind in ("f", "i", "b"):
        if kinds[kind]:
            return np.result_type(*kinds[kind])
    return None


def _flat(data: Any) -> Iterator[Any]:
    for d in data:
        if isinstance(d, list | tuple):
            yield from _flat(d)
        else:
            yield d
