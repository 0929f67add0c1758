"""Cross-entropy and NLL with per-class weights and with probability targets
(``nn/functional/weighted_losses.py``), their Modules' weight buffers, and the binary
cross-entropies' weights of other dtypes, against PyTorch itself: the same call in both
libraries on the same float64 values, the same values, shapes and dtypes, and the same
gradient of every float input for a random upstream gradient (strided inputs too), every
reduction, ignored and all-ignored targets (PyTorch's NaN), (N, C, d1, d2) layouts; and the
same refusals, one line each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import check_against_torch, refused_by_both, values  # noqa: E402

pytestmark = pytest.mark.torch

REDUCTIONS = pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
RNG = np.random.default_rng(7)


def functional(lib: Any) -> Any:
    return tinylm.nn.functional if lib is tinylm else torch.nn.functional


def _probs(shape: tuple[int, ...], rng: np.random.Generator = RNG) -> np.ndarray:
    """Random class probabilities along dim 1 (dim 0 for a 1-d shape)."""
    p = rng.random(shape) + 0.05
    return p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)


# (scores' shape, the class-index targets' shape): (C,), (N, C), (N, C, d1), (N, C, d1, d2)
LAYOUTS = [((5,), ()), ((6, 5), (6,)), ((3, 5, 4), (3, 4)), ((2, 5, 3, 2), (2, 3, 2))]


def _targets(shape: tuple[int, ...], ignore: bool) -> np.ndarray:
    t = RNG.integers(0, 5, shape)
    if ignore and t.size > 1:
        t.reshape(-1)[::3] = -100
    return t


# ---- class-index targets with per-class weights ----------------------------------------


@REDUCTIONS
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize(("shape", "tshape"), LAYOUTS)
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_with_class_weights(
    reduction: str, smoothing: float, shape: tuple, tshape: tuple, ignore: bool
) -> None:
    """Σ w_t·(−log softmax) / Σ w_t for "mean" (over the kept targets' weights), label
    smoothing's term weighted by class and divided by the same Σ w_t, as PyTorch 2.13."""
    x, t, w = RNG.standard_normal(shape) * 3, _targets(tshape, ignore), RNG.random(5) + 0.1

    def build(lib: Any, leaves: list) -> Any:
        return functional(lib).cross_entropy(
            leaves[0],
            leaves[1],
            weight=lib.tensor(w),
            reduction=reduction,
            label_smoothing=smoothing,
        )

    check_against_torch(build, [x, t])


@REDUCTIONS
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_weighted_cross_entropy_of_strided_scores(reduction: str, smoothing: float) -> None:
    """Transposed scores and a strided weight: the same values and gradients."""
    xt, t, w = RNG.standard_normal((4, 7)), np.array([0, 3, 1, 3, 2, 0, -100]), RNG.random(8)

    def build(lib: Any, leaves: list) -> Any:
        weight = lib.tensor(w)[::2]
        return functional(lib).cross_entropy(
            leaves[0].mT, leaves[1], weight, reduction=reduction, label_smoothing=smoothing
        )

    check_against_torch(build, [xt, t])


@pytest.mark.parametrize(
    ("loss", "kwargs"),
    [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.4}), ("nll_loss", {})],
)
def test_all_ignored_targets_give_torchs_nan_and_zero_gradients(loss: str, kwargs: dict) -> None:
    """Every target ignored: the mean is 0/0, NaN, with zero gradients; the sum is 0."""
    x, t, w = RNG.standard_normal((4, 3)), np.full(4, -100), RNG.random(3)

    def build(lib: Any, leaves: list) -> Any:
        f = getattr(functional(lib), loss)
        w_ = lib.tensor(w)
        return (
            f(leaves[0], leaves[1], w_, **kwargs),
            f(leaves[0], leaves[1], w_, reduction="sum", **kwargs),
            f(leaves[0], leaves[1], w_, reduction="none", **kwargs),
        )

    check_against_torch(build, [x, t])
    out = functional(tinylm).cross_entropy(tinylm.tensor(x), tinylm.tensor(t), tinylm.tensor(w))
    assert np.isnan(out.item())


def test_zero_weight_total_is_nan_as_torchs() -> None:
    """Targets kept but all of weight 0: W = 0, a NaN mean and NaN gradients on those rows
    (0·∞), as PyTorch's, for both losses; rows whose target is ignored keep zero gradients."""
    x, t = RNG.standard_normal((4, 3)), np.array([0, 0, -100, 0])
    w = np.array([0.0, 1.0, 2.0])

    def build(lib: Any, leaves: list) -> Any:
        f = functional(lib)
        return (
            f.cross_entropy(leaves[0], leaves[1], lib.tensor(w)),
            f.nll_loss(leaves[0], leaves[1], lib.tensor(w)),
        )

    check_against_torch(build, [x, t])


@pytest.mark.parametrize("ignore_index", [-100, 2, 0])
def test_ignore_index_with_weights(ignore_index: int) -> None:
    """A class's own index as ignore_index drops its rows and its weight from the mean."""
    x, t, w = RNG.standard_normal((8, 4)), RNG.integers(0, 4, 8), RNG.random(4)

    def build(lib: Any, leaves: list) -> Any:
        f = functional(lib)
        kw = {"weight": lib.tensor(w), "ignore_index": ignore_index}
        return (
            f.cross_entropy(leaves[0], leaves[1], **kw),
            f.cross_entropy(leaves[0], leaves[1], label_smoothing=0.1, **kw),
            f.nll_loss(f.log_softmax(leaves[0], 1), leaves[1], **kw),
        )

    check_against_torch(build, [x, t])


def test_uint8_targets_and_float32_scores_with_weights() -> None:
    """uint8 class indices (PyTorch's Byte) and float32 scores with a float32 weight: the
    result float32, its gradient float32, close to PyTorch's. (PyTorch 2.13 fails on uint8
    targets with both weight and label smoothing, in its gather; tinylm computes them.)"""
    x, t, w = RNG.standard_normal((5, 4)).astype(np.float32), RNG.integers(0, 4, 5), RNG.random(4)

    def build(lib: Any, leaves: list) -> Any:
        f = functional(lib)
        tt = leaves[1].to(lib.uint8)
        ww = lib.tensor(w, dtype=lib.float32)
        return (
            f.cross_entropy(leaves[0], tt, ww),
            f.cross_entropy(leaves[0], tt, ww, reduction="none"),
            f.nll_loss(leaves[0], tt, ww, reduction="none"),
        )

    check_against_torch(build, [x, t], rtol=1e-6, atol=1e-6)


# ---- nll_loss with weights ---------------------------------------------------------------


@REDUCTIONS
@pytest.mark.parametrize(("shape", "tshape"), LAYOUTS)
@pytest.mark.parametrize("ignore", [False, True])
def test_nll_loss_with_class_weights(
    reduction: str, shape: tuple, tshape: tuple, ignore: bool
) -> None:
    x, t, w = RNG.standard_normal(shape), _targets(tshape, ignore), RNG.random(5)

    def build(lib: Any, leaves: list) -> Any:
        return functional(lib).nll_loss(leaves[0], leaves[1], lib.tensor(w), reduction=reduction)

    check_against_torch(build, [x, t])


@REDUCTIONS
def test_weighted_nll_loss_of_strided_input(reduction: str) -> None:
    xt, t, w = RNG.standard_normal((3, 6)), np.array([2, 0, -100, 1, 1, 0]), RNG.random(3)

    def build(lib: Any, leaves: list) -> Any:
        return functional(lib).nll_loss(
            leaves[0].mT, leaves[1], lib.tensor(w), ignore_index=-100, reduction=reduction
        )

    check_against_torch(build, [xt, t])


# ---- probability targets -------------------------------------------------------------------


@REDUCTIONS
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("shape", [s for s, _ in LAYOUTS])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_probability_targets(
    reduction: str, smoothing: float, shape: tuple, weighted: bool
) -> None:
    """−Σ_c w_c q_c log softmax(x)_c with q = (1 − ε) p + ε/C, "mean" over the rows: the
    values and the gradients of the scores, the probabilities and the weight."""
    arrays = [RNG.standard_normal(shape) * 2, _probs(shape)]
    if weighted:
        arrays.append(RNG.random(5) + 0.2)

    def build(lib: Any, leaves: list) -> Any:
        w = leaves[2] if weighted else None
        return functional(lib).cross_entropy(
            leaves[0], leaves[1], w, reduction=reduction, label_smoothing=smoothing
        )

    check_against_torch(build, arrays)


@REDUCTIONS
def test_probability_targets_strided(reduction: str) -> None:
    """Transposed scores and probabilities, a strided weight."""
    xt, pt, w = RNG.standard_normal((5, 6)), _probs((6, 5)).T.copy(), RNG.random(10)

    def build(lib: Any, leaves: list) -> Any:
        return functional(lib).cross_entropy(
            leaves[0].mT, leaves[1].mT, leaves[2][::2], reduction=reduction, label_smoothing=0.1
        )

    check_against_torch(build, [xt, pt, w])


def test_probability_targets_are_not_checked_as_in_torch() -> None:
    """Negative or unnormalised "probabilities" (and a one-hot of −inf scores' classes):
    PyTorch computes the formula as it stands, and so does tinylm."""
    x = RNG.standard_normal((4, 3))
    p = RNG.standard_normal((4, 3)) * 2

    def build(lib: Any, leaves: list) -> Any:
        f = functional(lib)
        return (
            f.cross_entropy(leaves[0], leaves[1]),
            f.cross_entropy(leaves[0], leaves[1], reduction="none", label_smoothing=0.5),
        )

    check_against_torch(build, [x, p])


@pytest.mark.parametrize(
    ("x_dtype", "p_dtype", "w_dtype"),
    [
        ("float32", "float64", None),
        ("float64", "float32", None),
        ("float32", "float32", "float64"),
        ("float64", "float64", "float32"),
        ("float32", "float64", "float32"),
    ],
)
def test_probability_targets_of_mixed_float_dtypes_promote_as_torch(
    x_dtype: str, p_dtype: str, w_dtype: str | None
) -> None:
    """Scores, probabilities and weight of different float dtypes: computed in their common
    dtype (the result's), each gradient in its input's own dtype."""
    x, p, w = RNG.standard_normal((4, 3)), _probs((4, 3)), RNG.random(3) + 0.5

    def build(lib: Any, leaves: list) -> Any:
        xx, pp = leaves[0].to(getattr(lib, x_dtype)), leaves[1].to(getattr(lib, p_dtype))
        ww = None if w_dtype is None else leaves[2].to(getattr(lib, w_dtype))
        return functional(lib).cross_entropy(xx, pp, ww, label_smoothing=0.1)

    check_against_torch(build, [x, p, w], rtol=1e-6, atol=1e-7)
    outs = []
    for lib in (tinylm, torch):
        xx = lib.tensor(x).to(getattr(lib, x_dtype)).requires_grad_()
        pp = lib.tensor(p).to(getattr(lib, p_dtype)).requires_grad_()
        ww = None if w_dtype is None else lib.tensor(w).to(getattr(lib, w_dtype))
        out = functional(lib).cross_entropy(xx, pp, ww)
        out.backward()
        outs.append([str(a.dtype).split(".")[-1] for a in (out, xx.grad, pp.grad)])
    assert outs[0] == outs[1]


def test_empty_batch_means_are_nan_as_torchs() -> None:
    for lib in (tinylm, torch):
        f = functional(lib)
        soft = f.cross_entropy(lib.zeros(0, 4, dtype=lib.float64), lib.zeros(0, 4))
        hard = f.cross_entropy(
            lib.zeros(0, 4, dtype=lib.float64),
            lib.zeros(0, dtype=lib.int64),
            lib.ones(4, dtype=lib.float64),
        )
        assert np.isnan(values(soft)) and np.isnan(values(hard))


# ---- the Modules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "soft"),
    [
        ("CrossEntropyLoss", {"label_smoothing": 0.2}, False),
        ("CrossEntropyLoss", {"reduction": "sum"}, True),
        ("CrossEntropyLoss", {"ignore_index": 1, "reduction": "none"}, False),
        ("NLLLoss", {"ignore_index": 2}, False),
    ],
)
def test_loss_modules_keep_weight_as_a_buffer(name: str, kwargs: dict, soft: bool) -> None:
    """nn.<Loss>(weight=w): w is a buffer (in the state_dict, moved by .to()), and the
    loss and the input's gradient are PyTorch's."""
    x, w = RNG.standard_normal((6, 3, 2)), RNG.random(3) + 0.1
    target = _probs((6, 3, 2)) if soft else RNG.integers(0, 3, (6, 2))
    upstream = RNG.standard_normal((6, 2) if kwargs.get("reduction") == "none" else ())
    results = []
    for lib in (tinylm, torch):
        loss_fn = getattr(lib.nn, name)(weight=lib.tensor(w), **kwargs)
        assert sorted(loss_fn.state_dict()) == ["weight"]
        assert [n for n, _ in loss_fn.named_buffers()] == ["weight"]
        xx = lib.tensor(x, requires_grad=True)
        out = loss_fn(xx, lib.tensor(target))
        (out * lib.tensor(upstream)).sum().backward()
        results.append((values(out), values(xx.grad)))
        assert loss_fn.to(lib.float32).weight.dtype == lib.float32
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12, atol=1e-14)


def test_loss_modules_without_weight_have_a_none_buffer() -> None:
    for lib in (tinylm, torch):
        assert lib.nn.CrossEntropyLoss().weight is None
        assert len(lib.nn.NLLLoss().state_dict()) == 0


# ---- the binary cross-entropies' weights ---------------------------------------------------


@pytest.mark.parametrize(
    "dtypes",
    [
        ("float32", "float32", "float64", "float64"),
        ("float64", "float64", "float32", "float32"),
        ("float32", "float64", "float64", "float32"),
        ("float64", "float32", "float32", "float64"),
    ],
)
@REDUCTIONS
def test_bce_with_logits_weights_of_other_dtypes(dtypes: tuple, reduction: str) -> None:
    """Input, target, weight and pos_weight in any float dtypes: PyTorch's result dtype (the
    weight does not promote it) and values, every gradient in its input's dtype."""
    x, y = RNG.standard_normal((3, 4)) * 3, RNG.random((3, 4))
    w, q = RNG.random((3, 1)) + 0.5, RNG.random(4) + 0.5

    def build(lib: Any, leaves: list) -> Any:
        xx, yy = (t.to(getattr(lib, d)) for t, d in zip(leaves, dtypes))
        ww, qq = (lib.tensor(a).to(getattr(lib, d)) for a, d in zip((w, q), dtypes[2:]))
        f = functional(lib)
        return (
            f.binary_cross_entropy_with_logits(xx, yy, ww, reduction=reduction),
            f.binary_cross_entropy_with_logits(xx, yy, ww, reduction=reduction, pos_weight=qq),
        )

    check_against_torch(build, [x, y], rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("w_dtype", ["float32", "float64"])
@pytest.mark.parametrize("x_dtype", ["float32", "float64"])
@REDUCTIONS
def test_binary_cross_entropy_weight(x_dtype: str, w_dtype: str, reduction: str) -> None:
    """A broadcast weight of the input's or the other float dtype: PyTorch's values, dtype
    (the input's) and gradients, transposed (strided) inputs included."""
    pt, yt, w = RNG.uniform(0.02, 0.98, (4, 3)), RNG.random((4, 3)), RNG.random(4) + 0.5

    def build(lib: Any, leaves: list) -> Any:
        dt = getattr(lib, x_dtype)
        return functional(lib).binary_cross_entropy(
            leaves[0].mT.to(dt),
            leaves[1].mT.to(dt),
            lib.tensor(w).to(getattr(lib, w_dtype)),
            reduction=reduction,
        )

    tol = 1e-12 if x_dtype == "float64" else 2e-6
    check_against_torch(build, [pt, yt], rtol=tol, atol=tol)


# ---- refusals ------------------------------------------------------------------------------


def _call(loss: str, x: Any, t: Any, *args: Any, **kwargs: Any) -> Any:
    def call(lib: Any) -> Any:
        conv = lambda a: lib.tensor(a) if isinstance(a, np.ndarray) else a  # noqa: E731
        return getattr(functional(lib), loss)(
            conv(x), conv(t), *map(conv, args), **{k: conv(v) for k, v in kwargs.items()}
        )

    return call


X3 = np.zeros((2, 3))
T3 = np.array([0, 2])
P3 = np.full((2, 3), 1 / 3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (_call("cross_entropy", X3, T3, np.ones(4)), "all 3 classes or no classes.*\\[4\\]"),
        (_call("cross_entropy", X3, P3, np.ones(2)), "all 3 classes or no classes.*\\[2\\]"),
        (_call("nll_loss", X3, T3, np.ones((3, 1))), "all 3 classes or no classes.*\\[3, 1\\]"),
        (_call("cross_entropy", X3, T3, np.ones(3, np.float32)), "weight dtype float32"),
        (_call("nll_loss", X3, T3, np.ones(3, np.int64)), "weight must be floating point"),
        (_call("cross_entropy", X3, np.array([0, 3]), np.ones(3)), "target 3 is out of bounds"),
        (_call("nll_loss", X3, np.array([-1, 0]), np.ones(3)), "target -1 is out of bounds"),
        (_call("cross_entropy", X3, T3.astype(np.int32), np.ones(3)), "int64.*got int32"),
        (_call("cross_entropy", X3, P3[:, :2]), "nor class probabilities .*shape \\(2, 3\\)"),
        (_call("cross_entropy", X3, np.array([0.0, 1.0])), "neither integer class indices"),
        (_call("cross_entropy", X3, P3, ignore_index=1), "ignore_index is not supported"),
        (_call("nll_loss", X3, P3, np.ones(3)), "int64 class indices"),
        (_call("cross_entropy", X3, T3, np.ones(3), label_smoothing=1.5), "label_smoothing"),
        (_call("cross_entropy", X3, T3[:1], np.ones(3)), "target shape \\(1,\\)"),
    ],
)
def test_refusals_as_torchs(call: Any, message: str) -> None:
    refused_by_both(call, TinyLMError, message)


def test_negative_label_smoothing_is_refused() -> None:
    """PyTorch 2.13 computes with a negative ε (it checks only ε ≤ 1); tinylm refuses it on
    every path, the fused one included, rather than extrapolate the smoothing."""
    refused_by_both(
        _call("cross_entropy", X3, P3, label_smoothing=-0.1),
        TinyLMError,
        "label_smoothing must be a probability in \\[0, 1\\], got -0.1",
        None,
    )
    refused_by_both(
        _call("cross_entropy", X3, T3, np.ones(3), label_smoothing=-0.1),
        TinyLMError,
        "label_smoothing must be a probability",
        None,
    )


def test_weight_with_class_indices_gets_no_gradient_as_in_torch() -> None:
    """PyTorch refuses a weight that requires grad with class indices (its NLL kernel has no
    derivative for it); with probability targets the weight gets its gradient."""

    def call(lib: Any) -> Any:
        w = lib.ones(3, dtype=lib.float64, requires_grad=True)
        return functional(lib).cross_entropy(lib.tensor(X3), lib.tensor(T3), w)

    refused_by_both(call, TinyLMError, "weight gets no gradient.*detach")


# ---- multilabel_margin_loss and the top-level loss forms -----------------------------------

# each row's classes up to its first −1: a full list, an empty one, a class listed twice,
# values after the −1 (ignored), one class
ML_TARGETS = np.array(
    [[3, 0, -1, 1, 2], [0, 1, 2, 3, 4], [-1, 1, 2, 3, 0], [3, 3, -1, 1, 0], [2, -1, 4, 0, 0]]
)


@REDUCTIONS
def test_multilabel_margin_loss(reduction: str) -> None:
    """(1/C) Σ_j Σ_{k ∉ Y} max(0, 1 − x[y_j] + x[k]), with scores at the hinge's kink (a
    margin of exactly 0 or 1), as the function and as nn.MultiLabelMarginLoss."""
    x = RNG.standard_normal((5, 5))
    x[0, :4] = [0.5, 0.0, -0.5, 0.0]  # 1 − x[3] + x[1] = 1; 1 − x[0] + x[2] = 0

    def build(lib: Any, leaves: list) -> Any:
        t = lib.tensor(ML_TARGETS)
        return (
            functional(lib).multilabel_margin_loss(leaves[0], t, reduction=reduction),
            lib.nn.MultiLabelMarginLoss(reduction=reduction)(leaves[0], t),
        )

    check_against_torch(build, [x])


@REDUCTIONS
def test_multilabel_margin_loss_of_one_sample_strided_and_float32(reduction: str) -> None:
    """A (C,) sample (its loss 0-d), a transposed (N, C) input, float32 scores."""
    xt = RNG.standard_normal((5, 5))
    x32 = RNG.standard_normal((5, 5)).astype(np.float32)

    def build(lib: Any, leaves: list) -> Any:
        f, t = functional(lib), lib.tensor(ML_TARGETS)
        return (
            f.multilabel_margin_loss(leaves[0][1], t[0], reduction=reduction),
            f.multilabel_margin_loss(leaves[0].mT, t, reduction=reduction),
        )

    check_against_torch(build, [xt])

    def build32(lib: Any, leaves: list) -> Any:
        return functional(lib).multilabel_margin_loss(
            leaves[0], lib.tensor(ML_TARGETS), reduction=reduction
        )

    check_against_torch(build32, [x32], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (np.array([[4, 0, -1, 1]] * 3), "out of range"),
        (np.array([[0, -1, -2, 1]] * 3), "out of range"),  # checked after the −1 too
        (np.array([[0, 1, -1, 2]] * 3, dtype=np.int32), "int64"),
        (np.array([[0, 1, -1]] * 3), "inconsistent target size"),
        (np.array([[0.0, 1, -1, 2]] * 3), "int64"),
    ],
)
def test_multilabel_margin_loss_refusals(target: np.ndarray, message: str) -> None:
    refused_by_both(
        lambda lib: functional(lib).multilabel_margin_loss(lib.zeros(3, 4), lib.tensor(target)),
        TinyLMError,
        message,
    )
    refused_by_both(
        "lib.nn.functional.multilabel_margin_loss(lib.zeros(2, 3).long(), lib.zeros(2, 3).long())",
        TinyLMError,
        "input must be floating point",
    )
    refused_by_both(
        "lib.nn.functional.multilabel_margin_loss(lib.zeros(2, 3, 4), lib.zeros(2, 3, 4).long())",
        TinyLMError,
        "expected input \\(C,\\) or \\(N, C\\)",
    )


@pytest.mark.parametrize("reduction", [0, 1, 2, None])
def test_top_level_hinge_and_triplet_losses_take_torchs_int_reduction(reduction: Any) -> None:
    """torch.hinge_embedding_loss and torch.triplet_margin_loss: reduction an int, whose
    default (None here: left out) is 0 in PyTorch 2.13's binding, no reduction."""
    x, a, p, n = (RNG.standard_normal(s) for s in [(6,), (4, 3), (4, 3), (4, 3)])
    y = np.array([1.0, -1, 1, -1, -1, 1])
    kw = {} if reduction is None else {"reduction": reduction}

    def build(lib: Any, leaves: list) -> Any:
        return (
            lib.hinge_embedding_loss(leaves[0], lib.tensor(y), 0.7, **kw),
            lib.triplet_margin_loss(leaves[1], leaves[2], leaves[3], 0.5, 1.5, 1e-6, True, **kw),
        )

    check_against_torch(build, [x, a, p, n])


def test_top_level_losses_refuse_a_reduction_name() -> None:
    """A name where PyTorch's top level takes an int: one line pointing to F's form."""
    x = np.ones(3)
    refused_by_both(
        lambda lib: lib.hinge_embedding_loss(lib.tensor(x), lib.tensor(x), 1.0, "mean"),
        TinyLMError,
        "reduction must be an int at the top level",
    )
