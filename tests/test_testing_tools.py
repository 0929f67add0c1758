"""tinylm.testing tested on itself: a checker that never fails proves nothing.

gradcheck must refuse float32, catch deliberately wrong backwards (transposed, off by a
factor, ignoring broadcasting) in both its element-by-element and its random-direction
mode, and point at the worst element; the strategies must produce what they promise; and
the OpTests battery must fail on broken ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinylm
from tinylm.autograd import Function, Node
from tinylm.tensor import Tensor
from tinylm.testing import GradcheckError, OpSpec, OpTests, gradcheck
from tinylm.testing import strategies as st_tl

RNG = np.random.default_rng(7)

# Small inputs (<= 256 elements) are checked element by element, larger ones along random
# directions: test both modes.
SMALL, LARGE = (4, 4), (20, 20)


def leaf(*shape: int) -> Tensor:
    return Tensor(RNG.standard_normal(shape), requires_grad=True)


# ---------------------------------------------------------------------------------------
# Deliberately wrong Functions
# ---------------------------------------------------------------------------------------


class Double(Function):
    """y = 2x, backward correct: the control."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return 2 * g


class DoubleTransposedGrad(Double):
    """Backward returns the gradient transposed (same shape for square inputs)."""

    @staticmethod
    def backward(ctx, g):
        return 2 * g.T


class DoubleGradOffByFactor(Double):
    @staticmethod
    def backward(ctx, g):
        return 1.9 * g


class ScaleIgnoringBroadcast(Function):
    """y = x * w with w of shape (n,) broadcast over the rows of x (m, n).

    The correct dL/dw sums g·x over the rows; this one takes only the first row, so its
    shape is right and only the values are wrong.
    """

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_arrays
        return g * w, (g * x)[0]


class DoubleWrongAtOneElement(Double):
    """Correct except at two elements; (1, 2) is off by far more than (0, 0)."""

    @staticmethod
    def backward(ctx, g):
        gx = 2 * g
        gx[0, 0] += 0.01
        gx[1, 2] += 5.0
        return gx


@pytest.mark.parametrize("shape", [SMALL, LARGE], ids=["elementwise", "random-directions"])
def test_gradcheck_passes_a_correct_backward(shape: tuple[int, int]) -> None:
    assert gradcheck(lambda t: Double.apply(t), [leaf(*shape)])


@pytest.mark.parametrize("shape", [SMALL, LARGE], ids=["elementwise", "random-directions"])
@pytest.mark.parametrize("bad", [DoubleTransposedGrad, DoubleGradOffByFactor])
def test_gradcheck_catches_a_wrong_backward(bad: type[Function], shape: tuple[int, int]) -> None:
    mode = "element" if shape == SMALL else "random direction"
    with pytest.raises(GradcheckError, match=rf"input 0 {mode}.*analytic .* vs numeric "):
        gradcheck(lambda t: bad.apply(t), [leaf(*shape)])


@pytest.mark.parametrize("shape", [SMALL, LARGE], ids=["elementwise", "random-directions"])
def test_gradcheck_catches_a_backward_that_ignores_broadcasting(shape: tuple[int, int]) -> None:
    x, w = leaf(*shape), leaf(shape[1])
    mode = "element" if shape[1] <= 256 else "random direction"
    # The gradient of x is right; the one of w (input 1) is not.
    with pytest.raises(GradcheckError, match=rf"input 1 {mode}"):
        gradcheck(lambda a, b: ScaleIgnoringBroadcast.apply(a, b), [x, w])
    big_w = leaf(300)  # w itself large enough for the random-direction mode
    with pytest.raises(GradcheckError, match="input 1 random direction"):
        gradcheck(lambda a, b: ScaleIgnoringBroadcast.apply(a, b), [leaf(3, 300), big_w])


def test_gradcheck_reports_the_worst_element_with_analytic_and_numeric() -> None:
    x = leaf(3, 4)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: DoubleWrongAtOneElement.apply(t), [x])
    message = str(info.value)
    assert "input 0 element (1, 2)" in message
    assert "analytic" in message and "numeric" in message
    # the numbers in the message are the real ones: numeric = 2u, analytic = 2u + 5
    analytic, numeric = (float(v) for v in _numbers_after(message, ["analytic", "vs numeric"]))
    assert analytic - numeric == pytest.approx(5.0, abs=1e-6)


def _numbers_after(message: str, labels: list[str]) -> list[str]:
    out = []
    for label in labels:
        rest = message.split(label, 1)[1].split()
        out.append(rest[0])
    return out


def test_gradcheck_message_gives_the_input_value_the_meaning_and_the_raw_derivative() -> None:
    """The value of the input at the worst element, a sentence saying that both numbers are
    derivatives of Σ u·f for a random u, and (few outputs) the unweighted df/dx both ways:
    here backward adds 5 at x[1, 2] whatever the upstream gradient, while f = (2x).sum(1)
    has df/dx[1, 2] = (0, 2, 0)."""
    x = leaf(3, 4)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: DoubleWrongAtOneElement.apply(t).sum(1), [x], seed=3)
    message = str(info.value)
    assert f"input 0 element (1, 2) (where the input is {x.detach().numpy()[1, 2]:.6g})" in message
    assert "Both numbers are ∂(Σ u·f)/∂x at that element" in message
    assert "random upstream gradient (seed 3)" in message
    assert "df/dx[1, 2] (one entry per output element) is [5. 7. 5.] by backward" in message
    assert "[0. 2. 0.] by central differences" in message
    # many outputs: no raw derivative; a random direction: the directional meaning
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: DoubleWrongAtOneElement.apply(t), [leaf(5, 5)])
    assert "Unweighted" not in str(info.value)
    with pytest.raises(GradcheckError, match=r"along a random unit direction v of the input"):
        gradcheck(lambda t: DoubleGradOffByFactor.apply(t), [leaf(*LARGE)])


def test_gradcheck_can_return_false_instead_of_raising() -> None:
    assert not gradcheck(
        lambda t: DoubleGradOffByFactor.apply(t), [leaf(2, 2)], raise_exception=False
    )


def test_gradcheck_refuses_float32_and_says_why() -> None:
    x = tinylm.randn(3, requires_grad=True)
    with pytest.raises(TypeError, match=r"input 0 has dtype float32.*float64.*rounding.*double"):
        gradcheck(lambda t: t * 2.0, [x])


def test_gradcheck_needs_an_input_that_requires_grad() -> None:
    with pytest.raises(ValueError, match="nothing to check"):
        gradcheck(lambda t: t * 2.0, [Tensor(np.ones(3))])


def test_gradcheck_leaves_its_inputs_alone() -> None:
    x = leaf(3, 3)
    before = x.detach().numpy().copy()
    gradcheck(lambda t: t.exp(), [x])
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None  # it differentiates copies, not the caller's tensors


class SpyIdentity(Function):
    """y = x; records the upstream gradient that reaches backward."""

    seen: list[np.ndarray] = []

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        SpyIdentity.seen.append(np.array(g))
        return g


def test_gradcheck_upstream_gradient_is_random_not_ones() -> None:
    """With u = 1, a transposed gradient of a square matrix sums to the right number."""
    SpyIdentity.seen.clear()
    gradcheck(lambda t: SpyIdentity.apply(t), [leaf(5, 5)])
    (u,) = SpyIdentity.seen
    assert not np.allclose(u, 1.0)
    assert np.unique(u).size == u.size  # not a constant either
    # and a different seed gives a different direction
    SpyIdentity.seen.clear()
    gradcheck(lambda t: SpyIdentity.apply(t), [leaf(5, 5)], seed=1)
    assert not np.allclose(SpyIdentity.seen[0], u)


# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------


@given(
    values=hnp.arrays(np.float64, st_tl.shapes(min_dims=0, max_dims=4), elements=st.floats(-5, 5)),
    layout=st_tl.layouts(),
)
def test_noncontiguous_keeps_values_and_shape(values: np.ndarray, layout: str) -> None:
    view = st_tl.noncontiguous(values, layout)
    assert view.shape == values.shape and view.dtype == values.dtype
    np.testing.assert_array_equal(view, values)
    if layout == "strided" and values.ndim >= 1 and values.shape[-1] > 1:
        assert not view.flags.c_contiguous and not view.flags.f_contiguous
    if layout == "F" and values.ndim >= 2 and sum(n > 1 for n in values.shape) >= 2:
        assert view.flags.f_contiguous and not view.flags.c_contiguous


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st_tl.arrays(shape=(3, 4), layout="strided", min_value=-2, max_value=2),
    st_tl.arrays(shape=(3, 4), layout="F"),
    st_tl.arrays(shape=(), layout="strided"),
)
def test_arrays_honour_layout_bounds_and_0d(s: np.ndarray, f: np.ndarray, z: np.ndarray) -> None:
    assert not s.flags.c_contiguous and np.all((s >= -2) & (s <= 2))
    assert f.flags.f_contiguous and not f.flags.c_contiguous
    assert z.shape == ()  # 0-d stays 0-d in every layout


def test_arrays_draw_every_layout() -> None:
    seen: set[str] = set()

    @settings(max_examples=60, database=None)
    @given(st_tl.arrays(shape=(2, 3)))
    def draw(a: np.ndarray) -> None:
        if a.flags.c_contiguous:
            seen.add("C")
        elif a.flags.f_contiguous:
            seen.add("F")
        else:
            seen.add("strided")

    draw()
    assert seen == {"C", "F", "strided"}


@given(st_tl.arrays(shape=(3, 3), dtype=np.float32, min_value=0.1, max_value=0.3))
def test_float32_bounds_are_rounded_inward(a: np.ndarray) -> None:
    assert a.dtype == np.float32
    assert np.all(a >= np.float32(0.1)) and np.all(a.astype(np.float64) >= 0.1)
    assert np.all(a.astype(np.float64) <= 0.3)


@given(st_tl.arrays(shape=(10,), unique=True, min_value=-1, max_value=1))
def test_unique_arrays_have_no_ties(a: np.ndarray) -> None:
    assert np.unique(a).size == a.size


@given(st_tl.arrays(shape=(4, 4), elements=st.sampled_from([-1.5, 2.5])))
def test_elements_strategy_replaces_the_bounds(a: np.ndarray) -> None:
    assert set(np.unique(a)) <= {-1.5, 2.5}


@given(st_tl.broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(shapes: tuple[tuple[int, ...], ...]) -> None:
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)


@given(st_tl.matmul_shapes())
def test_matmul_shapes_are_valid(shapes: tuple[tuple[int, ...], ...]) -> None:
    a, b = shapes
    np.matmul(np.zeros(a), np.zeros(b))


@given(st_tl.tensors(shape=(2, 2)))
def test_tensors_strategy(t: Tensor) -> None:
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float64


# ---------------------------------------------------------------------------------------
# The OpTests battery fails on broken ops
# ---------------------------------------------------------------------------------------


class ExpGradOffByFactor(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        return 1.5 * g * y


class ExpMutatingInput(Function):
    """Correct values, but overwrites its input (a classic 'optimization')."""

    @staticmethod
    def forward(ctx, x):
        np.exp(x, out=x)
        ctx.save_for_backward(x)
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        return g * y


def _battery(fn: Any, reference: Any = np.exp, n_inputs: int = 1) -> type[OpTests]:
    """A fresh OpTests subclass for ``fn`` (not collected: it lives in a function)."""

    class Battery(OpTests):
        spec = OpSpec(
            name="broken op",
            fn=fn,
            reference=reference,
            inputs=[dict(min_value=-2, max_value=2)] * n_inputs,
        )

    return Battery


def _run(battery: type[OpTests], test_name: str) -> None:
    """Run one battery test quickly: few examples, no shrinking, no example database."""
    fast = settings(
        max_examples=10,
        database=None,
        phases=[Phase.generate],
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    battery_test = getattr(battery, test_name)
    setattr(battery, test_name, fast(battery_test))
    test = getattr(battery(), test_name)
    test()


def test_battery_passes_a_correct_op() -> None:
    battery = _battery(lambda x: x.exp())
    for name in (
        "test_forward_matches_reference",
        "test_float32_forward",
        "test_gradcheck",
        "test_inputs_not_mutated",
        "test_grad_does_not_alias",
        "test_graph_freed",
    ):
        _run(battery, name)


def test_battery_catches_a_wrong_gradient() -> None:
    with pytest.raises(GradcheckError):
        _run(_battery(lambda x: ExpGradOffByFactor.apply(x)), "test_gradcheck")


def test_battery_catches_a_wrong_forward() -> None:
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        _run(_battery(lambda x: x.exp() * (1 + 1e-9)), "test_forward_matches_reference")


def test_battery_catches_float32_upcast() -> None:
    with pytest.raises(AssertionError, match="float32 in, float64 out"):
        _run(_battery(lambda x: x.double().exp()), "test_float32_forward")


def test_battery_catches_an_op_that_mutates_its_input() -> None:
    with pytest.raises(AssertionError, match="mutated an input"):
        _run(_battery(lambda x: ExpMutatingInput.apply(x)), "test_inputs_not_mutated")


def test_battery_catches_aliased_grads(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that stored the incoming gradient as .grad without copying would make
    a.grad and b.grad of ``a + b`` the same memory (Add passes g to both)."""
    monkeypatch.setattr(
        Tensor, "_accumulate_grad", lambda self, g, **_: setattr(self, "grad", Tensor._wrap(g))
    )
    battery = _battery(lambda a, b: a + b, reference=np.add, n_inputs=2)
    with pytest.raises(AssertionError, match="aliases"):
        _run(battery, "test_grad_does_not_alias")


def test_battery_catches_a_graph_that_is_not_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Node, "free", lambda self: None)
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        _run(_battery(lambda x: x.exp()), "test_graph_freed")


def test_gradcheck_is_exact_next_to_huge_constant_outputs():
    """An output of −1e9 that does not depend on x must not swamp the finite difference
    (the outputs are differenced before they are weighted and summed)."""
    x = tinylm.tensor(np.zeros((1, 2)), requires_grad=True)
    mask = tinylm.tensor(np.array([[True, False]]))
    assert gradcheck(lambda t: t.masked_fill(mask, -1e9) * 2.5, [x])
