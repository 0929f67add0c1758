"""PyTorch's in-place forms that ``tinylm/tensor_inplace.py`` adds (``x.ceil_()``,
``x.lt_(y)``, ``x.addmm_(m1, m2)`` …, ``tinylm.sin_(x)``), run from one table in both
libraries on the same values: float64 and int64 tensors that are transposed, strided views
of a base, so that each check covers the write through a view. For every name: the same
values, dtype and shape, the result is ``x`` itself, the base sees the write, the version
counter moves (a backward that saved x then refuses, in both); where torch refuses (a float
result into an int tensor, a broadcast of x itself, an expanded x, a leaf that requires grad)
tinylm refuses too and x keeps its values. In-place ops are not recorded by tinylm's autograd
(README), so there are no gradients to compare: an operand or an x that requires grad is
refused while recording, and allowed under ``no_grad``. Skipped without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError, tensor_inplace

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.torch,  # log, log1p, sqrt of the negative values: NaN in both, NumPy warns
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning"),
]

RNG = np.random.default_rng(7)
# halves on a grid: ties for round (half to even) and for the comparisons, zeros, signs
BASE = {
    "f": RNG.integers(-7, 8, (4, 3)) / 2.0,
    "i": RNG.integers(-7, 8, (4, 3)).astype(np.int64),
}
BASE["f"][0, 0] = -0.0
OTHER = {  # broadcasts against x (3, 4) along its rows
    "f": np.array([1.5, -0.5, 2.0, -3.0]),
    "i": np.array([3, -2, 1, 5], dtype=np.int64),
}


def t(lib: ModuleType, a: Any) -> Any:
    return lib.tensor(np.asarray(a))


def rows_of(kind: str, seed: int, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(-3, 4, shape)
    return a / 2.0 if kind == "f" else a.astype(np.int64)


# name -> (its arguments, given the library and the kind "f"/"i"; which view of the base is x)
Args = Callable[[ModuleType, str], tuple[tuple[Any, ...], dict[str, Any]]]
NO_ARGS: Args = lambda lib, k: ((), {})  # noqa: E731
OTHER_ARG: Args = lambda lib, k: ((t(lib, OTHER[k]),), {})  # noqa: E731
TRANSPOSED = lambda v: v.t()  # noqa: E731 - (3, 4), not contiguous
COLUMN = lambda v: v.t()[:, 1]  # noqa: E731 - (3,), strided
BATCH = lambda v: v.t().unsqueeze(0)  # noqa: E731 - (1, 3, 4)


def _scalar(value: float) -> Args:
    return lambda lib, k: ((value if k == "f" else int(value * 2),), {})


TABLE: dict[str, tuple[Args, Callable[[Any], Any]]] = {
    **{
        name: (NO_ARGS, TRANSPOSED)
        for name in (
            "ceil floor round trunc frac sign sin cos erf expm1 log1p rsqrt bitwise_not "
            "logical_not nan_to_num"
        ).split()
    },
    **{
        name: (OTHER_ARG, TRANSPOSED)
        for name in (
            "atan2 arctan2 hypot fmod remainder floor_divide ldexp eq ne lt le gt ge greater "
            "greater_equal less less_equal not_equal logical_and logical_or logical_xor"
        ).split()
    },
    "cumsum_": (lambda lib, k: ((1,), {}), TRANSPOSED),
    "cumprod_": (lambda lib, k: ((0,), {}), TRANSPOSED),
    "renorm_": (lambda lib, k: ((2, 0, 1.5), {}), TRANSPOSED),
    "addmm_": (
        lambda lib, k: (
            (t(lib, rows_of(k, 1, (3, 2))), t(lib, rows_of(k, 2, (2, 4)))),
            {"beta": 0.5, "alpha": 2.0} if k == "f" else {"beta": 2, "alpha": 3},
        ),
        TRANSPOSED,
    ),
    "addmv_": (
        lambda lib, k: ((t(lib, rows_of(k, 3, (3, 5))), t(lib, rows_of(k, 4, (5,)))), {}),
        COLUMN,
    ),
    "addr_": (
        lambda lib, k: ((t(lib, rows_of(k, 5, (3,))), t(lib, rows_of(k, 6, (4,)))), {}),
        TRANSPOSED,
    ),
    "addbmm_": (
        lambda lib, k: ((t(lib, rows_of(k, 7, (2, 3, 5))), t(lib, rows_of(k, 8, (2, 5, 4)))), {}),
        TRANSPOSED,
    ),
    "baddbmm_": (
        lambda lib, k: (
            (t(lib, rows_of(k, 9, (1, 3, 5))), t(lib, rows_of(k, 10, (1, 5, 4)))),
            {"alpha": -1},
        ),
        BATCH,
    ),
    "index_add_": (
        lambda lib, k: ((1, lib.tensor([3, 0]), t(lib, rows_of(k, 11, (3, 2)))), {"alpha": 2}),
        TRANSPOSED,
    ),
    "put_": (
        lambda lib, k: ((lib.tensor([[5, -1], [0, 2]]), t(lib, rows_of(k, 12, (4,)))), {}),
        TRANSPOSED,
    ),
}
TABLE = {(k if k.endswith("_") else k + "_"): v for k, v in TABLE.items()}
# further calls of some names: a number as the other operand, keywords
MORE: dict[str, tuple[str, Args, Callable[[Any], Any]]] = {
    "round_ decimals": ("round_", lambda lib, k: ((), {"decimals": 1}), TRANSPOSED),
    "fmod_ number": ("fmod_", _scalar(-1.5), TRANSPOSED),
    "remainder_ number": ("remainder_", _scalar(1.5), TRANSPOSED),
    "floor_divide_ number": ("floor_divide_", _scalar(-1.5), TRANSPOSED),
    "lt_ number": ("lt_", _scalar(0.5), TRANSPOSED),
    "eq_ number": ("eq_", _scalar(0.5), TRANSPOSED),
    "ge_ 0-d": ("ge_", lambda lib, k: ((t(lib, OTHER[k][0]),), {}), TRANSPOSED),
    "logical_and_ bool": (
        "logical_and_",
        lambda lib, k: ((lib.tensor([True, False, True, True]),), {}),
        TRANSPOSED,
    ),
    "cumsum_ negative dim": ("cumsum_", lambda lib, k: ((-2,), {}), TRANSPOSED),
    "put_ accumulate": (
        "put_",
        lambda lib, k: ((lib.tensor([3, -9, 3]), t(lib, rows_of(k, 13, (3,))), True), {}),
        TRANSPOSED,
    ),
}
CASES = {name: (name, *row) for name, row in TABLE.items()} | MORE


def call(lib: ModuleType, case: str, kind: str, base: np.ndarray | None = None) -> dict:
    """The case's in-place call on a view x of a base tensor, in ``lib``: what it returned,
    the base and x afterwards, whether the version moved, or the error it raised."""
    name, args, view = CASES[case]
    b = lib.tensor(BASE[kind] if base is None else base)
    x = view(b)
    before = x._version
    positional, keywords = args(lib, kind)
    try:
        out = getattr(x, name)(*positional, **keywords)
    except Exception as e:  # noqa: BLE001 - compared with the other library's below
        return {"error": e, "base": b.numpy().copy()}
    return {
        "is_x": out is x,
        "x": x.numpy().copy(),
        "dtype": str(x.dtype).split(".")[-1],
        "base": b.numpy().copy(),
        "version_moved": x._version > before,
    }


@pytest.mark.parametrize("kind", ["f", "i"], ids=["float64", "int64"])
@pytest.mark.parametrize("case", list(CASES))
def test_an_in_place_form_does_what_torchs_does(case: str, kind: str) -> None:
    ours, theirs = call(tinylm, case, kind), call(torch, case, kind)
    if "error" in theirs:
        assert "error" in ours, f"torch refuses: {theirs['error']}"
        error = ours["error"]
        if "can't be cast" in str(theirs["error"]):  # a float result into an int tensor
            assert isinstance(error, tensor_inplace.InplaceError)
            assert isinstance(error, RuntimeError)
            assert "can't be cast to the desired output type int64" in str(error)
        else:  # torch's kernel lacks the dtype (frac, bitwise_not of a float …)
            assert isinstance(error, TinyLMError | TypeError | RuntimeError), repr(error)
        np.testing.assert_array_equal(ours["base"], BASE[kind])  # x was left as it was
        return
    assert "error" not in ours, f"tinylm refuses what torch does: {ours['error']!r}"
    assert ours["is_x"] and theirs["is_x"]
    assert ours["version_moved"] and theirs["version_moved"]
    assert ours["dtype"] == theirs["dtype"] == {"f": "float64", "i": "int64"}[kind]
    assert ours["x"].shape == theirs["x"].shape
    np.testing.assert_allclose(ours["x"], theirs["x"], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ours["base"], theirs["base"], rtol=1e-12, atol=1e-13)
    assert not np.array_equal(ours["base"], BASE[kind]) or case in {
        "ceil_",
        "floor_",
        "round_",
        "trunc_",
        "nan_to_num_",
        "round_ decimals",
    }, "the write did not reach the base"


def test_the_table_covers_every_in_place_form_tinylm_adds() -> None:
    added = {n for n in dir(tinylm.Tensor) if n.endswith("_") and not n.startswith("_")}
    added &= {name for name, *_ in CASES.values()} | {"swapaxes_", "swapdims_"}
    assert set(TABLE) <= added
    missing = {n for n in dir(torch.Tensor) if n.endswith("_") and not n.startswith("_")}
    missing -= set(dir(tinylm.Tensor))
    # storage, sparse and Python-callback ops, and the incomplete gamma tinylm lacks
    assert missing == {
        "apply_",
        "as_strided_",
        "conj_physical_",
        "igamma_",
        "igammac_",
        "map2_",
        "map_",
        "resize_",
        "resize_as_",
        "resize_as_sparse_",
        "set_",
        "sparse_resize_",
        "sparse_resize_and_clear_",
    }


@pytest.mark.parametrize("lib", [tinylm, torch], ids=["tinylm", "torch"])
def test_comparisons_write_one_and_zero_in_xs_dtype(lib: ModuleType) -> None:
    x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float32)
    assert x.lt_(2.5) is x and x.dtype == lib.float32 and x.tolist() == [1.0, 1.0, 0.0]
    i = lib.tensor([1, 2, 3], dtype=lib.int8)
    assert i.gt_(1.5).dtype == lib.int8 and i.tolist() == [0, 1, 1]
    b = lib.tensor([True, False, True])
    assert b.logical_xor_(lib.tensor([1.0, 1.0, 0.0])).tolist() == [False, True, True]
    assert lib.tensor([2.0, 0.0]).logical_not_().tolist() == [0.0, 1.0]


def test_a_result_of_the_same_category_is_cast_as_torch() -> None:
    """float32 ← float64 rounds, int8 ← int8's running sum wraps around (torch's cumsum_
    keeps x's dtype, where the out-of-place cumsum of int8 is int64)."""
    results = []
    for lib in (tinylm, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float32)
        x.hypot_(lib.tensor([1.0 / 3, 0.1], dtype=lib.float64))
        i = lib.tensor([100, 120], dtype=lib.int8).cumsum_(0)
        assert (x.dtype, i.dtype) == (lib.float32, lib.int8)
        results.append((x.numpy(), i.tolist()))
    (x, i), (x_torch, i_torch) = results
    np.testing.assert_array_equal(x, x_torch)
    assert i == i_torch == [100, -36]


def refused_by_both(call: Callable[[ModuleType], Any], message: str) -> None:
    """torch raises a RuntimeError; tinylm an InplaceError (a TinyLMError and a RuntimeError)
    in one line that matches ``message``."""
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(TinyLMError, match=message) as ours:
        call(tinylm)
    assert isinstance(ours.value, RuntimeError) and "\n" not in str(ours.value)


@pytest.mark.parametrize(
    "update",
    [
        lambda lib, x: x.hypot_(lib.ones(2, 3, dtype=lib.float64)),
        lambda lib, x: x.lt_(lib.ones(1, 3, dtype=lib.float64)),
        lambda lib, x: x.addr_(lib.ones(2, dtype=lib.float64), lib.ones(3, dtype=lib.float64)),
        lambda lib, x: x[0].atan2_(lib.ones(1, dtype=lib.float64)),  # 0-d x, (1,) other
    ],
)
def test_only_the_other_operand_broadcasts(update: Any) -> None:
    """In place, x keeps its shape: a result of another shape is refused, as by torch (a
    result of shape (1, 3) too, which NumPy would write into (3,))."""
    refused_by_both(
        lambda lib: update(lib, lib.tensor([0.5, 1.0, 2.0], dtype=lib.float64)),
        r"output with shape \[\d?\] doesn't match the broadcast shape \[[\d, ]+\]",
    )


def test_an_expanded_x_is_refused_and_kept() -> None:
    refused_by_both(lambda lib: lib.zeros(3).expand(2, 3).sin_(), "expanded view.*clone")
    x = tinylm.tensor([1.0, 2.0, 3.0])
    with pytest.raises(TinyLMError, match="can't be cast"):
        x.int().expand(2, 3).clone().sin_()
    assert x.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("name", ["sin_", "lt_", "cumsum_", "addmm_", "ldexp_"])
def test_x_requiring_grad_is_refused_while_recording(name: str) -> None:
    """A leaf that requires grad: refused by both (torch: "a leaf Variable …"). A non-leaf:
    torch records the change, tinylm refuses (README: in-place ops are not recorded). Under
    no_grad both libraries change the leaf, with the same values."""
    case_args = CASES[name][1]

    def update(lib: ModuleType, x: Any) -> Any:
        positional, keywords = case_args(lib, "f")
        return getattr(x, name)(*positional, **keywords)

    def leaf(lib: ModuleType) -> Any:
        return lib.tensor(BASE["f"].T.copy(), requires_grad=True)

    refused_by_both(lambda lib: update(lib, leaf(lib)), f"{name}: in-place changes .* requires")
    with pytest.raises(TinyLMError, match=f"{name}: in-place changes to a tensor that requires"):
        update(tinylm, leaf(tinylm) * 1.0)
    update(torch, leaf(torch) * 1.0)  # allowed: torch records it
    changed = []
    for lib in (tinylm, torch):
        w = leaf(lib)
        with lib.no_grad():
            assert update(lib, w) is w
        assert w.requires_grad and w.is_leaf
        changed.append(w.detach().numpy())
    np.testing.assert_allclose(*changed, rtol=1e-12, atol=1e-13)


def test_an_operand_requiring_grad_is_refused_while_recording() -> None:
    """torch gives x a graph through the operand; tinylm records no in-place op, so it
    refuses rather than lose the operand's gradient; under no_grad both compute the same."""
    w_values = np.array([0.5, -2.0, 3.0])
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    w = torch.tensor(w_values, requires_grad=True)
    assert x.hypot_(w).grad_fn is not None  # torch: recorded
    ours = tinylm.tensor([1.0, 2.0, 3.0], dtype=tinylm.float64)
    w = tinylm.tensor(w_values, requires_grad=True)
    with pytest.raises(TinyLMError, match="hypot_: an operand requires grad.*would be lost"):
        ours.hypot_(w)
    with pytest.raises(TinyLMError, match="addmv_: an operand requires grad"):
        tinylm.zeros(2, dtype=tinylm.float64).addmv_(tinylm.ones(2, 3, dtype=tinylm.float64), w)
    assert ours.tolist() == [1.0, 2.0, 3.0]
    with tinylm.no_grad():
        ours.hypot_(w)
    np.testing.assert_allclose(ours.numpy(), x.detach().numpy(), rtol=1e-15)


@pytest.mark.parametrize("case", [name for name in TABLE if name != "bitwise_not_"])
def test_a_backward_that_saved_x_notices_the_change(case: str) -> None:
    """y = w · x saves x for w's gradient; changing x in place afterwards makes the backward
    refuse, in both libraries: the version counter moved."""
    name, args, view = CASES[case]
    for lib in (tinylm, torch):
        x = view(lib.tensor(BASE["f"]))
        w = lib.ones(x.shape, dtype=lib.float64, requires_grad=True)
        y = (w * x).sum()
        positional, keywords = args(lib, "f")
        getattr(x, name)(*positional, **keywords)
        with pytest.raises(RuntimeError, match="modified (by an inplace operation|in place)"):
            y.backward()


@pytest.mark.parametrize("name", ["swapaxes_", "swapdims_"])
def test_swapaxes_and_swapdims_in_place_are_transpose_(name: str) -> None:
    results = []
    for lib in (tinylm, torch):
        base = lib.tensor(BASE["f"])
        x = base[:, ::2]
        before = x._version
        assert getattr(x, name)(0, -1) is x
        assert x._version > before and tuple(base.shape) == (4, 3)
        results.append(x.numpy().copy())
    assert results[0].shape == results[1].shape == (2, 4)
    np.testing.assert_array_equal(*results)
    made = tinylm.tensor(BASE["f"], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match=f"{name}: in-place changes to a tensor that requires"):
        getattr(made, name)(0, 1)
    with tinylm.no_grad(), pytest.raises(RuntimeError, match=f"{name}: cannot change the shape"):
        getattr(made, name)(0, 1)  # its graph expects (4, 3)


# arguments of torch's top-level in-place functions (``torch.clamp_(x, -1, 1)``); the rest
# take only x
TOP_ARGS: dict[str, Args] = {
    "addmv_": lambda lib, k: ((t(lib, rows_of(k, 3, (3, 5))), t(lib, rows_of(k, 4, (5,)))), {}),
    "clamp_": lambda lib, k: ((-1.0, 1.5), {}),
    "clip_": lambda lib, k: ((), {"min": -0.5}),
    "clamp_max_": lambda lib, k: ((0.5,), {}),
    "clamp_min_": lambda lib, k: ((-0.5,), {}),
    "fill_": lambda lib, k: ((2.5,), {}),
    "gcd_": lambda lib, k: ((t(lib, OTHER["i"][:3]),), {}),
    "lcm_": lambda lib, k: ((t(lib, OTHER["i"][:3]),), {}),
    "ldexp_": lambda lib, k: ((t(lib, OTHER["i"][:3]),), {}),
    "logit_": lambda lib, k: ((), {"eps": 0.25}),
    "nan_to_num_": lambda lib, k: ((), {"nan": 1.0, "posinf": 2.0, "neginf": -2.0}),
    "round_": lambda lib, k: ((), {"decimals": 1}),
    "xlogy_": lambda lib, k: ((t(lib, np.abs(OTHER["f"][:3])),), {}),
}
INTEGER_ONLY = {"gcd_", "lcm_"}


@pytest.mark.parametrize("name", [n for n in tensor_inplace.TOP_LEVEL if n.endswith("_")])
def test_torchs_top_level_in_place_functions(name: str) -> None:
    """``torch.name_(x, …)`` in both: x (a strided column of a base) is returned, changed
    as torch changes it, the base seeing it; a number instead of x is a TypeError."""
    kind = "i" if name in INTEGER_ONLY else "f"
    results = []
    for lib in (tinylm, torch):
        base = lib.tensor(BASE[kind] / 2 if kind == "f" else BASE[kind])
        x = base[2, :] if name != "addmv_" else base.t()[:, 1]  # [1.25, -1, -1.75]
        positional, keywords = TOP_ARGS.get(name, NO_ARGS)(lib, kind)
        assert getattr(lib, name)(x, *positional, **keywords) is x
        results.append((base.numpy().copy(), str(x.dtype).split(".")[-1]))
        with pytest.raises(TypeError, match=r"(must be |expected one of:\n \* \()Tensor"):
            getattr(lib, name)(0.5, *positional, **keywords)
    (ours, dtype), (theirs, their_dtype) = results
    assert dtype == their_dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)
    assert not np.array_equal(ours, BASE[kind] / (2 if kind == "f" else 1)) or name in {
        "ceil_",
        "floor_",
        "round_",
        "trunc_",
        "fix_",
        "nan_to_num_",
        "clamp_",
    }


def test_every_top_level_name_is_torchs() -> None:
    names = [*tensor_inplace.TOP_LEVEL, "dropout_", "alpha_dropout_"]
    assert all(hasattr(torch, name) for name in names)
    assert set(names) <= set(tinylm.__all__)


@pytest.mark.parametrize(
    "x, other",
    [
        (np.array([[0.75, -1.5, 3.0], [2.0, 0.0, -0.25]]), np.array([1.5, -2.0, 0.0])),
        (np.array([[0.75, -1.5, 3.0], [2.0, 0.0, -0.25]]), np.array([[3], [0]], dtype=np.int64)),
    ],
)
def test_ldexp_matches_torch_with_gradients(x: np.ndarray, other: np.ndarray) -> None:
    """x · 2^other: values, dtype and the gradients of both float inputs for a random
    upstream gradient, through a transposed x. (Not a negative integer ``other``: torch
    2.13's gradient for x is then 0, its 2^other taken in integers; tinylm's is g · 2^other.)"""
    from torch_parity import check_against_torch

    check_against_torch(lambda lib, leaves: lib.ldexp(leaves[0].t(), leaves[1].t()), [x.T, other.T])
    check_against_torch(lambda lib, leaves: leaves[0].ldexp(leaves[1]), [x, other])


@pytest.mark.parametrize(
    "dtypes", [("int64", "int64"), ("int32", "float64"), ("float16", "int64"), ("bool", "int8")]
)
def test_ldexp_gives_torchs_dtype(dtypes: tuple[str, str]) -> None:
    results = []
    for lib in (tinylm, torch):
        a = lib.tensor([1, 0, 3]).to(getattr(lib, dtypes[0]))
        b = lib.tensor([2, -1, 1]).to(getattr(lib, dtypes[1]))
        r = lib.ldexp(a, b)
        results.append((str(r.dtype).split(".")[-1], r.tolist()))
    assert results[0] == results[1]
    with pytest.raises(TypeError, match="'other' must be a Tensor"):
        tinylm.ldexp(tinylm.ones(2), 3)


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize(
    "shape, index",
    [
        ((4, 6), [[0, -1, 7], [3, 2, 5]]),  # strided view (6, 2): 12 elements
        ((4, 6), []),
        ((4, 6), [-12, 11]),
        ((), [0]),
    ],
)
def test_put_matches_torch_with_gradients(
    shape: tuple[int, ...], index: list, accumulate: bool
) -> None:
    """put (out of place): values and the gradients of input and source, through a
    transposed, strided input read in its own (row-major) order."""
    from torch_parity import check_against_torch, strided

    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    flat = np.array(index, dtype=np.int64)
    if accumulate and flat.size > 1:  # a position named twice (-1 and 11 are one)
        flat[-1] = flat[0] % 12 - 12 if shape else flat[0]
    source = rng.standard_normal(flat.shape)

    def build(lib: ModuleType, leaves: list[Any]) -> Any:
        input_ = strided(leaves[0]) if shape else leaves[0]
        return input_.put(lib.tensor(flat), leaves[1], accumulate=accumulate)

    check_against_torch(build, [x, source])
    check_against_torch(
        lambda lib, leaves: lib.put(leaves[0], lib.tensor([0]), leaves[1]),
        [x, rng.standard_normal(1)],
    )


@pytest.mark.parametrize(
    "call, message",
    [
        ("lib.zeros(3).put(lib.tensor([0.0]), lib.ones(1))", "index must be an integer tensor"),
        ("lib.zeros(3).put(lib.tensor([0]), lib.ones(1, dtype=lib.float64))", "same dtype"),
        ("lib.zeros(3).put_(lib.tensor([0, 1]), lib.ones(3))", "same number of elements"),
        ("lib.zeros(3).put_(lib.tensor([0, 3]), lib.ones(2))", "index 3 is out of range"),
        ("lib.zeros(3).put(lib.tensor([-4]), lib.ones(1))", "index -4 is out of range"),
        ("lib.zeros(3).put(lib.tensor([1]), 2.0)", "source'? .*must be (a )?Tensor"),
    ],
)
def test_put_refuses_what_torch_refuses(call: str, message: str) -> None:
    from torch_parity import refused_by_both as refused

    error = TypeError if "Tensor" in message else TinyLMError
    refused(call, error, f"put: .*{message}" if error is TinyLMError else message)


def test_put_without_accumulate_refuses_a_position_named_twice() -> None:
    """torch leaves the result undefined (either value may win); tinylm refuses."""
    with pytest.raises(TinyLMError, match="put: the index names a place more than once"):
        tinylm.zeros(2, 2).put(tinylm.tensor([1, -3]), tinylm.ones(2))


@pytest.mark.parametrize("name", ["dropout_", "alpha_dropout_"])
def test_dropout_in_place_draws_as_torchs(name: str) -> None:
    """Other random draws than torch's, the same distribution: x (a strided view) is
    returned and holds two values only, the same two as torch's, the dropped one in a
    fraction p of the places; its base sees the write and the version moves."""
    p, kept_dropped = 0.3, []
    for lib in (tinylm, torch):
        base = lib.ones(200, 100, dtype=lib.float64)
        x = base[:, ::2]
        before = x._version
        assert getattr(lib, name)(x, p, True) is x and x._version > before
        v = x.numpy()
        np.testing.assert_array_equal(base.numpy()[:, 1::2], 1.0)  # the other columns
        np.testing.assert_array_equal(base.numpy()[:, ::2], v)
        dropped = 0.0 if name == "dropout_" else v.min()
        kept = 1 / (1 - p) if name == "dropout_" else v.max()
        assert set(np.unique(v)) == {dropped, kept}
        assert abs((v == dropped).mean() - p) < 0.02
        kept_dropped.append((kept, dropped))
    np.testing.assert_allclose(*kept_dropped, rtol=1e-12)


@pytest.mark.parametrize("name", ["dropout_", "alpha_dropout_"])
@pytest.mark.parametrize("p, train", [(0.5, False), (0.0, True)])
def test_dropout_in_place_out_of_training_leaves_x_alone(name: str, p: float, train: bool) -> None:
    """As torch: not written, the version unchanged, allowed on a leaf requiring grad."""
    for lib in (tinylm, torch):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        assert getattr(lib, name)(x, p, train) is x
        assert x._version == 0 and x.tolist() == [1.0, -2.0]


def test_dropout_in_place_refuses_what_torch_refuses() -> None:
    from torch_parity import refused_by_both as refused

    refused("lib.dropout_(lib.ones(3), 1.5, True)", TinyLMError, "dropout: p must be")
    refused("lib.alpha_dropout_(lib.ones(3), -0.5, False)", TinyLMError, "alpha_dropout: p ")
    refused(
        "lib.dropout_(lib.ones(3, dtype=lib.int64), 0.5, True)",
        TinyLMError,
        "dropout_: result type float32 can't be cast to the desired output type int64",
    )
    refused(
        "lib.dropout_(lib.ones(3, requires_grad=True), 0.5, True)",
        TinyLMError,
        "dropout_: in-place changes to a tensor that requires grad",
    )
    for lib in (tinylm, torch):  # p = 1: zeros, which an int tensor holds
        x = lib.tensor([3, 4])
        assert lib.dropout_(x, 1.0, True).tolist() == [0, 0] and x.dtype == lib.int64
