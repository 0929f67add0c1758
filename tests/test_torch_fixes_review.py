"""Silent differences from PyTorch found in review, each checked against torch itself on
the same values: strides of size-1 dims (unsqueeze, None indexing, expand), Python numbers
written into integer tensors, ``Module.state_dict``'s prefix/destination/keep_vars,
``F.pad``'s non-constant modes (ranks, negative pads), xlogy's gradient where the upstream
gradient is 0, bool subtraction and negation, integer ``index_add`` with a float alpha,
optimizer state dicts of tensors, and the distribution of the vectorised ``multinomial``.
Skipped without torch (a test-only dependency).
"""

from __future__ import annotations

from collections import OrderedDict
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import (  # noqa: E402 - after the skip
    check_against_torch,
    refused_by_both,
    same_dtype_and_values,
    values,
)

pytestmark = pytest.mark.torch

RNG = np.random.default_rng(2026)


def in_both(make: Any) -> tuple[Any, Any]:
    return make(tinylm), make(torch)


# ---- 1. strides of size-1 dims ----------------------------------------------------------

VIEWS = {
    "unsqueeze(0)": lambda x, lib: x.unsqueeze(0),
    "unsqueeze(1)": lambda x, lib: x.unsqueeze(1),
    "unsqueeze(-1)": lambda x, lib: x.unsqueeze(-1),
    "x[None]": lambda x, lib: x[None],
    "x[:, None]": lambda x, lib: x[:, None],
    "x[..., None]": lambda x, lib: x[..., None],
    "x[None, :, None]": lambda x, lib: x[None, :, None],
    "x[None, None]": lambda x, lib: x[None, None],
    "x[:, None, None]": lambda x, lib: x[:, None, None],
    "x[None, 1]": lambda x, lib: x[None, 1],
    "x[1, None]": lambda x, lib: x[1, None],
    "x[:, 1, None]": lambda x, lib: x[:, 1, None],
    "x[None, ..., None]": lambda x, lib: x[None, ..., None],
    "x[1:2, None]": lambda x, lib: x[1:2, None],
    "x[None, ::2]": lambda x, lib: x[None, ::2],
    "x[0, 0][None, None]": lambda x, lib: x[0, 0][None, None],
    "x[None].expand": lambda x, lib: x[None].expand(1, *x.shape),
    "x[:, None].expand": lambda x, lib: x[:, None].expand(x.shape[0], 4, x.shape[1]),
    "unsqueeze_": lambda x, lib: x.detach().unsqueeze_(-1),
    "lib.unsqueeze": lambda x, lib: lib.unsqueeze(x, 2),
}
BASES = {
    "contiguous": lambda lib: lib.arange(12.0).reshape(3, 4),
    "transposed": lambda lib: lib.arange(12.0).reshape(4, 3).t(),
    "strided": lambda lib: lib.arange(24.0).reshape(3, 8)[:, ::2],
    "offset": lambda lib: lib.arange(20.0).reshape(4, 5)[1:, 1:],
}


@pytest.mark.parametrize("base", sorted(BASES))
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_size_one_dims_have_torchs_strides(view: str, base: str) -> None:
    """The stride PyTorch gives a new size-1 dim (size·stride of the dim it lands before,
    1 at the end) rather than NumPy's 0; values, storage offsets and writes through the
    view are unchanged."""
    ours, theirs = in_both(lambda lib: VIEWS[view](BASES[base](lib), lib))
    assert ours.shape == tuple(theirs.shape)
    assert ours.stride() == theirs.stride()
    assert ours.is_contiguous() == theirs.is_contiguous()
    assert ours.storage_offset() == theirs.storage_offset()
    np.testing.assert_array_equal(values(ours), values(theirs))


def test_writes_through_a_none_view_reach_the_base_and_the_gradient_flows() -> None:
    def build(lib: ModuleType, t: list[Any]) -> Any:
        x = t[0].t()
        return x[None, :, None] * 2, x.unsqueeze(-1)

    check_against_torch(build, [RNG.standard_normal((4, 3))])
    x = tinylm.zeros(2, 3)
    x[:, None][1, 0, 2] = 5.0
    assert x.numpy()[1, 2] == 5.0


# ---- 2. Python numbers written into integer tensors -------------------------------------

WRITES = {
    "fill_": lambda lib, dt, v: lib.zeros(3, dtype=dt).fill_(v),
    "full": lambda lib, dt, v: lib.full((3,), v, dtype=dt),
    "new_full": lambda lib, dt, v: lib.zeros(2, dtype=dt).new_full((3,), v),
    "full_like": lambda lib, dt, v: lib.full_like(lib.zeros(3, dtype=dt), v),
    "masked_fill": lambda lib, dt, v: lib.zeros(3, dtype=dt).masked_fill(
        lib.tensor([True, False, True]), v
    ),
    "masked_fill_": lambda lib, dt, v: lib.zeros(3, dtype=dt).masked_fill_(
        lib.tensor([True, False, True]), v
    ),
    "setitem": lambda lib, dt, v: _setitem(lib.zeros(3, dtype=dt), v),
    "index_fill": lambda lib, dt, v: lib.zeros(3, dtype=dt).index_fill(0, lib.tensor([1]), v),
}


def _setitem(x: Any, v: Any) -> Any:
    x[1:] = v
    return x


ACCEPTED = [
    ("uint8", -1),
    ("uint8", -255),
    ("uint8", -128),
    ("uint8", 255),
    ("uint8", 1.7),
    ("int8", -128),
    ("int8", -1.7),
    ("int8", -127.5),
    ("int16", 300.5),
    ("int32", -2147483648),
    ("int64", -(2**63)),
    ("bool", -1),
    ("bool", 0.0),
    ("uint8", True),
]
REFUSED = [
    ("uint8", -256),
    ("uint8", 256),
    ("uint8", -0.5),
    ("uint8", 255.5),
    ("uint8", -1.0),
    ("int8", 200),
    ("int8", 128),
    ("int8", -129),
    ("int8", 127.9),
    ("int8", -128.9),
    ("int16", 32767.5),
    ("int32", 2147483648),
    ("int64", 2**63),
    ("int32", float("inf")),
    ("int64", float("nan")),
]


@pytest.mark.parametrize("op", sorted(WRITES))
@pytest.mark.parametrize(("dtype", "value"), ACCEPTED)
def test_numbers_written_into_integer_tensors_wrap_as_torchs(
    op: str, dtype: str, value: Any
) -> None:
    """PyTorch's rule: a negative int into an unsigned dtype wraps if its magnitude fits
    (uint8: -1 → 255, -255 → 1); a float is truncated toward 0 once it lies in the range."""
    ours, theirs = in_both(lambda lib: WRITES[op](lib, getattr(lib, dtype), value))
    assert str(ours.dtype) == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(values(ours), values(theirs))


@pytest.mark.parametrize("op", sorted(WRITES))
@pytest.mark.parametrize(("dtype", "value"), REFUSED)
def test_numbers_out_of_an_integer_dtypes_range_are_refused(
    op: str, dtype: str, value: Any
) -> None:
    refused_by_both(
        lambda lib: WRITES[op](lib, getattr(lib, dtype), value),
        TinyLMError,
        rf"value {value!r} cannot be converted to {dtype} without overflow",
    )


# ---- 3. Module.state_dict ----------------------------------------------------------------


def _twin_modules() -> tuple[Any, Any]:
    ours = tinylm.nn.Sequential(tinylm.nn.Linear(2, 3), tinylm.nn.LayerNorm(3))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LayerNorm(3))
    return ours, theirs


@pytest.mark.parametrize("prefix", ["", "model", "model.", "a.b_"])
def test_state_dict_prefix_is_prepended_verbatim(prefix: str) -> None:
    ours, theirs = _twin_modules()
    assert list(ours.state_dict(prefix=prefix)) == list(theirs.state_dict(prefix=prefix))


def test_state_dict_fills_destination_and_keeps_vars_as_torch() -> None:
    ours, theirs = _twin_modules()
    for m in (ours, theirs):
        dest: OrderedDict[str, Any] = OrderedDict(first=1)
        out = m.state_dict(destination=dest, prefix="m.")
        assert out is dest
        assert list(out)[0] == "first" and "m.0.weight" in out
        kept = m.state_dict(keep_vars=True)
        assert kept["0.weight"] is m[0].weight and kept["0.weight"].requires_grad
        assert not m.state_dict()["0.weight"].requires_grad
    plain = {}
    assert ours.state_dict(destination=plain) is plain and "1.bias" in plain
    with pytest.warns(FutureWarning, match="Positional args"):
        positional = ours.state_dict(None, "p.")
    assert list(positional) == list(theirs.state_dict(prefix="p."))


def test_state_dict_refuses_what_torch_refuses() -> None:
    ours, _ = _twin_modules()
    with pytest.raises(TinyLMError, match="state_dict: .*destination must be a dict"):
        ours.state_dict(destination=[])
    with pytest.raises(TinyLMError, match="state_dict: at most 3 positional"):
        ours.state_dict(None, "", False, 1)


# ---- 4. F.pad's non-constant modes -------------------------------------------------------

PAD_CASES = [
    ((3, 6), (1, 2)),
    ((2, 3, 6), (2, 1)),
    ((3, 4, 6), (1, 2, 3, 1)),
    ((2, 3, 4, 6), (1, 2, 3, 1)),
    ((3, 4, 5, 6), (1, 2, 1, 1, 2, 1)),
    ((2, 2, 4, 5, 6), (1, 2, 1, 1, 2, 1)),
    ((2, 6), (-1, 2)),
    ((2, 6), (2, -1)),
    ((2, 6), (-2, -2)),
    ((2, 6), (-3, 3)),
    ((2, 6), (-5, 0)),
    ((2, 6), (5, -2)),
    ((1, 4, 6), (-1, 2, 2, -3)),
]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(("shape", "pads"), PAD_CASES)
def test_pad_modes_match_torch_with_negative_pads(mode: str, shape: Any, pads: Any) -> None:
    """Negative pads crop: reflect and replicate read the original tensor beyond the crop,
    circular wraps the cropped one (PyTorch's behaviour, both)."""

    def build(lib: ModuleType, t: list[Any]) -> Any:
        F = tinylm.nn.functional if lib is tinylm else torch.nn.functional  # noqa: N806
        return F.pad(t[0].transpose(-1, -2).transpose(-1, -2), pads, mode=mode)

    if mode == "circular" and pads in ((5, -2), (-1, 2, 2, -3)):
        pytest.skip("more than the cropped size: refused, see test_pad_limits_as_torch")
    check_against_torch(build, [RNG.standard_normal(shape)])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    ("shape", "pads", "message"),
    [
        ((6,), (1, 1), "needs a 2-D or 3-D input"),
        ((3, 3, 3, 6), (1, 1), "needs a 2-D or 3-D input"),
        ((3, 6), (1, 1, 1, 1), "needs a 3-D or 4-D input"),
        ((3, 3, 3, 3, 6), (1, 1, 1, 1), "needs a 3-D or 4-D input"),
        ((3, 6), (1, 1, 1, 1, 1, 1), "at most 2 per dim"),
        ((3, 3, 6), (1, 1, 1, 1, 1, 1), "needs a 4-D or 5-D input"),
        ((3, 3, 3, 3, 3, 6), (1,) * 8, "1 to 3 dims"),
        ((2, 6), (-3, -3), "leave"),
        ((2, 6), (-3, -4), "leave"),
    ],
)
def test_pad_refuses_what_torch_refuses(mode: str, shape: Any, pads: Any, message: str) -> None:
    if mode == "circular" and pads == (-3, -3):
        pytest.skip("torch gives an empty tensor for circular; covered below")
    refused_by_both(
        lambda lib: (tinylm.nn.functional if lib is tinylm else torch.nn.functional).pad(
            lib.ones(shape), pads, mode=mode
        ),
        TinyLMError,
        f"pad: .*{message}",
        (RuntimeError, NotImplementedError, ValueError),
    )


@pytest.mark.parametrize(
    ("mode", "pads", "message"),
    [
        ("reflect", (6, 0), "less than the size"),
        ("reflect", (-1, 6), "less than the size"),
        ("circular", (7, -1), "at most the size"),
        ("circular", (-4, 4), "at most the size"),
        ("circular", (5, -2), "at most the size"),
    ],
)
def test_pad_limits_as_torch(mode: str, pads: Any, message: str) -> None:
    """Circular pads beyond the cropped size: torch refuses (7, -1) ("wrapping around
    more than once"), but for (-4, 4) and (5, -2) its answer depends on where the input
    lies in memory (an overlap error, or values read from outside it), so tinylm refuses
    those without asking torch."""
    refused_by_both(
        lambda lib: (tinylm.nn.functional if lib is tinylm else torch.nn.functional).pad(
            lib.ones(2, 6), pads, mode=mode
        ),
        TinyLMError,
        f"pad: .*{message}",
        None if pads in ((-4, 4), (5, -2)) else (RuntimeError,),
    )


def test_circular_pad_may_crop_to_nothing_as_torch() -> None:
    same_dtype_and_values(
        "F.pad(lib.ones(2, 6), (-3, -3), mode='circular')",
        lambda lib: {"F": tinylm.nn.functional if lib is tinylm else torch.nn.functional},
    )


# ---- 5. xlogy's gradient where the upstream gradient is 0 --------------------------------


@pytest.mark.parametrize("name", ["xlogy", "special.xlog1py"])
def test_xlogy_gradient_is_zero_where_the_upstream_gradient_is(name: str) -> None:
    x = np.array([[0.0, 1.0, 0.0, 2.0, -1.5], [0.0, 3.0, 1.0, 0.5, 2.0]])
    pole = -1.0 if "1p" in name else 0.0
    y = np.array([[pole, pole, 1.0, 3.0, pole], [pole - 1, pole, 2.0, 0.5, 4.0]])
    upstream = np.array([[0.0, 0.0, 1.3, 0.0, 0.0], [0.0, -0.7, 0.0, 0.0, 2.0]])

    def grads(lib: ModuleType) -> list[np.ndarray]:
        a, b = (lib.tensor(v, requires_grad=True) for v in (x, y))
        f = lib.xlogy if name == "xlogy" else lib.special.xlog1py
        (f(a.t().t(), b) * lib.tensor(upstream)).sum().backward()
        return [values(a.grad), values(b.grad)]

    for ours, theirs in zip(*in_both(grads)):
        np.testing.assert_array_equal(ours, theirs)


# ---- 6. bool subtraction and negation ----------------------------------------------------

ONE_BOOL = "Subtraction, the `-` operator, with a bool tensor is not supported"
TWO_BOOLS = "Subtraction, the `-` operator, with two bool tensors is not supported"
NEGATION = "Negation, the `-` operator, on a bool tensor is not supported"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("lib.tensor([1, 2]) - True", ONE_BOOL),
        ("True - lib.tensor([1, 2])", ONE_BOOL),
        ("lib.tensor([True, False]) - 1", ONE_BOOL),
        ("1 - lib.tensor([True, False])", ONE_BOOL),
        ("lib.tensor([True, False]) - 1.5", ONE_BOOL),
        ("lib.tensor([1.0, 2.0]) - True", ONE_BOOL),
        ("lib.tensor([1, 2]) - lib.tensor([True, False])", ONE_BOOL),
        ("lib.tensor([1, 2]).sub(lib.tensor([True, False]), alpha=2)", ONE_BOOL),
        ("lib.tensor([1, 2]).sub(True)", ONE_BOOL),
        ("lib.sub(lib.tensor([True, False]), 1)", ONE_BOOL),
        ("lib.subtract(lib.tensor([True, False]), 1)", ONE_BOOL),
        ("lib.tensor([1, 2]).sub_(True)", ONE_BOOL),
        ("lib.tensor([True, False]) - lib.tensor([True, True])", TWO_BOOLS),
        ("lib.tensor([True, False]) - True", TWO_BOOLS),
        ("lib.tensor([True, False]).sub(lib.tensor([True, True]))", TWO_BOOLS),
        ("-lib.tensor([True, False])", NEGATION),
        ("lib.tensor([True, False]).neg()", NEGATION),
        ("lib.neg(lib.tensor([True, False]))", NEGATION),
        ("lib.negative(lib.tensor([True, False]))", NEGATION),
        ("lib.tensor([True, False]).neg_()", NEGATION),
    ],
)
def test_bool_subtraction_and_negation_are_refused_as_torch(call: str, message: str) -> None:
    refused_by_both(call, TinyLMError, message.replace("(", r"\(").replace(")", r"\)"))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("lib.tensor([1, 2]).add(1, alpha=True)", "Boolean alpha only supported for Boolean"),
        ("lib.tensor([1.0, 2.0]).sub(1, alpha=True)", "Boolean alpha only supported for Boolean"),
        ("lib.tensor([1, 2]).add(1, alpha=2.5)", "alpha must not be a floating point number"),
        ("lib.tensor([1, 2]).sub(1, alpha=0.5)", "alpha must not be a floating point number"),
    ],
)
def test_add_and_sub_check_alpha_as_torch(call: str, message: str) -> None:
    refused_by_both(call, TinyLMError, message)


@pytest.mark.parametrize(
    "call",
    [
        "lib.tensor([True, False]).add(lib.tensor([True, True]), alpha=2)",
        "lib.tensor([True, False]).add(lib.tensor([False, False]), alpha=True)",
        "lib.tensor([True, False]).add(lib.tensor([True, False]), alpha=0)",
        "lib.tensor([True, False]).add(1, alpha=2)",
        "lib.tensor([1, 2]).add(lib.tensor([True, False]), alpha=-1)",
        "lib.tensor([True, False]) + lib.tensor([True, True])",
        "lib.tensor([1, 2]).sub(3, alpha=2)",
        "lib.tensor([1.0, 2.0], dtype=lib.float64).sub(3, alpha=0.5)",
    ],
)
def test_bool_and_alpha_arithmetic_torch_allows(call: str) -> None:
    same_dtype_and_values(call, lambda lib: {}, rtol=None)


# ---- 7. integer index_add with a float alpha ---------------------------------------------


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int16", "float64"])
@pytest.mark.parametrize("alpha", [2.5, 2.7, 0.5, -2.5, True, 3])
def test_index_add_casts_alpha_to_the_dtype_as_torch(dtype: str, alpha: Any) -> None:
    def call(lib: ModuleType, inplace: bool) -> Any:
        dt = getattr(lib, dtype)
        x = lib.tensor([[1, 2], [3, 4], [5, 6]], dtype=dt)
        src = lib.tensor([[1, 2], [3, 4], [5, 7]], dtype=dt)
        index = lib.tensor([0, 2, 0])
        if inplace:
            return x.index_add_(0, index, src, alpha=alpha)
        return lib.index_add(x, 0, index, src, alpha=alpha)

    for inplace in (False, True):
        try:
            theirs = call(torch, inplace)
        except RuntimeError:
            with pytest.raises(TinyLMError, match="alpha: value .* cannot be converted"):
                call(tinylm, inplace)
            continue
        ours = call(tinylm, inplace)
        assert str(ours.dtype) == dtype
        np.testing.assert_allclose(values(ours), values(theirs), rtol=1e-15)


def test_float_index_add_with_alpha_keeps_its_gradient() -> None:
    def build(lib: ModuleType, t: list[Any]) -> Any:
        return t[0].t().index_add(1, lib.tensor([0, 2, 0]), t[1], alpha=-1.5)

    check_against_torch(build, [RNG.standard_normal((4, 2)), RNG.standard_normal((2, 3))])


# ---- 8. optimizer state dicts ------------------------------------------------------------

OPTIMIZERS = {
    "SGD": {"lr": 0.1, "momentum": 0.9},
    "Adam": {"lr": 0.01},
    "AdamW": {"lr": 0.01},
    "NAdam": {"lr": 0.01},
    "RAdam": {"lr": 0.01},
    "Adamax": {"lr": 0.01},
    "Adagrad": {"lr": 0.1},
    "Adadelta": {"lr": 1.0},
    "RMSprop": {"lr": 0.01},
    "Rprop": {"lr": 0.01},
    "ASGD": {"lr": 0.01},
    "Adafactor": {"lr": 0.01},
}


def _trained(lib: ModuleType, name: str, dtype: Any, w0: np.ndarray, steps: int = 3) -> Any:
    w = lib.tensor(w0, dtype=dtype, requires_grad=True)
    opt = getattr(lib.optim, name)([w], **OPTIMIZERS[name])
    for _ in range(steps):
        opt.zero_grad()
        (w * w * w).sum().backward()
        opt.step()
    return w, opt


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_state_dict_holds_tensors_as_torch(name: str, dtype: str) -> None:
    """Arrays as Tensors of the parameter's dtype, ``step`` as a 0-d float32 tensor, with
    torch's values. NAdam's mu_product and ASGD's eta and mu are float64 (tinylm computes
    them in float64, and resuming from float32 copies would drift): the one difference."""
    w0 = RNG.uniform(0.5, 1.5, (2, 3))
    (_, ours), (_, theirs) = (
        _trained(lib, name, getattr(lib, dtype), w0) for lib in (tinylm, torch)
    )
    a, b = ours.state_dict()["state"][0], theirs.state_dict()["state"][0]
    assert list(a) == list(b)
    for key in b:
        assert isinstance(a[key], tinylm.Tensor), key
        wide = key in ("mu_product", "eta", "mu")
        assert str(a[key].dtype) == ("float64" if wide else str(b[key].dtype).split(".")[-1])
        assert a[key].shape == tuple(b[key].shape), key
        np.testing.assert_allclose(values(a[key]), values(b[key]), rtol=1e-5, err_msg=key)


def test_optimizer_scalar_state_follows_the_default_dtype() -> None:
    for lib in (tinylm, torch):
        lib.set_default_dtype(lib.float64)
        try:
            _, opt = _trained(lib, "Adam", lib.float32, np.ones((2, 2)))
            assert str(opt.state_dict()["state"][0]["step"].dtype).endswith("float64")
        finally:
            lib.set_default_dtype(lib.float32)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_resumes_from_tensors_torchs_state_and_old_arrays(name: str) -> None:
    """Loading the state dict (as tensors, as a torch optimizer's converted, or as the
    NumPy arrays and Python numbers older tinylm checkpoints hold) and stepping on gives
    the same parameters as never stopping."""
    w0 = RNG.uniform(0.5, 1.5, (2, 3))
    w_full, _ = _trained(tinylm, name, tinylm.float64, w0, steps=5)
    w_half, opt_half = _trained(tinylm, name, tinylm.float64, w0, steps=3)
    saved = opt_half.state_dict()
    old = {
        "state": {
            i: {
                k: (v.numpy() if v.ndim else (int(v) if k == "step" else float(v)))
                for k, v in s.items()
            }
            for i, s in saved["state"].items()
        },
        "param_groups": saved["param_groups"],
    }
    for state in (saved, old):
        w = tinylm.tensor(w_half.detach().numpy(), requires_grad=True)
        opt = getattr(tinylm.optim, name)([w], **OPTIMIZERS[name])
        opt.load_state_dict(state)
        for _ in range(2):
            opt.zero_grad()
            (w * w * w).sum().backward()
            opt.step()
        np.testing.assert_array_equal(w.detach().numpy(), w_full.detach().numpy())


def test_optimizer_state_dict_is_saved_and_loaded_by_tinylm_save(tmp_path: Any) -> None:
    w, opt = _trained(tinylm, "Adam", tinylm.float32, np.ones((2, 2)))
    tinylm.save(opt.state_dict(), tmp_path / "opt.npz")
    loaded = tinylm.load(tmp_path / "opt.npz")
    assert isinstance(loaded["state"][0]["step"], tinylm.Tensor)
    again = tinylm.optim.Adam([w], lr=0.01)
    again.load_state_dict(loaded)
    assert again.state_dict()["state"][0]["step"].item() == 3.0


# ---- 9. multinomial, vectorised over rows ------------------------------------------------


def test_multinomial_with_replacement_draws_each_rows_distribution() -> None:
    """Many rows with different weights at once: each row's frequencies within a few
    standard errors of its own probabilities (a shared or shifted row would fail)."""
    weights = np.array([[0.1, 0.0, 0.6, 0.3], [1.0, 1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 5.0]])
    rows = np.repeat(weights, 400, axis=0)  # 1200 rows of 50 draws
    draws = tinylm.multinomial(
        tinylm.tensor(rows), 50, True, generator=tinylm.Generator().manual_seed(3)
    )
    assert draws.shape == (1200, 50) and str(draws.dtype) == "int64"
    got = draws.numpy().reshape(3, -1)
    for row, w in zip(got, weights):
        p = w / w.sum()
        freq = np.bincount(row, minlength=4) / row.size
        assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / row.size) + 1e-12)


def test_multinomial_without_replacement_draws_in_sequential_order() -> None:
    """Draws without replacement have the law of one draw after another, each among the
    categories left: P(a then b) = w_a / W · w_b / (W − w_a), checked over 30000 rows."""
    w = np.array([1.0, 2.0, 3.0, 0.0, 4.0])
    n = 30000
    draws = tinylm.multinomial(
        tinylm.tensor(np.tile(w, (n, 1))), 2, generator=tinylm.Generator().manual_seed(11)
    ).numpy()
    assert draws.shape == (n, 2)
    assert not np.any(draws == 3) and np.all(draws[:, 0] != draws[:, 1])
    total = w.sum()
    counts = np.zeros((5, 5))
    np.add.at(counts, (draws[:, 0], draws[:, 1]), 1)
    for a in range(5):
        for b in range(5):
            p = 0.0 if a == b else w[a] / total * w[b] / (total - w[a])
            assert abs(counts[a, b] / n - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12, (a, b)
    full = tinylm.multinomial(tinylm.tensor(np.tile(w, (50, 1))), 4).numpy()
    assert all(sorted(r) == [0, 1, 2, 4] for r in full)


def test_multinomial_draws_depend_only_on_the_generator() -> None:
    w = tinylm.tensor(RNG.random((7, 9)))
    for replacement in (True, False):
        a = tinylm.multinomial(w, 5, replacement, generator=tinylm.Generator().manual_seed(5))
        b = w.multinomial(5, replacement, generator=tinylm.Generator().manual_seed(5))
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        one = tinylm.multinomial(w[0], 5, replacement, generator=tinylm.Generator().manual_seed(5))
        assert one.shape == (5,)


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial_of_no_rows_is_empty_as_torch(replacement: bool) -> None:
    same_dtype_and_values(
        f"lib.multinomial(lib.zeros(0, 3), 2, {replacement})", lambda lib: {}, rtol=None
    )
