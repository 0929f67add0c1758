"""A test factory: one declaration per op gives it a whole battery of tests.

Declare an op by what it computes (a tinylm function and a numpy reference) and what
inputs it accepts; subclass :class:`OpTests` and pytest collects the battery::

    class TestExp(OpTests):
        spec = OpSpec(
            name="exp",
            fn=lambda x: x.exp(),
            reference=np.exp,
            inputs=[dict(min_value=-5, max_value=5)],
        )

The battery, for hypothesis-drawn inputs (float64, broadcastable shapes, non-contiguous
layouts):

* ``test_forward_matches_reference`` — the output equals the numpy reference;
* ``test_float32_forward`` — float32 in gives float32 out, close to the reference;
* ``test_gradcheck`` — backward agrees with finite differences (random upstream gradient);
* ``test_inputs_not_mutated`` — forward and backward leave the inputs' values alone;
* ``test_grad_does_not_alias`` — no ``.grad`` shares memory with an input, output or other grad;
* ``test_graph_freed`` — a second backward through the same graph raises a clear error;
* ``test_any_upstream_gradient`` — backward takes the upstream gradient in any layout:
  read-only, broadcast (zero strides), transposed, strided, and float64 into the op run in
  float32, giving the gradients of a fresh contiguous array with the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinylm.tensor import Tensor
from tinylm.testing import strategies as st_tl
from tinylm.testing.gradcheck import gradcheck

__all__ = ["OpSpec", "OpTests"]


@dataclass
class OpSpec:
    """What an op computes and which inputs it accepts.

    Attributes:
        name: for messages.
        fn: the tinylm function, taking Tensors (and ``**kwargs``) and returning a Tensor.
        reference: numpy function taking arrays (and the same ``**kwargs``).
        inputs: one dict of :func:`tinylm.testing.strategies.arrays` keyword arguments per
            input (value bounds, ``unique=True``…). Shapes come from ``shapes``.
        shapes: strategy for the tuple of input shapes; default: mutually broadcastable
            shapes, one per input.
        kwargs: strategy for extra keyword arguments of fn/reference (e.g. an axis); it may
            be a function of the drawn shapes.
        differentiable: the inputs that get gradients (default: all).
        atol, rtol: tolerances of the float64 forward comparison.
        grad_atol, grad_rtol: gradcheck tolerances.
    """

    name: str
    fn: Callable[..., Tensor]
    reference: Callable[..., Any]
    inputs: Sequence[dict[str, Any]] = (dict(),)
    shapes: Any = None
    kwargs: Any = None
    differentiable: Sequence[int] | None = None
    atol: float = 1e-12
    rtol: float = 1e-10
    grad_atol: float = 1e-6
    grad_rtol: float = 1e-4
    extra: dict[str, Any] = field(default_factory=dict)

    def shape_strategy(self) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
        if self.shapes is not None:
            return self.shapes
        return st_tl.broadcastable_shapes(num_shapes=len(self.inputs), max_dims=3, max_side=4)

    def kwargs_strategy(self, shapes: tuple[tuple[int, ...], ...]) -> st.SearchStrategy[dict]:
        if self.kwargs is None:
            return st.just({})
        if callable(self.kwargs) and not isinstance(self.kwargs, st.SearchStrategy):
            return self.kwargs(shapes)
        return self.kwargs


@st.composite
def _case(draw: Any, spec: OpSpec, dtype: Any = np.float64) -> tuple[list[np.ndarray], dict]:
    shapes = draw(spec.shape_strategy())
    arrays = [
        draw(st_tl.arrays(shape=s, dtype=dtype, **opts)) for s, opts in zip(shapes, spec.inputs)
    ]
    kwargs = draw(spec.kwargs_strategy(shapes))
    return arrays, kwargs


def _leaves(spec: OpSpec, arrays: list[np.ndarray]) -> list[Tensor]:
    grads = range(len(arrays)) if spec.differentiable is None else spec.differentiable
    return [Tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]


class OpTests:
    """Base class: subclass it as ``TestSomething`` and set ``spec``.

    Each subclass gets its own copy of every test (hypothesis requires a test function to
    belong to one class only).
    """

    spec: ClassVar[OpSpec]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, check, dtype in _BATTERY:
            setattr(cls, name, _make_test(check, dtype))


def _make_test(check: Callable[..., None], dtype: Any) -> Callable[..., None]:
    @given(data=st.data())
    def test(self: OpTests, data: Any) -> None:
        arrays, kwargs = data.draw(_case(self.spec, dtype), label="inputs")
        check(self.spec, data, arrays, kwargs)

    test.__doc__ = check.__doc__
    return test


def _check_forward(spec: OpSpec, data: Any, arrays: list[np.ndarray], kwargs: dict) -> None:
    """The float64 output equals the numpy reference."""
    out = spec.fn(*[Tensor(a) for a in arrays], **kwargs)
    expected = spec.reference(*arrays, **kwargs)
    assert out.shape == np.shape(expected), f"{spec.name}: shape {out.shape}"
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=spec.atol, rtol=spec.rtol)


def _check_float32(spec: OpSpec, data: Any, arrays: list[np.ndarray], kwargs: dict) -> None:
    """float32 in gives float32 out, close to the float64 reference."""
    out = spec.fn(*[Tensor(a) for a in arrays], **kwargs)
    if np.issubdtype(out.dtype, np.floating):
        assert out.dtype == np.float32, f"{spec.name}: float32 in, {out.dtype} out"
    expected = spec.reference(*[a.astype(np.float64) for a in arrays], **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-4, rtol=1e-4)


def _check_gradcheck(spec: OpSpec, data: Any, arrays: list[np.ndarray], kwargs: dict) -> None:
    """Backward agrees with central finite differences for a random upstream gradient."""
    gradcheck(
        lambda *xs: spec.fn(*xs, **kwargs),
        _leaves(spec, arrays),
        atol=spec.grad_atol,
        rtol=spec.grad_rtol,
        seed=data.draw(st.integers(0, 2**31 - 1), label="seed"),
    )


def _check_not_mutated(spec: OpSpec, data: Any, arrays: list[np.ndarray], kwargs: dict) -> None:
    """Forward and backward leave the inputs' values alone."""
    before = [a.copy() for a in arrays]
    out = spec.fn(*_leaves(spec, arrays), **kwargs)
    out.backward(np.random.default_rng(0).standard_normal(out.shape))
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{spec.name} mutated an input")


def _check_no_alias(spec: OpSpec, data: Any, arrays: list[np.ndarray], kwargs: dict) -> None:
    """No .grad shares memory with an input, the output or another .grad."""
    leaves = _leaves(spec, arrays)
    out = spec.fn(*leaves, **kwargs)
    out.backward(np.random.default_rng(1).standard_normal(out.shape))
    grads = [t.grad.data for t in leaves if t.grad is not None]
    others = [t.data for t in leaves] + [out.data]
    for i, g in enumerate(grads):
        for o in others + grads[:i]:
            assert not np.shares_memory(g, o), f"{spec.name}: .grad aliases another array"


def _check_graph_freed(spec: OpSpec, data: Any, arrays: list[np.ndarray], kwargs: dict) -> None:
    """A second backward through the same graph raises a clear error."""
    out = spec.fn(*_leaves(spec, arrays), **kwargs)
    upstream = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(upstream)
    if out.grad_fn is None:  # the op returned its input unchanged: there is no graph
        return
    with pytest.raises(RuntimeError, match="already freed"):
        out.backward(upstream)


def _grads(spec: OpSpec, arrays: list[np.ndarray], kwargs: dict, upstream: Any) -> list[Any]:
    """The inputs' gradients for ``upstream`` as dL/d(output) (None where there is none)."""
    leaves = _leaves(spec, arrays)
    spec.fn(*leaves, **kwargs).backward(upstream)
    return [None if t.grad is None else t.grad.detach().numpy() for t in leaves]


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def _check_any_upstream(spec: OpSpec, data: Any, arrays: list[np.ndarray], kwargs: dict) -> None:
    """Backward takes the upstream gradient in any layout (read-only, broadcast, transposed,
    strided; float64 into the op run in float32), with the gradients of a contiguous copy.

    The layouts of real upstream gradients: ``x.sum()`` hands its input a read-only view
    with all strides 0, a transpose hands on a transposed view; a user may pass float64.
    """
    shape = spec.fn(*[Tensor(a) for a in arrays], **kwargs).shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    kept = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    u = rng.standard_normal(shape)
    small = rng.standard_normal([n if k else 1 for n, k in zip(shape, kept)])
    layouts = {
        "read-only": _read_only(u),
        "broadcast": np.broadcast_to(small, shape),
        "transposed": np.asfortranarray(u) if u.ndim else u,  # (asfortranarray: 0-d -> 1-d)
        "strided": st_tl.noncontiguous(u, "strided"),
    }
    for layout, g in layouts.items():
        want = _grads(spec, arrays, kwargs, np.array(g))  # the same values, contiguous
        got = _grads(spec, arrays, kwargs, g)
        for i, (a, b) in enumerate(zip(got, want)):
            if b is not None:
                message = f"{spec.name}: {layout} upstream, input {i}"
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=message)
    arrays32 = [a.astype(np.float32) for a in arrays]
    want = _grads(spec, arrays32, kwargs, u.astype(np.float32))
    got = _grads(spec, arrays32, kwargs, u)  # float64 into float32, as PyTorch allows
    for i, (a, b) in enumerate(zip(got, want)):
        if b is not None:
            assert a.dtype == np.float32, f"{spec.name}: float64 upstream gave a {a.dtype} grad"
            np.testing.assert_array_equal(a, b, err_msg=f"{spec.name}: float64 upstream, input {i}")


_BATTERY = [
    ("test_forward_matches_reference", _check_forward, np.float64),
    ("test_float32_forward", _check_float32, np.float32),
    ("test_gradcheck", _check_gradcheck, np.float64),
    ("test_inputs_not_mutated", _check_not_mutated, np.float64),
    ("test_grad_does_not_alias", _check_no_alias, np.float64),
    ("test_graph_freed", _check_graph_freed, np.float64),
    ("test_any_upstream_gradient", _check_any_upstream, np.float64),
]
