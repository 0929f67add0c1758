"""Creating tensors (PyTorch's names and signatures) and functions of several tensors.

``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``linspace``, ``eye``, the random
``randn``, ``rand``, ``randint``, ``multinomial`` (drawn from :mod:`tinylm.random`'s
generator on the CPU and moved to their device, so a seed gives the same numbers
everywhere), the ``*_like`` forms,
and ``cat``/``concat``, ``stack``, ``split``, ``where``, ``maximum``, ``minimum``.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinylm import ops
from tinylm.autograd import TinyLMError
from tinylm.devices import Device, array_module, normalize_device, to_device_array
from tinylm.dtypes import (
    bool_,
    check_float_fits,
    get_default_dtype,
    int64,
    promote_types,
    result_type,
)
from tinylm.kernels.parallel import copy_array
from tinylm.memory_formats import empty_preserving, numpy_order, preserve_format
from tinylm.random import Generator, default_generator
from tinylm.sampling import multinomial_indices
from tinylm.scalar_writes import number_into
from tinylm.tensor import Tensor
from tinylm.tensor_math import as_operand, check_fits, condition_array, shape_from_args

__all__ = [
    "arange",
    "empty_like",
    "relaid",
    "as_tensor",
    "bernoulli",
    "cat",
    "concat",
    "empty",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "maximum",
    "minimum",
    "multinomial",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "randperm",
    "split",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
]


def _float_dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def _finish(array: Any, device: Device | None, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(to_device_array(array, normalize_device(device)))
    t.requires_grad = requires_grad
    return t


def tensor(
    data: Any, *, dtype: Any = None, device: Device | None = None, requires_grad: bool = False
) -> Tensor:
    """Create a tensor from data (lists, numbers, arrays). Always copies."""
    if type(data) is np.ndarray and data.dtype.kind in "biuf" and dtype is None and device is None:
        # the common case (a NumPy array of numbers, as it is), without Tensor()'s conversions
        t = Tensor._wrap(copy_array(data))  # all threads copy a large array
        if requires_grad:
            t.requires_grad = True  # checks the dtype
        return t
    if hasattr(data, "shape") and not isinstance(data, Tensor):
        data = array_module(data).array(data, copy=True)
    elif isinstance(data, Tensor):
        data = data._xp.array(data.data, copy=True)
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _size(op: str, shape: tuple[Any, ...], size: Any) -> tuple[int, ...]:
    """The extents given as ``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))``, checked."""
    if size is not None:
        if shape:
            raise TypeError(f"{op}: give the size once, positionally or as size=")
        shape = (size,)
    extents = shape_from_args(shape, op)
    if any(n < 0 for n in extents):
        raise TinyLMError(f"{op}: sizes must be non-negative, got {extents}")
    return extents


def zeros(
    *shape: Any,
    size: Any = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad=False,
) -> Tensor:
    """A tensor of zeros with the given shape."""
    extents = _size("zeros", shape, size)
    return _finish(np.zeros(extents, _float_dtype(dtype)), device, requires_grad)


def ones(
    *shape: Any,
    size: Any = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad=False,
) -> Tensor:
    """A tensor of ones with the given shape."""
    extents = _size("ones", shape, size)
    return _finish(np.ones(extents, _float_dtype(dtype)), device, requires_grad)


def empty(
    *shape: Any,
    size: Any = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad=False,
) -> Tensor:
    extents = _size("empty", shape, size)
    return zeros(extents, dtype=dtype, device=device, requires_grad=requires_grad)


def full(
    size: Sequence[int],
    fill_value: float,
    *,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A tensor of the given shape filled with ``fill_value``."""
    if isinstance(size, int | np.integer):  # PyTorch wants a sequence here too
        raise TypeError(f"full: size must be a tuple of ints, e.g. ({size},), got {size!r}")
    if dtype is None:
        dtype = (
            bool_
            if isinstance(fill_value, builtins.bool)
            else (int64 if isinstance(fill_value, int) else get_default_dtype())
        )
    check_float_fits("full", dtype, fill_value)  # refused, as PyTorch, not inf
    value = number_into("full", fill_value, dtype)
    return _finish(np.full(_size("full", (), size), value, dtype), device, requires_grad)


def arange(
    start: float = 0,
    end: float | None = None,
    step: float = 1,
    *,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values in [start, end): int64 for integer arguments, else float.
    0-d tensors count as their numbers (``arange(tensor(3))`` is int64, as in PyTorch)."""
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    if step == 0:
        raise TinyLMError("arange: step must be nonzero")
    if (end - start) * step < 0:  # PyTorch refuses where NumPy gives an empty range
        raise TinyLMError(
            f"arange: upper bound and lower bound inconsistent with step sign: start {start}, "
            f"end {end}, step {step}"
        )
    if dtype is None:
        all_int = all(isinstance(v, int | np.integer) for v in (start, end, step))
        dtype = int64 if all_int else get_default_dtype()
    return _finish(np.arange(start, end, step, dtype=dtype), device, requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device=None) -> Tensor:
    check_float_fits("linspace", _float_dtype(dtype), start, end)  # as PyTorch, not inf
    return _finish(np.linspace(start, end, steps, dtype=_float_dtype(dtype)), device, False)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Device | None = None) -> Tensor:
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), device, False)


def randn(
    *shape: Any,
    size: Any = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Samples from the standard normal distribution N(0, 1)."""
    gen = generator or default_generator
    values = gen.numpy.standard_normal(_size("randn", shape, size)).astype(_float_dtype(dtype))
    return _finish(values, device, requires_grad)


def rand(
    *shape: Any,
    size: Any = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Samples from the uniform distribution on [0, 1)."""
    gen = generator or default_generator
    values = gen.numpy.random(_size("rand", shape, size)).astype(_float_dtype(dtype))
    return _finish(values, device, requires_grad)


def randint(
    *bounds: int,
    low: int | None = None,
    high: int | None = None,
    size: Sequence[int] | None = None,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Random integers in [low, high), PyTorch's two forms: ``randint(high, size)`` and
    ``randint(low, high, size)`` (low 0 in the first); int64 unless ``dtype`` says otherwise.

    The size is the last positional argument unless given as ``size=``: nanoGPT's
    ``randint(len(data) - block_size, (batch_size,))`` draws ``batch_size`` offsets."""
    bounds_list = list(bounds)
    if size is None:
        if not bounds_list or isinstance(bounds_list[-1], int | np.integer):
            raise TypeError(
                "randint: need a size, as randint(high, size) or randint(low, high, size), "
                "e.g. randint(10, (3,))"
            )
        size = bounds_list.pop()
    if len(bounds_list) == 2 and low is None and high is None:
        low, high = bounds_list
    elif len(bounds_list) == 1 and high is None:
        high = bounds_list[0]
    elif bounds_list or high is None:
        raise TypeError(
            f"randint: give high, or low and high, once each (got {len(bounds)} positional "
            f"arguments, low={low!r}, high={high!r})"
        )
    low = 0 if low is None else int(low)
    if int(high) <= low:
        raise TinyLMError(f"randint: need low < high, got low {low} and high {high}")
    gen = generator or default_generator
    values = gen.numpy.integers(low, int(high), size=_size("randint", (), size)).astype(
        dtype or int64
    )
    return _finish(values, device, requires_grad)


def multinomial(
    input: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Draw category indices with probabilities proportional to the weights in each row.

    Args:
        input: weights (C,) or (N, C), ≥ 0 and finite, not all 0 in a row; they need not sum
            to 1 (``softmax`` output, counts, …).
        num_samples: draws per row; without ``replacement`` at most the number of non-zero
            weights in a row (a category once drawn is out).
        replacement: draw with replacement.
    Returns:
        int64 indices (num_samples,) or (N, num_samples), on ``input``'s device.
    """
    w = input.detach().numpy() if isinstance(input, Tensor) else np.asarray(input, float)
    out = multinomial_indices(w, num_samples, replacement, generator)
    return _finish(out, input.device if isinstance(input, Tensor) else None, False)


def randperm(
    n: int,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Device | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0 … n−1 (int64 unless ``dtype`` says otherwise), drawn from
    the generator as ``randint`` is: shuffle a dataset's indices with ``x[randperm(len(x))]``."""
    if isinstance(n, builtins.bool) or not isinstance(n, int | np.integer) or n < 0:
        raise TinyLMError(f"randperm: n must be a non-negative int, got {n!r}")
    values = (generator or default_generator).numpy.permutation(int(n)).astype(dtype or int64)
    return _finish(values, device, requires_grad)


def bernoulli(input: Tensor, p: Any = None, *, generator: Generator | None = None) -> Tensor:
    """1 with probability ``input[i]`` (or ``p``), else 0, in ``input``'s dtype (see
    :meth:`Tensor.bernoulli`)."""
    return input.bernoulli(p, generator=generator)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor that shares ``ndarray``'s memory, as ``torch.from_numpy``: a change to
    either is seen in the other. Arrays of bools, integers and floats, in native byte order."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(
            f"from_numpy: cannot convert an array of dtype {ndarray.dtype}; the supported "
            "kinds are bool, integers and floats"
        )
    if not ndarray.dtype.isnative:
        raise TinyLMError(
            f"from_numpy: the array's byte order ({ndarray.dtype.str}) is not this machine's; "
            "convert it first with ndarray.astype(ndarray.dtype.newbyteorder('='))"
        )
    return Tensor._wrap(ndarray)


def as_tensor(data: Any, dtype: Any = None, device: Device | None = None) -> Tensor:
    """``data`` as a tensor, sharing memory where it can, as ``torch.as_tensor``: a tensor
    already of this dtype and device is returned itself (else converted, differentiably);
    a NumPy array of this dtype stays shared (:func:`from_numpy`); anything else is copied."""
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if (
        isinstance(data, np.ndarray)
        and (dtype is None or np.dtype(dtype) == data.dtype)
        and normalize_device(device).type == "cpu"
    ):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def _like(t: Tensor, dtype: Any, device: Any) -> tuple[Any, Any]:
    return (dtype if dtype is not None else t.dtype), (device if device is not None else t.device)


def _filled_like(
    op: str, input: Tensor, value: Any, dtype: Any, device: Any, requires_grad: bool, fmt: Any
) -> Tensor:
    """``value`` in ``input``'s shape, in ``dtype`` and on ``device`` (``input``'s unless
    given): in C order (``contiguous_format``) or laid out as ``input`` is
    (``preserve_format``, PyTorch's default: ``zeros_like(x.t())`` is transposed too; see
    ``memory_formats.empty_preserving``). What zeros_like … empty_like share."""
    dtype, device = _like(input, dtype, device)
    value = number_into(op, value, dtype)
    xp = array_module(input.data)
    if numpy_order(op, fmt) == "C" or input.data.flags.c_contiguous:
        # zeros from calloc's fresh pages
        array = xp.full(input.shape, value, dtype) if value else xp.zeros(input.shape, dtype)
    else:
        array = empty_preserving(input.data, dtype)
        array.fill(value)
    return _finish(array, device, requires_grad)


def zeros_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device=None,
    requires_grad=False,
    memory_format: Any = preserve_format,
) -> Tensor:
    """Zeros of ``input``'s shape and layout, in its dtype and on its device unless given."""
    return _filled_like("zeros_like", input, 0, dtype, device, requires_grad, memory_format)


def ones_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device=None,
    requires_grad=False,
    memory_format: Any = preserve_format,
) -> Tensor:
    """Ones of ``input``'s shape and layout, in its dtype and on its device unless given."""
    return _filled_like("ones_like", input, 1, dtype, device, requires_grad, memory_format)


def full_like(
    input: Tensor,
    fill_value: float,
    *,
    dtype: Any = None,
    device=None,
    requires_grad=False,
    memory_format: Any = preserve_format,
):
    """``fill_value`` in ``input``'s shape and layout, its dtype and device unless given."""
    return _filled_like("full_like", input, fill_value, dtype, device, requires_grad, memory_format)


def empty_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device=None,
    requires_grad=False,
    memory_format: Any = preserve_format,
) -> Tensor:
    """A tensor of ``input``'s shape and layout, its dtype and device unless given, as
    ``zeros_like``. PyTorch leaves its values unset; tinylm fills it with zeros (never read
    them)."""
    return _filled_like("empty_like", input, 0, dtype, device, requires_grad, memory_format)


def relaid(op: str, input: Tensor, t: Tensor, memory_format: Any) -> Tensor:
    """``t`` (``input``'s shape, C order, fresh) in the layout ``memory_format`` asks for:
    itself, or a copy laid out as ``input`` (the random ``*_like`` creators)."""
    if numpy_order(op, memory_format) == "C" or input.data.flags.c_contiguous:
        return t
    array = empty_preserving(input.data, t.dtype)
    array = to_device_array(array, t.device)
    array[...] = t.data
    return _finish(array, t.device, t.requires_grad)


def randn_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device=None,
    requires_grad=False,
    generator=None,
    memory_format: Any = preserve_format,
):
    """Standard normal draws in ``input``'s shape and layout (dtype, device unless given)."""
    dtype, device = _like(input, dtype, device)
    t = randn(
        *input.shape, dtype=dtype, device=device, requires_grad=requires_grad, generator=generator
    )
    return relaid("randn_like", input, t, memory_format)


def rand_like(
    input: Tensor,
    *,
    dtype: Any = None,
    device=None,
    requires_grad=False,
    generator=None,
    memory_format: Any = preserve_format,
):
    """Uniform [0, 1) draws in ``input``'s shape and layout (dtype, device unless given)."""
    dtype, device = _like(input, dtype, device)
    t = rand(
        *input.shape, dtype=dtype, device=device, requires_grad=requires_grad, generator=generator
    )
    return relaid("rand_like", input, t, memory_format)


# ---------------------------------------------------------------------------------------
# Functions of several tensors
# ---------------------------------------------------------------------------------------


def concat(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``torch.cat``), in their promoted dtype
    (int64 with float32 is float32)."""
    return ops.Concat.apply(*_promoted("concat", tensors), axis=dim if axis is None else axis)


cat = concat


def stack(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors of equal shape along a new axis, in their promoted dtype."""
    return ops.Stack.apply(*_promoted("stack", tensors), axis=dim if axis is None else axis)


def _promoted(op: str, tensors: Sequence[Any]) -> list[Tensor]:
    """The tensors of a list, converted to the dtype they promote to together. Every one
    counts as a dimensioned tensor (PyTorch joins 0-d tensors as 1-element ones)."""
    tensors = list(tensors)
    if not tensors:
        raise TinyLMError(f"{op}: needs at least one tensor")
    tensors = [as_operand(t, tensors[0]) for t in tensors]
    dtype = functools.reduce(promote_types, [t.dtype for t in tensors])
    return [t.to(dtype) for t in tensors]


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``tensor`` along ``dim`` into pieces of a given size (int) or sizes (list), like
    PyTorch (see :meth:`Tensor.split`)."""
    return tensor.split(split_size_or_sections, dim)


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """Elementwise ``input if condition else other``; differentiable in input and other.
    The result has the dtype ``input`` and ``other`` promote to (``tinylm.result_type``).
    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``, as in PyTorch."""
    if input is None and other is None:
        cond = condition if isinstance(condition, Tensor) else Tensor(condition)
        return cond.nonzero(as_tuple=True)
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither")
    cond = condition_array("where", condition)
    ref = input if isinstance(input, Tensor) else other
    if not isinstance(ref, Tensor):
        ref = Tensor(input)
    dtype = result_type(input, other)
    check_fits("where", dtype, input, other)
    if hasattr(input, "shape") and hasattr(other, "shape"):
        ops.check_broadcast("where", input, other)  # before the casts: names their dtypes
    a, b = as_operand(input, ref, dtype), as_operand(other, ref, dtype)
    return ops.Where.apply(a, b, cond=cond)


def maximum(input: Tensor, other: Any) -> Tensor:
    """The element-wise maximum, in the promoted dtype."""
    ref = input if isinstance(input, Tensor) else other
    return ref._binary(ops.Maximum, input, other)


def minimum(input: Tensor, other: Any) -> Tensor:
    """The element-wise minimum, in the promoted dtype."""
    ref = input if isinstance(input, Tensor) else other
    return ref._binary(ops.Minimum, input, other)
