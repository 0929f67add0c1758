"""Hypothesis strategies for property-testing tensor ops.

Examples::

    from hypothesis import given
    from tinylm.testing import strategies as st_tl

    @given(st_tl.arrays(shape=st_tl.shapes(max_dims=3), min_value=0.1, max_value=10))
    def test_log_is_finite(x): ...

    @given(st_tl.broadcastable_shapes(num_shapes=2))
    def test_add_broadcasts(shapes): a_shape, b_shape = shapes ...

``arrays`` can also hand out *non-contiguous* views (a transposed or strided window into a
larger buffer) with the same values, because ops must not assume C-contiguous inputs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinylm.tensor import Tensor

__all__ = [
    "arrays",
    "broadcastable_shapes",
    "layouts",
    "matmul_shapes",
    "noncontiguous",
    "register_profiles",
    "shapes",
    "tensors",
]


def shapes(
    min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5
) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, e.g. (), (3,), (2, 1, 4)."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    num_shapes: int = 2,
    min_dims: int = 0,
    max_dims: int = 4,
    min_side: int = 1,
    max_side: int = 5,
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """A tuple of ``num_shapes`` shapes that broadcast together (leading and size-1 axes)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes,
        min_dims=min_dims,
        max_dims=max_dims,
        min_side=min_side,
        max_side=max_side,
    ).map(lambda b: tuple(b.input_shapes))


@st.composite
def matmul_shapes(
    draw: Any, max_batch_dims: int = 2, max_side: int = 5, allow_1d: bool = True
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A pair of shapes valid for ``a @ b``: (…, n, k) and (…, k, m) with broadcastable
    batch dims, or 1-D vectors on either side."""
    n, k, m = (draw(st.integers(1, max_side)) for _ in range(3))
    batch_a, batch_b = draw(
        hnp.mutually_broadcastable_shapes(
            num_shapes=2, min_dims=0, max_dims=max_batch_dims, max_side=3
        )
    ).input_shapes
    a_shape = tuple(batch_a) + (n, k)
    b_shape = tuple(batch_b) + (k, m)
    if allow_1d and draw(st.booleans()) and draw(st.booleans()):
        a_shape = (k,)
    if allow_1d and draw(st.booleans()) and draw(st.booleans()):
        b_shape = (k,)
    return a_shape, b_shape


def layouts() -> st.SearchStrategy[str]:
    """How an array is laid out in memory: "C" (contiguous), "F" (transposed), "strided"."""
    return st.sampled_from(["C", "F", "strided"])


def noncontiguous(array: np.ndarray, layout: str) -> np.ndarray:
    """The same values as ``array`` in another memory layout (a view, not a copy).

    * "F": Fortran order, i.e. a transposed view of a C-ordered buffer;
    * "strided": every other element of a buffer twice as long in the last axis.
    """
    if array.ndim == 0:
        # (not np.ascontiguousarray: it turns a 0-d array into shape (1,))
        return np.array(array)
    if layout == "C":
        return np.ascontiguousarray(array)
    if layout == "F":
        return np.asfortranarray(array)
    if layout == "strided":
        buffer = np.full(array.shape[:-1] + (2 * array.shape[-1],), np.nan, dtype=array.dtype)
        view = buffer[..., ::2]
        view[...] = array
        return view
    raise ValueError(f"unknown layout {layout!r}")


@st.composite
def arrays(
    draw: Any,
    shape: Any = None,
    dtype: Any = np.float64,
    min_value: float = -10.0,
    max_value: float = 10.0,
    exclude_min: bool = False,
    exclude_max: bool = False,
    layout: Any = None,
    unique: bool = False,
    elements: st.SearchStrategy[float] | None = None,
) -> np.ndarray:
    """Finite float arrays with values in [min_value, max_value].

    Args:
        shape: a tuple, or a strategy for one (default: ``shapes()``).
        dtype: float64 by default (what gradcheck needs).
        min_value, max_value: per-op bounds (e.g. > 0 for ``log``).
        layout: "C", "F", "strided", or None to draw one with :func:`layouts`.
        unique: all elements distinct (ops like ``max`` have no gradient at ties).
        elements: a strategy for the values, replacing min/max_value, for bounds that one
            interval cannot express: values away from a kink (``relu`` at 0), or from two
            disjoint grids so that ``maximum(a, b)`` never meets a tie. Its values must be
            exactly representable in ``dtype`` (draw them with ``width=32``).
    """
    if shape is None:
        shape = shapes()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    width = 32 if np.dtype(dtype) == np.float32 else 64
    if elements is None:
        if width == 32:
            # hypothesis wants float32 bounds exactly representable (0.1 is not): round them
            # inward, so the values still respect the op's bounds.
            min_value, max_value = _float32_inside(min_value, max_value)
        elements = st.floats(
            min_value=min_value,
            max_value=max_value,
            exclude_min=exclude_min,
            exclude_max=exclude_max,
            allow_nan=False,
            allow_infinity=False,
            allow_subnormal=False,
            width=width,
        )
    values = draw(hnp.arrays(dtype, shape, elements=elements, unique=unique))
    chosen = layout if layout is not None else draw(layouts())
    return noncontiguous(values, chosen)


def _float32_inside(lo: float, hi: float) -> tuple[float, float]:
    """The float32 bounds nearest to [lo, hi] that lie inside it."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    # compare as float64: next to a float32, numpy would round the Python float to float32
    if float(lo32) < lo:
        lo32 = np.nextafter(lo32, np.float32(np.inf))
    if float(hi32) > hi:
        hi32 = np.nextafter(hi32, np.float32(-np.inf))
    return float(lo32), float(hi32)


@st.composite
def tensors(draw: Any, requires_grad: bool = True, **array_kwargs: Any) -> Tensor:
    """Tensors wrapping :func:`arrays` (same keyword arguments)."""
    return Tensor(draw(arrays(**array_kwargs)), requires_grad=requires_grad)


def register_profiles() -> None:
    """Register hypothesis profiles and load the one named by ``HYPOTHESIS_PROFILE``.

    * ``dev`` (default): 30 examples, no deadline;
    * ``ci``: 20 examples, derandomized so CI runs are reproducible;
    * ``thorough``: 300 examples, for a long local run.
    """
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=30, **common)
    settings.register_profile("ci", max_examples=20, derandomize=True, print_blob=True, **common)
    settings.register_profile("thorough", max_examples=300, **common)
    default = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))
