"""Acceptance: bad input gives an error that says what went wrong, where.

Each message must name the op and the shapes and dtypes involved, and come from tinylm
(a ``TinyLMError``, a ``ValueError`` subclass, or a ``RuntimeError`` for misuse of the
graph), not a bare numpy traceback from deep inside an op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

F32 = "float32"


def a(*shape: int, dtype: Any = tinylm.float32) -> tinylm.Tensor:
    return tinylm.randn(*shape, dtype=dtype)


def error_of(fn: Callable[[], Any], kind: type[BaseException] = TinyLMError) -> str:
    """The message of the error ``fn`` raises, after checking it is a tinylm error."""
    with pytest.raises(kind) as info:
        fn()
    # the error is raised by tinylm's own code, not propagated raw from numpy
    assert "tinylm" in str(info.traceback[-1].path), info.traceback[-1].path
    return str(info.value)


def assert_names(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} missing from: {message}"


def test_tinylm_error_is_a_value_error() -> None:
    assert issubclass(TinyLMError, ValueError)


# ---- matmul ---------------------------------------------------------------------------


def test_matmul_mismatched_inner_dims() -> None:
    msg = error_of(lambda: a(2, 3) @ a(4, 5))
    assert_names(msg, "matmul", "(2, 3)", "(4, 5)", F32, "3", "4")


def test_matmul_vector_mismatch_and_batch_dims() -> None:
    assert_names(error_of(lambda: a(3) @ a(4)), "matmul", "(3,)", "(4,)", F32)
    msg = error_of(lambda: a(2, 3, 4) @ a(5, 4, 2))
    assert_names(msg, "matmul", "(2, 3, 4)", "(5, 4, 2)", F32)
    assert_names(error_of(lambda: a() @ a(3)), "matmul", "()", "(3,)")


# ---- broadcasting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "op, fn",
    [
        ("add", lambda x, y: x + y),
        ("sub", lambda x, y: x - y),
        ("mul", lambda x, y: x * y),
        ("div", lambda x, y: x / y),
        ("pow", lambda x, y: x**y),
        ("maximum", lambda x, y: x.maximum(y)),
        ("minimum", lambda x, y: tinylm.minimum(x, y)),
        ("compare", lambda x, y: x < y),
        ("where", lambda x, y: tinylm.where(x > 0, x, y)),
    ],
)
def test_non_broadcastable_operands(op: str, fn: Callable[..., Any]) -> None:
    msg = error_of(lambda: fn(a(2, 3), a(4, dtype=tinylm.float64)))
    assert_names(msg, op, "(2, 3)", "(4,)", F32, "float64")


def test_masked_fill_mask_that_does_not_broadcast() -> None:
    x = a(2, 3)
    msg = error_of(lambda: x.masked_fill(tinylm.zeros(4, dtype=tinylm.bool_), 0.0))
    assert_names(msg, "masked_fill", "(4,)", "(2, 3)", F32)
    msg = error_of(lambda: x.masked_fill(tinylm.zeros(2, 3), 0.0))
    assert_names(msg, "masked_fill", "bool", F32, "(2, 3)")


# ---- dtypes and gradients ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: tinylm.tensor([1, 2, 3], requires_grad=True),
        lambda: tinylm.zeros(3, dtype=tinylm.int64, requires_grad=True),
        lambda: tinylm.arange(3).requires_grad_(),
        lambda: tinylm.tensor([True, False], requires_grad=True),
    ],
)
def test_integer_tensors_cannot_require_grad(make: Callable[[], Any]) -> None:
    msg = error_of(make)
    assert_names(msg, "requires_grad", "floating-point", "dtype")
    assert "int64" in msg or "bool" in msg
    assert "shape" in msg


def test_backward_twice() -> None:
    x = tinylm.randn(3, requires_grad=True)
    y = x.exp().sum()
    y.backward()
    msg = error_of(y.backward, RuntimeError)
    assert_names(msg, "backward", "Sum", "()", F32, "already freed", "retain_graph=True")


def test_backward_with_wrong_gradient_shape() -> None:
    y = tinylm.randn(2, 3, requires_grad=True) * 2.0
    assert_names(error_of(lambda: y.backward(np.ones((3, 2)))), "backward", "(3, 2)", "(2, 3)")
    assert_names(error_of(y.backward, RuntimeError), "backward", "(2, 3)", "gradient=")


# ---- shapes and axes ----------------------------------------------------------------------


def test_bad_reshape() -> None:
    msg = error_of(lambda: a(2, 3).reshape(4, 2))
    assert_names(msg, "reshape", "(2, 3)", "(4, 2)", "6 elements", F32)
    assert_names(error_of(lambda: a(2, 3).view(-1, 4)), "reshape", "(2, 3)", "(-1, 4)")


def test_bad_expand() -> None:
    assert_names(error_of(lambda: a(2, 3).expand(4, 3)), "expand", "(2, 3)", "(4, 3)", F32)
    assert_names(error_of(lambda: a(2, 3).expand(3)), "expand", "(2, 3)", F32)


@pytest.mark.parametrize(
    "op, fn",
    [
        ("sum", lambda x: x.sum(axis=2)),
        ("sum", lambda x: x.sum(dim=(0, 0))),
        ("mean", lambda x: x.mean(-3)),
        ("max", lambda x: x.max(dim=5)),
        ("min", lambda x: x.min(axis=2)),
        ("var", lambda x: x.var(axis=2)),
        ("std", lambda x: x.std(dim=7)),
        ("logsumexp", lambda x: x.logsumexp(dim=2)),
        ("softmax", lambda x: x.softmax(2)),
        ("log_softmax", lambda x: x.log_softmax(-3)),
        ("squeeze", lambda x: x.squeeze(2)),
        ("unsqueeze", lambda x: x.unsqueeze(4)),
        ("transpose", lambda x: x.transpose(0, 2)),
        ("permute", lambda x: x.permute(2, 0)),
        ("permute", lambda x: x.permute(0, 0)),
        ("split", lambda x: x.split(1, dim=2)),
        ("chunk", lambda x: x.chunk(2, dim=-3)),
        ("argmax", lambda x: x.argmax(dim=2)),
        ("concat", lambda x: tinylm.concat([x, x], dim=2)),
        ("stack", lambda x: tinylm.stack([x, x], dim=3)),
    ],
)
def test_bad_axis(op: str, fn: Callable[..., Any]) -> None:
    msg = error_of(lambda: fn(a(2, 3)))
    assert_names(msg, op, "(2, 3)", F32)


def test_bad_split_sizes() -> None:
    """(var without degrees of freedom is nan with a warning, as in PyTorch: see
    test_torch_api_porting.py.)"""
    assert_names(error_of(lambda: a(2, 3).split([1, 1], dim=1)), "split", "(2, 3)", "[1, 1]")


# ---- indexing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "index",
    [5, -3, (0, 3), (slice(None), 7), [0, 2], (0, 0, 0)],
    ids=["int", "negative", "tuple", "slice-then-int", "list", "too-many"],
)
def test_out_of_range_index(index: Any) -> None:
    msg = error_of(lambda: a(2, 3)[index])
    assert_names(msg, "index", "(2, 3)", F32)


def test_out_of_range_index_tensor() -> None:
    msg = error_of(lambda: a(2, 3)[tinylm.tensor([0, 9])])
    assert_names(msg, "index", "9", "(2, 3)", F32)


# ---- joining --------------------------------------------------------------------------


def test_concat_of_mismatched_shapes() -> None:
    msg = error_of(lambda: tinylm.concat([a(2, 3), a(3, 4)], dim=0))
    assert_names(msg, "concat", "(2, 3)", "(3, 4)", F32)
    msg = error_of(lambda: tinylm.cat([a(2, 3), a(2, 3, 1)], dim=1))
    assert_names(msg, "concat", "(2, 3)", "(2, 3, 1)", F32)
    assert_names(error_of(lambda: tinylm.concat([])), "concat")
    assert_names(error_of(lambda: tinylm.concat([a(), a()])), "concat", "zero-dimensional")


def test_stack_of_mismatched_shapes() -> None:
    msg = error_of(lambda: tinylm.stack([a(2, 3), a(3, 2)]))
    assert_names(msg, "stack", "(2, 3)", "(3, 2)", F32)


# ---- other misuse -------------------------------------------------------------------------


def test_misc_misuse() -> None:
    assert_names(error_of(lambda: a(2).item()), "item", "(2,)")
    assert_names(error_of(lambda: bool(a(2))), "ambiguous")
    assert_names(error_of(lambda: a(3).tril()), "tril", "(3,)", F32)
    assert_names(error_of(lambda: a(3).clamp()), "clamp", "(3,)", F32)
    assert_names(error_of(lambda: a().softmax()), "softmax", "()", F32)
    assert_names(error_of(lambda: tinylm.set_default_dtype(tinylm.int64)), "int64")
    assert_names(error_of(lambda: tinylm.tensor([[1.0, 2.0], [3.0]])), "tensor", "ragged")
    # an array of strings or objects, as the lists of them (it was kept as it came)
    for bad in (np.array(["a"]), np.array([1, "b"], dtype=object)):
        assert_names(error_of(lambda bad=bad: tinylm.tensor(bad)), "tensor", str(bad.dtype))
        assert_names(error_of(lambda bad=bad: tinylm.Tensor(bad)), "tensor", str(bad.dtype))
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tinylm.zeros(2, device="tpu")
    with pytest.raises(TypeError, match="matmul: input 1 must be a Tensor"):
        tinylm.ops.MatMul.apply(a(2, 2), np.ones((2, 2)))


def test_array_parameters_are_described_not_printed() -> None:
    """A big mask in an error message would drown the message: shape and dtype instead."""
    cond = np.zeros(1000, dtype=bool)
    msg = error_of(lambda: tinylm.where(cond, a(2, 3), a(2, 3)))
    assert_names(msg, "where", "(1000,) bool", "(2, 3)", F32)
    assert "False, False" not in msg and len(msg) < 400
