"""The backward engine (tinylm.autograd): the bookkeeping every op relies on.

Un-broadcasting and its shape check, the iterative topological sort, accumulation into
leaves, freeing the graph, grad mode (no_grad / enable_grad), the error for an implicit
gradient of a non-scalar, in-place-modification checks, shared subexpressions,
retain_grad and detach.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinylm
from tinylm.autograd import Function, unbroadcast
from tinylm.testing import gradcheck
from tinylm.testing import strategies as st_tl

RNG = np.random.default_rng(1234)


def leaf(*shape: int, dtype: Any = tinylm.float64) -> tinylm.Tensor:
    return tinylm.Tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


def upstream(shape: tuple[int, ...]) -> np.ndarray:
    """A random upstream gradient: with all ones, a wrong (e.g. transposed) gradient can
    still sum to the right number."""
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------------------------------
# Un-broadcasting
# ---------------------------------------------------------------------------------------


def numpy_unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Independent oracle: sum g over every axis that broadcasting created or stretched."""
    lead = g.ndim - len(shape)
    padded = (1,) * lead + tuple(shape)
    axes = tuple(i for i, n in enumerate(padded) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


@given(shapes=st_tl.broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4), data=st.data())
def test_broadcast_gradients_are_summed_back(shapes: Any, data: Any) -> None:
    """a (3, 1) + b (2, 3, 4): a gets the upstream summed over the leading axis and the
    stretched last axis; b over nothing. Checked against an independent numpy sum."""
    a = tinylm.Tensor(data.draw(st_tl.arrays(shape=shapes[0])), requires_grad=True)
    b = tinylm.Tensor(data.draw(st_tl.arrays(shape=shapes[1])), requires_grad=True)
    out = a * 1.0 + b
    g = upstream(out.shape)
    out.backward(g)
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    np.testing.assert_allclose(a.grad.numpy(), numpy_unbroadcast(g, a.shape), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), numpy_unbroadcast(g, b.shape), rtol=1e-12)


def test_unbroadcast_leading_and_size_one_axes() -> None:
    g = upstream((2, 3, 4))
    np.testing.assert_allclose(unbroadcast(g, (3, 1)), g.sum(axis=0).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(unbroadcast(g, (4,)), g.sum(axis=(0, 1)))
    np.testing.assert_allclose(unbroadcast(g, (1, 3, 1)), g.sum(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(unbroadcast(g, ()), g.sum())
    assert unbroadcast(g, (2, 3, 4)) is g  # nothing to do: no copy


class _TransposedGrad(Function):
    """y = 2x, with a deliberately wrong backward that returns the gradient transposed."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return 2 * g.T


class _FlattenedGrad(Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return 2 * g.reshape(-1)


class _TooFewGrads(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g  # one gradient for two inputs


def test_engine_asserts_each_gradient_shape() -> None:
    x = leaf(3, 4)
    with pytest.raises(RuntimeError, match=r"_TransposedGrad.*\(4, 3\).*input 0.*\(3, 4\)"):
        _TransposedGrad.apply(x).backward(upstream((3, 4)))
    x = leaf(3, 4)
    with pytest.raises(RuntimeError, match=r"_FlattenedGrad.*\(12,\).*\(3, 4\)"):
        _FlattenedGrad.apply(x).backward(upstream((3, 4)))
    a, b = leaf(3), leaf(3)
    with pytest.raises(RuntimeError, match="returned 1 gradients for 2 inputs"):
        _TooFewGrads.apply(a, b).sum().backward()


def test_square_transposed_gradient_is_not_caught_by_shape_but_by_gradcheck() -> None:
    """For a square input the shape check cannot see the bug; gradcheck must."""
    x = leaf(3, 3)
    from tinylm.testing import GradcheckError

    with pytest.raises(GradcheckError):
        gradcheck(lambda t: _TransposedGrad.apply(t), [x])


# ---------------------------------------------------------------------------------------
# Topological sort: iterative, and correct on shared subgraphs
# ---------------------------------------------------------------------------------------


def test_chain_of_100_000_ops_does_not_hit_the_recursion_limit() -> None:
    """An iterative sort: a 100 000-op chain is 100x deeper than the recursion limit."""
    assert sys.getrecursionlimit() < 100_000
    x = leaf(2)
    y = x
    for _ in range(100_000):
        y = -y  # an even number of negations: dy/dx = +1
    g = upstream((2,))
    y.backward(g, retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), g)
    del y  # dropping the kept graph does not recurse 100 000 deep either


def test_diamond_graph_gets_the_summed_gradient() -> None:
    """x -> a -> (b, c) -> d: both paths through a reach x, and a's gradient is complete
    (both of its consumers done) before a's own backward runs."""
    x = leaf(4)
    a = x * 3.0
    b = a.exp()
    c = a * a
    d = b * c + a
    g = upstream((4,))
    d.backward(g)
    xn = x.detach().numpy()
    an = 3 * xn
    # dd/da = e^a·a² + e^a·2a + 1, then da/dx = 3
    expected = g * (np.exp(an) * an**2 + np.exp(an) * 2 * an + 1) * 3
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    gradcheck(lambda t: (t * 3.0).exp() * (t * 3.0) * (t * 3.0) + t * 3.0, [leaf(4)])


def test_tensor_used_twice_gets_the_sum_of_both_gradients() -> None:
    x = leaf(3, 2)
    y = x * x
    g = upstream((3, 2))
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() * g, rtol=1e-14)
    x2 = leaf(3)
    (x2 + x2 + x2).backward(g[:, 0])
    np.testing.assert_allclose(x2.grad.numpy(), 3 * g[:, 0], rtol=1e-14)


# ---------------------------------------------------------------------------------------
# Accumulation, freeing, retain_graph
# ---------------------------------------------------------------------------------------


def test_leaves_accumulate_across_backward_calls() -> None:
    x = leaf(3)
    g1, g2 = upstream((3,)), upstream((3,))
    (x * 2.0).backward(g1)
    (x.exp()).backward(g2)
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1 + np.exp(x.detach().numpy()) * g2, rtol=1e-14)
    x.zero_grad()
    assert x.grad is None


def test_graph_is_freed_and_second_backward_raises() -> None:
    x = leaf(3)
    y = (x * 2.0).exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already freed.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = leaf(3)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-14)
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_freed_node_drops_saved_arrays() -> None:
    x = leaf(3)
    y = x.exp()
    node = y.grad_fn
    assert node is not None and node.ctx.saved_arrays
    y.sum().backward()
    assert node.freed and node.ctx is None and node.inputs == ()


# ---------------------------------------------------------------------------------------
# Grad mode
# ---------------------------------------------------------------------------------------


def test_no_grad_context_manager_and_nesting_with_enable_grad() -> None:
    x = leaf(2)
    assert tinylm.is_grad_enabled()
    with tinylm.no_grad():
        assert not tinylm.is_grad_enabled()
        y = x * 2.0
        with tinylm.enable_grad():
            assert tinylm.is_grad_enabled()
            z = x * 2.0
            with tinylm.no_grad():
                assert not tinylm.is_grad_enabled()
            assert tinylm.is_grad_enabled()
        assert not tinylm.is_grad_enabled()
    assert tinylm.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_restores_the_mode_after_an_exception() -> None:
    with pytest.raises(KeyError):
        with tinylm.no_grad():
            raise KeyError("boom")
    assert tinylm.is_grad_enabled()


def test_set_grad_enabled() -> None:
    with tinylm.set_grad_enabled(False):
        assert not tinylm.is_grad_enabled()
    with tinylm.set_grad_enabled(True):
        assert tinylm.is_grad_enabled()


@tinylm.no_grad
def _bare(t: tinylm.Tensor) -> tuple[tinylm.Tensor, bool]:
    """Docstring kept by the decorator."""
    return t * 2.0, tinylm.is_grad_enabled()


@tinylm.no_grad()
def _called(t: tinylm.Tensor) -> tuple[tinylm.Tensor, bool]:
    return t * 2.0, tinylm.is_grad_enabled()


class _Model:
    def __init__(self) -> None:
        self.scale = 3.0

    @tinylm.no_grad
    def bare(self, t: tinylm.Tensor) -> tuple[tinylm.Tensor, bool]:
        return t * self.scale, tinylm.is_grad_enabled()

    @tinylm.no_grad()
    def called(self, t: tinylm.Tensor) -> tuple[tinylm.Tensor, bool]:
        return t * self.scale, tinylm.is_grad_enabled()


@pytest.mark.parametrize(
    "fn", [_bare, _called, _Model().bare, _Model().called], ids=["bare", "called", "m", "m()"]
)
def test_no_grad_decorator(fn: Any) -> None:
    x = leaf(2)
    y, enabled = fn(x)
    assert not enabled and not y.requires_grad
    assert tinylm.is_grad_enabled()  # restored after the call


def test_no_grad_decorator_keeps_name_and_doc_and_works_twice() -> None:
    assert _bare.__name__ == "_bare" and "Docstring" in _bare.__doc__
    x = leaf(2)
    _bare(x)
    _Model().bare(x)
    y, enabled = _Model().bare(x)  # a second call still runs without grad
    assert not enabled and not y.requires_grad
    np.testing.assert_allclose(y.detach().numpy(), 3 * x.detach().numpy())


# ---------------------------------------------------------------------------------------
# Implicit gradients
# ---------------------------------------------------------------------------------------


def test_backward_of_non_scalar_needs_a_gradient() -> None:
    x = leaf(2, 3)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"single-element.*\(2, 3\).*gradient="):
        y.backward()
    with pytest.raises(tinylm.TinyLMError, match=r"gradient has shape \(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    y.backward(tinylm.tensor(upstream((2, 3))))  # a Tensor works as the gradient too


def test_backward_of_one_element_tensor_of_any_rank() -> None:
    x = leaf(1, 1)
    (x * 5.0).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[5.0]])


def test_backward_without_graph_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        tinylm.randn(3).sum().backward()
    x = leaf(3)
    with tinylm.no_grad():
        y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


# ---------------------------------------------------------------------------------------
# In-place modification of tensors saved for backward
# ---------------------------------------------------------------------------------------


def test_inplace_change_of_a_saved_input_raises() -> None:
    x = leaf(3)
    a = tinylm.randn(3, dtype=tinylm.float64)
    y = x * a  # Mul saves a for dy/dx = a
    a.add_(1.0)
    with pytest.raises(RuntimeError, match=r"Mul saved for backward was modified in place"):
        y.sum().backward()


def test_inplace_change_of_a_saved_output_raises() -> None:
    x = leaf(3)
    y = x.exp()  # Exp saves its output y for dy/dx = y
    with tinylm.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"Exp saved for backward"):
        y.sum().backward()


def test_inplace_change_through_a_view_raises() -> None:
    x = leaf(3)
    base = tinylm.randn(2, 3, dtype=tinylm.float64)
    row = base[0]  # a view: shares base's memory and version counter
    y = x * row
    base[0] = 7.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()
    x2 = leaf(3)
    y2 = x2 * base
    base.detach().zero_()  # detach shares memory, hence the version counter too
    with pytest.raises(RuntimeError, match="modified in place"):
        y2.sum().backward()


def test_inplace_change_of_a_tensor_backward_does_not_need_is_fine() -> None:
    """Add's gradient does not depend on its inputs' values, so changing them is safe."""
    x = leaf(3)
    a = tinylm.randn(3, dtype=tinylm.float64)
    y = x + a
    a.add_(1.0)
    a.data = a.data * 5
    g = upstream((3,))
    y.backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), g)


def test_inplace_on_a_tensor_that_requires_grad_is_refused_under_grad_mode() -> None:
    x = leaf(3)
    with pytest.raises(RuntimeError, match=r"add_.*no_grad"):
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="__setitem__"):
        x[0] = 1.0
    with tinylm.no_grad():  # how optimizers update parameters
        x.add_(1.0)
        x[0] = 1.0
    assert x.detach().numpy()[0] == 1.0


def test_inplace_works_on_0d_results() -> None:
    """0-d results are arrays, not numpy scalars, so they can be changed in place."""
    s = tinylm.randn(3).sum()
    s.fill_(2.0)
    assert s.item() == 2.0
    x = tinylm.zeros(3)
    x[1].add_(5.0)  # a single element is a view into x, as in PyTorch
    assert x.tolist() == [0.0, 5.0, 0.0]


# ---------------------------------------------------------------------------------------
# retain_grad, detach, leaves
# ---------------------------------------------------------------------------------------


def test_retain_grad_on_non_leaf() -> None:
    x = leaf(3)
    h = x * 2.0
    h.retain_grad()
    other = x * 3.0  # a non-leaf without retain_grad
    y = (h.tanh() + other).sum()
    y.backward()
    np.testing.assert_allclose(h.grad.numpy(), 1 - np.tanh(h.detach().numpy()) ** 2, rtol=1e-14)
    assert other.grad is None
    np.testing.assert_allclose(x.grad.numpy(), 2 * h.grad.numpy() + 3, rtol=1e-14)
    assert x.is_leaf and not h.is_leaf


def test_retain_grad_needs_requires_grad() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        tinylm.randn(2).retain_grad()


def test_detach_cuts_the_graph_and_shares_memory() -> None:
    x = leaf(3)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.data, y.data)
    z = (y * d).sum()  # d is a constant: dz/dx = 2·d
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * d.numpy(), rtol=1e-14)


def test_requires_grad_cannot_be_turned_off_on_a_non_leaf() -> None:
    y = leaf(2) * 2.0
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad = False
    y.detach().requires_grad_(False)


def test_only_inputs_that_need_it_get_a_gradient() -> None:
    x = leaf(3)
    c = tinylm.randn(3, dtype=tinylm.float64)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), c.numpy())
    # no input requires grad: nothing is recorded
    y = c * c
    assert not y.requires_grad and y.grad_fn is None


def test_gradients_keep_the_leaf_dtype() -> None:
    x32 = tinylm.randn(3, requires_grad=True)
    x64 = leaf(3)
    (x32 * x64).sum().backward()  # the product is float64
    assert x32.grad.dtype == tinylm.float32 and x64.grad.dtype == tinylm.float64


def test_grad_never_aliases_the_upstream_gradient() -> None:
    x = leaf(3)
    g = upstream((3,))
    (x + 0.0).backward(g)
    assert not np.shares_memory(x.grad.data, g)
    (x + 0.0).backward(g)  # accumulation writes a new array, g is untouched
    np.testing.assert_allclose(x.grad.numpy(), 2 * g)


class _Cube(Function):
    """A user-defined op, written the way the docs teach: y = x³, dy/dx = 3x²."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return g * 3 * x**2


@given(x=st_tl.arrays(shape=st_tl.shapes(max_dims=3, max_side=4), min_value=-3, max_value=3))
def test_user_defined_function_gradchecks(x: np.ndarray) -> None:
    gradcheck(lambda t: _Cube.apply(t), [tinylm.Tensor(x, requires_grad=True)])


def test_augmented_assignment_updates_in_place_under_no_grad():
    w = tinylm.randn(3, dtype=tinylm.float64, requires_grad=True)
    (w * w).sum().backward()
    expected = w.detach().numpy() - 0.1 * w.grad.numpy()
    same = w
    with tinylm.no_grad():
        w -= 0.1 * w.grad
    assert w is same and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.detach().numpy(), expected)


def test_augmented_assignment_on_a_leaf_that_requires_grad_is_refused():
    w = tinylm.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\+=.*in-place"):
        w += 1


def test_augmented_assignment_on_a_non_leaf_keeps_the_graph_correct():
    x = tinylm.randn(4, dtype=tinylm.float64, requires_grad=True)
    y = x * 3.0
    y += x  # y = 4x
    u = np.random.default_rng(0).standard_normal(4)
    y.backward(u)
    np.testing.assert_allclose(x.grad.numpy(), 4 * u)


def test_the_context_docstring_example_runs_and_says_what_a_custom_op_needs() -> None:
    """help(tinylm.Context) is the reference for writing a Function: its example must run,
    and it must name every part of the protocol."""
    import textwrap

    doc = tinylm.Context.__doc__
    for part in ("save_for_backward", "saved_arrays", "needs_input_grad", "ctx.axis", "Tensors"):
        assert part in doc, part
    block = doc.split("A complete custom op::", 1)[1].split("\n\n    ``backward`` returns", 1)[0]
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(block), namespace)  # noqa: S102 - our own docstring
    x = namespace["x"]
    expected = 1 / (1 + np.exp(-2.0 * x.detach().numpy()))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    ctx = tinylm.Context((True,))
    with pytest.raises(AttributeError, match="ctx.saved_arrays"):
        ctx.saved_tensors  # noqa: B018 - PyTorch's name, answered with tinylm's


# ---------------------------------------------------------------------------------------
# Ownership of gradient arrays: Functions with fresh_grads hand over new arrays, which the
# engine keeps as .grad or adds into instead of copying; nothing else is ever kept or changed
# ---------------------------------------------------------------------------------------


class _Double(Function):
    """y = 2x; backward returns a new array each time (and records it for the tests)."""

    fresh_grads = True
    returned: list[np.ndarray] = []

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        out = 2 * g
        _Double.returned.append(out)
        return out


class _DoubleNotFresh(_Double):
    fresh_grads = False


def test_a_fresh_gradient_becomes_the_leafs_grad_without_a_copy():
    _Double.returned.clear()
    x = leaf(3, 4)
    g = RNG.standard_normal((3, 4))
    _Double.apply(x).backward(tinylm.tensor(g))
    assert x.grad.data is _Double.returned[-1]
    np.testing.assert_array_equal(x.grad.data, 2 * g)
    x.grad = None
    _DoubleNotFresh.apply(x).backward(tinylm.tensor(g))  # not declared fresh: copied
    assert not np.shares_memory(x.grad.data, _Double.returned[-1])
    np.testing.assert_array_equal(x.grad.data, 2 * g)


def test_contributions_are_added_into_an_owned_array_never_into_a_users():
    """x gets the user's own gradient array through Add (g itself, not owned) and a fresh
    array through _Double: the sum goes into the fresh one, the user's array is unchanged."""
    _Double.returned.clear()
    x = leaf(2, 5)
    g = RNG.standard_normal((2, 5))
    g_before = g.copy()
    (x + _Double.apply(x)).backward(tinylm.tensor(g))
    np.testing.assert_array_equal(g, g_before)
    np.testing.assert_array_equal(x.grad.data, g + 2 * g)
    assert x.grad.data is _Double.returned[-1]  # the sum went into the owned array
    # two fresh contributions: added into one of them, the other left as it was
    _Double.returned.clear()
    x.grad = None
    (_Double.apply(x) + _Double.apply(x)).backward(tinylm.tensor(g))
    first, second = _Double.returned
    assert x.grad.data is first or x.grad.data is second
    other = second if x.grad.data is first else first
    np.testing.assert_array_equal(other, 2 * g)
    np.testing.assert_array_equal(x.grad.data, 4 * g)


def test_grads_of_two_leaves_never_share_memory_through_fresh_ops():
    """A shared upstream gradient (Add gives g to both inputs) reaches two leaves through
    fresh ops and through plain ones: every .grad is memory of its own."""
    a, b = leaf(4, 3), leaf(4, 3)
    y = tinylm.nn.functional.gelu(a) + b + tinylm.nn.functional.softmax(a + b, dim=-1)
    y.sum().backward()
    assert not np.shares_memory(a.grad.data, b.grad.data)
    before = b.grad.data.copy()
    a.grad.data[...] = 0  # writing one leaf's grad leaves the other's alone
    np.testing.assert_array_equal(b.grad.data, before)


def test_grad_mode_belongs_to_each_thread():
    """no_grad() in one thread leaves recording on in another, and a new thread starts with
    recording on whatever the thread that started it has set."""
    import threading

    seen = {}

    def worker(name):
        x = tinylm.tensor([1.0, 2.0], requires_grad=True)
        seen[name] = (tinylm.is_grad_enabled(), (x * 2).requires_grad)

    with tinylm.no_grad():
        t = threading.Thread(target=worker, args=("started inside no_grad",))
        t.start()
        t.join()
        assert not tinylm.is_grad_enabled()
    assert seen["started inside no_grad"] == (True, True)
    assert tinylm.is_grad_enabled()


# ---------------------------------------------------------------------------------------
# tinylm.autograd.backward: several outputs in one pass (torch.autograd.backward)
# ---------------------------------------------------------------------------------------


def test_autograd_backward_walks_a_shared_graph_once_and_frees_it() -> None:
    calls = []

    class Counted(Function):
        @staticmethod
        def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
            return 2 * x

        @staticmethod
        def backward(ctx: Any, g: np.ndarray) -> np.ndarray:
            calls.append(g.copy())
            return 2 * g

    x = leaf(3)
    h = Counted.apply(x)
    a, b = (h * h).sum(), h.exp()
    g = upstream((3,))
    tinylm.autograd.backward([a, b], [None, g])
    assert len(calls) == 1  # the shared part once, with both contributions summed
    hv = 2 * x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * hv + g * np.exp(hv)), rtol=1e-12)
    with pytest.raises(RuntimeError, match="already freed"):
        a.backward()


def test_autograd_backward_gradchecks_against_finite_differences() -> None:
    """backward([y1, y2], [g1, g2]) is the gradient of Σ_i <g_i, y_i>."""
    x, w = leaf(2, 3), leaf(3)
    g1, g2 = upstream((2, 3)), upstream((3,))

    def joint(x: tinylm.Tensor, w: tinylm.Tensor) -> tinylm.Tensor:
        return ((x * w).tanh() * tinylm.tensor(g1)).sum() + (
            (x.sum(0) * w).exp() * tinylm.tensor(g2)
        ).sum()

    assert gradcheck(joint, [x, w])
    joint(x, w).backward()
    want = [x.grad.numpy().copy(), w.grad.numpy().copy()]
    x.grad = w.grad = None
    tinylm.autograd.backward(((x * w).tanh(), (x.sum(0) * w).exp()), (g1, tinylm.tensor(g2)))
    np.testing.assert_allclose(x.grad.numpy(), want[0], rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), want[1], rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        ("backward([y, y.sum()], [tinylm.ones(2)])", ValueError, "2 tensors and 1 gradients"),
        ("backward([y.sum(), y], [None, tinylm.ones(3)])", ValueError, r"grad_tensors\[1\]"),
        ("backward([y.sum(), y])", RuntimeError, r"tensors\[1\] has shape \(2,\)"),
        ("backward([y.sum(), tinylm.ones(1)])", RuntimeError, r"tensors\[1\].*not require grad"),
        ("backward([y.sum(), 3.0])", TypeError, r"tensors\[1\] must be a Tensor"),
        ("backward([])", TypeError, "non-empty"),
        ("backward(y.sum(), create_graph=True)", ValueError, "create_graph"),
        ("backward(y.sum(), inputs=[x])", ValueError, "inputs="),
        ("backward(y.sum(), 1.0, grad_variables=1.0)", RuntimeError, "not both"),
    ],
)
def test_autograd_backward_bad_calls_are_one_clear_line(call: str, error: type, names: str) -> None:
    x = leaf(2)
    y = x * 2
    with pytest.raises(error, match=names) as info:
        eval(call, {"backward": tinylm.autograd.backward, "tinylm": tinylm, "x": x, "y": y})
    assert "\n" not in str(info.value)
    assert x.grad is None  # nothing was accumulated before the error


# ---------------------------------------------------------------------------------------
# autograd.grad: gradients returned instead of accumulated
# ---------------------------------------------------------------------------------------


@given(st_tl.broadcastable_shapes(num_shapes=2))
def test_autograd_grad_equals_what_backward_accumulates(shapes: Any) -> None:
    """Over broadcasting shapes, a non-leaf input among the leaves, and a random upstream
    gradient: grad's result is what backward puts in .grad, and grad leaves .grad alone."""
    a, b = (leaf(*s) for s in shapes)
    mid = a * b
    out = (mid.tanh() + a).exp()
    g = upstream(out.shape)
    ga, gb, gmid = tinylm.autograd.grad(out, [a, b, mid], g, retain_graph=True)
    assert a.grad is None and b.grad is None
    mid.retain_grad()
    out.backward(tinylm.tensor(g))
    np.testing.assert_allclose(ga.numpy(), a.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), b.grad.numpy(), rtol=1e-12)
    expected_mid = g * out.data * (1 - np.tanh(mid.data) ** 2)  # out = exp(tanh(mid) + a)
    np.testing.assert_allclose(gmid.numpy(), expected_mid, rtol=1e-12)


def test_autograd_grad_walks_only_the_graph_between_outputs_and_inputs() -> None:
    """A branch that cannot reach the inputs is not differentiated: its backward never runs."""
    calls = []

    class Spy(Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return x * 2

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            calls.append(1)
            return g * 2

    x, other = leaf(3), leaf(3)
    y = (x * x).sum() + Spy.apply(other).sum()
    (gx,) = tinylm.autograd.grad(y, x)
    np.testing.assert_allclose(gx.numpy(), 2 * x.data)
    assert calls == [] and other.grad is None


def test_an_ops_own_error_subclass_survives_apply() -> None:
    class SingularError(tinylm.TinyLMError):
        pass

    class Refuses(tinylm.Function):
        @staticmethod
        def forward(ctx, x):
            raise SingularError("refuses: the matrix is singular")

        @staticmethod
        def backward(ctx, g):  # pragma: no cover - never reached
            return g

    with pytest.raises(SingularError, match=r"refuses: the matrix is singular.*\(2, 2\)"):
        Refuses.apply(tinylm.zeros(2, 2))


@pytest.mark.parametrize("op", ["softmax", "exp", "tanh", "sigmoid", "sqrt"])
def test_an_op_that_saves_its_own_output_makes_no_reference_cycle(op):
    """Softmax, exp, tanh … save their output for the backward. The graph must not hold that
    output in a cycle (output → node → output): a forward without backward (an evaluation
    that forgot no_grad) would keep every array until the garbage collector ran, and each
    new one would come from fresh pages. Dropping the output frees it at once, as in PyTorch;
    an in-place change before backward is still refused."""
    import gc
    import weakref

    x = tinylm.tensor(np.full((4, 5), 0.5), requires_grad=True)
    run = (lambda t: t.softmax(-1)) if op == "softmax" else getattr(tinylm.Tensor, op)
    gc.disable()
    try:
        y = run(x)
        gone = weakref.ref(y)
        del y
        assert gone() is None
    finally:
        gc.enable()
    y = run(x)
    with tinylm.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()
