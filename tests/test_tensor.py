"""The Tensor as a user meets it: creation, seeds, dtypes, properties, operators, repr."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import Tensor

F32, F64, I64 = tinylm.float32, tinylm.float64, tinylm.int64


# ---------------------------------------------------------------------------------------
# Creation
# ---------------------------------------------------------------------------------------


def test_tensor_from_python_data_uses_pytorch_default_dtypes() -> None:
    assert tinylm.tensor([1.0, 2.0]).dtype == F32
    assert tinylm.tensor(1.5).dtype == F32 and tinylm.tensor(1.5).shape == ()
    assert tinylm.tensor([[1, 2], [3, 4]]).dtype == I64
    assert tinylm.tensor([True, False]).dtype == tinylm.bool_
    assert tinylm.tensor([1, 2], dtype=F64).dtype == F64
    assert tinylm.tensor([[1.0, 2.0], [3.0, 4.0]]).shape == (2, 2)
    assert tinylm.tensor([tinylm.tensor(1.0), tinylm.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_tensor_from_arrays_keeps_dtype_and_copies() -> None:
    arr = np.arange(6.0).reshape(2, 3)  # float64
    t = tinylm.tensor(arr)
    assert t.dtype == F64 and t.shape == (2, 3)
    arr[0, 0] = 99.0
    assert t.numpy()[0, 0] == 0.0  # tinylm.tensor always copies
    assert tinylm.tensor(np.float64(2.0)).dtype == F64  # numpy scalars keep their dtype
    assert tinylm.tensor(np.int32(2)).dtype == tinylm.int32
    u = tinylm.tensor(t)
    assert not np.shares_memory(u.data, t.data)
    w = Tensor(arr)  # the constructor wraps without copying, like torch.from_numpy
    assert np.shares_memory(w.data, arr)


@pytest.mark.parametrize("make", [tinylm.zeros, tinylm.ones, tinylm.randn, tinylm.rand])
def test_shaped_creation_functions(make: Any) -> None:
    for t in (make(2, 3), make((2, 3)), make([2, 3])):
        assert t.shape == (2, 3) and t.dtype == F32 and not t.requires_grad
    t = make(4, dtype=F64, requires_grad=True)
    assert t.dtype == F64 and t.requires_grad and t.is_leaf
    assert make().shape == ()


def test_values_of_creation_functions() -> None:
    np.testing.assert_array_equal(tinylm.zeros(2, 2).numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(tinylm.ones(3).numpy(), np.ones(3))
    f = tinylm.full((2, 2), 1.5)
    assert f.dtype == F32 and f.tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert tinylm.full((2,), 3).dtype == I64
    assert tinylm.full((2,), True).dtype == tinylm.bool_
    assert tinylm.full((2,), 3, dtype=F64).dtype == F64
    assert tinylm.arange(4).tolist() == [0, 1, 2, 3] and tinylm.arange(4).dtype == I64
    assert tinylm.arange(1, 7, 2).tolist() == [1, 3, 5]
    a = tinylm.arange(0, 1, 0.25)
    assert a.dtype == F32 and a.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert tinylm.arange(3, dtype=F64).dtype == F64


def test_random_creation_distributions() -> None:
    tinylm.manual_seed(0)
    n = tinylm.randn(20_000, dtype=F64).numpy()
    # mean and std of 20 000 standard normals are within 0.03 of 0 and 1 with overwhelming
    # probability (their standard errors are 0.007 and 0.005); the seed makes it exact anyway
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1) < 0.03
    u = tinylm.rand(20_000).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02
    r = tinylm.randint(3, 7, (1000,))
    assert r.dtype == I64 and r.numpy().min() == 3 and r.numpy().max() == 6
    assert tinylm.randint(5, size=(2, 2)).shape == (2, 2)
    assert tinylm.randint(0, 5, (3,), dtype=tinylm.int32).dtype == tinylm.int32


def test_like_functions() -> None:
    x = tinylm.randn(2, 3, dtype=F64)
    for make in (tinylm.zeros_like, tinylm.ones_like, tinylm.randn_like, tinylm.rand_like):
        t = make(x)
        assert t.shape == (2, 3) and t.dtype == F64 and not t.requires_grad
        assert make(x, dtype=F32).dtype == F32
    assert tinylm.zeros_like(x, requires_grad=True).requires_grad
    f = tinylm.full_like(x, 7.0)
    assert f.dtype == F64 and np.all(f.numpy() == 7.0)
    np.testing.assert_array_equal(tinylm.ones_like(x).numpy(), np.ones((2, 3)))


# ---------------------------------------------------------------------------------------
# Seeds and generators
# ---------------------------------------------------------------------------------------


def test_manual_seed_reproduces_every_random_function() -> None:
    def draw() -> list[np.ndarray]:
        t = tinylm.zeros(3)
        t.normal_()
        s = tinylm.zeros(3)
        s.uniform_(-1, 1)
        return [
            tinylm.randn(3).numpy(),
            tinylm.rand(3).numpy(),
            tinylm.randint(0, 100, (3,)).numpy(),
            tinylm.randn_like(tinylm.zeros(2)).numpy(),
            t.numpy(),
            s.numpy(),
        ]

    tinylm.manual_seed(42)
    first = draw()
    tinylm.manual_seed(42)
    second = draw()
    for p, q in zip(first, second):
        np.testing.assert_array_equal(p, q)
    tinylm.manual_seed(43)
    assert not np.array_equal(draw()[0], first[0])


def test_generator_is_independent_of_the_global_seed() -> None:
    gen = tinylm.Generator().manual_seed(7)
    a = tinylm.randn(4, generator=gen).numpy()
    tinylm.randn(100)  # drawing from the global generator does not disturb gen
    b = tinylm.randn(4, generator=gen).numpy()
    gen2 = tinylm.Generator().manual_seed(7)
    np.testing.assert_array_equal(tinylm.randn(4, generator=gen2).numpy(), a)
    np.testing.assert_array_equal(tinylm.randn(4, generator=gen2).numpy(), b)
    assert isinstance(gen.numpy, np.random.Generator)
    assert gen.initial_seed() == 7 and isinstance(tinylm.default_generator, tinylm.Generator)


def test_generator_state_roundtrip_and_reseed() -> None:
    gen = tinylm.Generator().manual_seed(3)
    state = gen.get_state()
    x = tinylm.rand(5, generator=gen).numpy()
    gen.set_state(state)
    np.testing.assert_array_equal(tinylm.rand(5, generator=gen).numpy(), x)
    gen.manual_seed(3)
    np.testing.assert_array_equal(tinylm.rand(5, generator=gen).numpy(), x)
    r1 = tinylm.randint(0, 10, (5,), generator=tinylm.Generator().manual_seed(1)).numpy()
    r2 = tinylm.randint(0, 10, (5,), generator=tinylm.Generator().manual_seed(1)).numpy()
    np.testing.assert_array_equal(r1, r2)


# ---------------------------------------------------------------------------------------
# Dtypes through ops
# ---------------------------------------------------------------------------------------

UNARY = [
    lambda x: -x,
    lambda x: x.exp(),
    lambda x: x.abs().log(),
    lambda x: x.abs().sqrt(),
    lambda x: x.tanh(),
    lambda x: x.sigmoid(),
    lambda x: x.relu(),
    lambda x: x.clamp(-0.5, 0.5),
    lambda x: x.sum(),
    lambda x: x.mean(0),
    lambda x: x.max(1).values,  # PyTorch's (values, indices) along a dim
    lambda x: x.amax(1),
    lambda x: x.min(),
    lambda x: x.var(),
    lambda x: x.std(1),
    lambda x: x.logsumexp(),
    lambda x: x.softmax(-1),
    lambda x: x.log_softmax(0),
    lambda x: x.reshape(3, 2).T,
    lambda x: x.permute(1, 0).transpose(0, 1),
    lambda x: x.unsqueeze(0).expand(2, 2, 3).squeeze(),
    lambda x: x[0, [1, 1]],
    lambda x: x.masked_fill(x > 0, 0.0),
    lambda x: x.tril() + x.triu(1),
    lambda x: x @ x.T,
    lambda x: tinylm.concat([x, x], 1),
    lambda x: tinylm.stack(x.split(1, 0)),
    lambda x: tinylm.where(x > 0, x, 0.0),
    lambda x: x.maximum(0.0) + x.minimum(x * 2),
    lambda x: x.clone(),
    lambda x: x**2 + (x.abs() + 1.0) ** x,
]
SCALAR_BOTH_SIDES = [
    lambda x: x + 2.0,
    lambda x: 2.0 + x,
    lambda x: x - 2,
    lambda x: 2 - x,
    lambda x: x * 1.5,
    lambda x: 1.5 * x,
    lambda x: x / 3.0,
    lambda x: 3.0 / x,
    lambda x: x**2,
    lambda x: 2.0**x,
    lambda x: x + np.float64(1.0),
    lambda x: np.float64(1.0) * x,
]


@pytest.mark.parametrize("fn", UNARY + SCALAR_BOTH_SIDES)
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_ops_preserve_float_dtype(fn: Any, dtype: Any) -> None:
    """float64 stays float64 everywhere; float32 stays float32, Python scalars included."""
    x = tinylm.randn(2, 3, dtype=dtype, requires_grad=True)
    out = fn(x)
    assert out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype


def test_integer_and_float_promotion() -> None:
    i = tinylm.arange(3)
    assert (i * 1.5).dtype == F32  # int tensor * Python float -> float32, as in PyTorch
    assert (1.5 * i).dtype == F32
    assert (i + 1).dtype == I64 and (2 * i).dtype == I64
    assert (i / 2).dtype == F32 and ((i + 1) / (i + 1)).dtype == F32  # true division gives floats
    assert (i * tinylm.ones(3)).dtype == F32
    assert (i * tinylm.ones(3, dtype=F64)).dtype == F64
    assert (tinylm.ones(3) * tinylm.ones(3, dtype=F64)).dtype == F64
    np.testing.assert_allclose((i * 1.5).numpy(), [0.0, 1.5, 3.0])


def test_default_dtype_can_be_float64() -> None:
    try:
        tinylm.set_default_dtype(F64)
        assert tinylm.get_default_dtype() == F64
        assert tinylm.tensor([1.0]).dtype == F64 and tinylm.zeros(2).dtype == F64
        assert tinylm.randn(2).dtype == F64 and (tinylm.arange(3) * 0.5).dtype == F64
    finally:
        tinylm.set_default_dtype(F32)
    assert tinylm.zeros(2).dtype == F32


def test_dtype_conversions() -> None:
    x = tinylm.tensor([1.7, -2.2])
    assert x.double().dtype == F64 and x.to(F64).dtype == F64
    assert x.long().tolist() == [1, -2] and x.int().dtype == tinylm.int32
    assert x.bool().tolist() == [True, True]
    assert x.to(F32) is x and x.float() is x
    assert x.to("cpu") is x and x.cpu() is x
    y = tinylm.randn(2, requires_grad=True)
    assert not y.long().requires_grad  # integer results cannot carry gradients


# ---------------------------------------------------------------------------------------
# Properties and conversions
# ---------------------------------------------------------------------------------------


def test_properties() -> None:
    x = tinylm.randn(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, tuple)
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    # PyTorch's size(): the shape, or one extent
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    with pytest.raises(tinylm.TinyLMError, match="size: dim 3 is out of range"):
        x.size(3)
    assert tinylm.tensor(2.0).size() == () and tinylm.tensor(2.0).numel() == 1
    assert x.dtype == F32 and x.dtype == np.float32
    assert x.device == tinylm.device("cpu")
    assert len(x) == 2 and [t.shape for t in x] == [(3, 4), (3, 4)]
    with pytest.warns(UserWarning, match="deprecated"):  # as PyTorch: x.T off 2-D
        assert x.T.shape == (4, 3, 2)
        np.testing.assert_array_equal(x.T.numpy(), x.numpy().T)
    m = tinylm.randn(2, 5)
    np.testing.assert_array_equal(m.T.numpy(), m.numpy().T)
    with pytest.raises(TypeError):
        len(tinylm.tensor(1.0))


def test_item_numpy_tolist() -> None:
    assert tinylm.tensor(2.5).item() == 2.5 and isinstance(tinylm.tensor(2.5).item(), float)
    assert tinylm.tensor([[3]]).item() == 3 and isinstance(tinylm.tensor([[3]]).item(), int)
    assert isinstance(tinylm.arange(3)[1].item(), int)
    assert float(tinylm.tensor(1.5)) == 1.5 and int(tinylm.tensor(4)) == 4
    x = tinylm.randn(2, 2)
    assert isinstance(x.numpy(), np.ndarray) and np.shares_memory(x.numpy(), x.data)
    assert tinylm.tensor([[1, 2]]).tolist() == [[1, 2]]
    assert bool(tinylm.tensor(1.0)) and not bool(tinylm.tensor(0.0))


def test_0d_results_hold_arrays() -> None:
    s = tinylm.randn(3).sum()
    assert s.shape == () and isinstance(s.data, np.ndarray)
    assert isinstance(tinylm.randn(3)[0].data, np.ndarray)


@pytest.mark.parametrize(
    "expr, expected",
    [
        (lambda x, y: x + 2, lambda a, b: a + 2),
        (lambda x, y: 2 + x, lambda a, b: 2 + a),
        (lambda x, y: x - 0.5, lambda a, b: a - 0.5),
        (lambda x, y: 0.5 - x, lambda a, b: 0.5 - a),
        (lambda x, y: x * 3, lambda a, b: a * 3),
        (lambda x, y: 3 * x, lambda a, b: 3 * a),
        (lambda x, y: x / 4, lambda a, b: a / 4),
        (lambda x, y: 4 / y, lambda a, b: 4 / b),
        (lambda x, y: y**1.5, lambda a, b: b**1.5),
        (lambda x, y: 2**x, lambda a, b: 2**a),
        (lambda x, y: -x, lambda a, b: -a),
        (lambda x, y: +x, lambda a, b: a),
        (lambda x, y: abs(x), lambda a, b: abs(a)),
        (lambda x, y: x @ y.T, lambda a, b: a @ b.T),
        (lambda x, y: x.numpy() @ y.T, lambda a, b: a @ b.T),
        (lambda x, y: x + y.numpy(), lambda a, b: a + b),
        (lambda x, y: x.numpy() * y, lambda a, b: a * b),
        (
            lambda x, y: x.add(y).sub(1).mul(y).div(2).pow(2),
            lambda a, b: ((a + b - 1) * b / 2) ** 2,
        ),
        (lambda x, y: x.matmul(y.T), lambda a, b: a @ b.T),
    ],
)
def test_operators_with_scalars_and_arrays_on_either_side(expr: Any, expected: Any) -> None:
    a = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    b = np.array([[2.0, 1.0, 0.5], [3.0, 0.25, 4.0]])
    out = expr(Tensor(a), Tensor(b))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.numpy(), expected(a, b), rtol=1e-12)


def test_repr() -> None:
    assert repr(tinylm.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"  # as PyTorch prints
    assert repr(tinylm.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(tinylm.tensor([1.0], dtype=F64)) == "tensor([1.], dtype=float64)"
    assert repr(tinylm.tensor([1], dtype=tinylm.int32)) == "tensor([1], dtype=int32)"
    assert repr(tinylm.tensor(2.0)) == "tensor(2.)"
    x = tinylm.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(tinylm.zeros(2, 2)) == "tensor([[0., 0.],\n        [0., 0.]])"


# ---------------------------------------------------------------------------------------
# Copies, views and in-place updates
# ---------------------------------------------------------------------------------------


def test_clone_detach_contiguous() -> None:
    x = tinylm.randn(3, 4)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data)
    np.testing.assert_array_equal(c.numpy(), x.numpy())
    d = x.detach()
    assert np.shares_memory(d.data, x.data)
    t = x.T
    assert not t.data.flags.c_contiguous
    assert t.contiguous().data.flags.c_contiguous and x.contiguous() is x


def test_views_share_memory() -> None:
    x = tinylm.zeros(2, 3)
    for view in (x[0], x.reshape(3, 2), x.T, x.unsqueeze(0), x.transpose(0, 1)):
        assert np.shares_memory(view.data, x.data)
    x[1] = tinylm.tensor([1.0, 2.0, 3.0])
    assert x.tolist() == [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]


def test_inplace_updates() -> None:
    x = tinylm.ones(3)
    x.add_(2.0).mul_(3.0).sub_(1.0).div_(2.0)
    assert x.tolist() == [4.0, 4.0, 4.0]
    x.add_(tinylm.ones(3), alpha=0.5)
    assert x.tolist() == [4.5, 4.5, 4.5]
    x.copy_(tinylm.tensor([1.0, 2.0, 3.0]))
    assert x.tolist() == [1.0, 2.0, 3.0]
    x.fill_(7.0)
    assert x.tolist() == [7.0, 7.0, 7.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    x.normal_(generator=tinylm.Generator().manual_seed(0))
    y = tinylm.zeros(3)
    y.normal_(generator=tinylm.Generator().manual_seed(0))
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    x.uniform_(2.0, 3.0)
    assert np.all((x.numpy() >= 2.0) & (x.numpy() < 3.0)) and x.dtype == F32


def test_cuda_request_without_gpu_is_a_clear_error() -> None:
    if tinylm.cuda_is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        tinylm.zeros(2).to("cuda")


@pytest.mark.parametrize(
    "data, expected",
    [
        ([np.float64(0.3)], "float64"),
        ([[np.float64(1.0)]], "float64"),
        ([np.float64(0.3), 1.0], "float64"),
        ([np.float32(1.0), np.float64(2.0)], "float64"),
        ([np.float16(1.0), 2.0], "float32"),
        ([np.int32(3)], "int32"),
        ([np.int32(3), 1], "int64"),
        ([np.int32(3), 1.5], "float32"),
        ([np.int64(1), np.float32(2.0)], "float32"),
        ([True, np.int8(1)], "int8"),
        ([np.uint8(1), np.int8(2)], "int16"),
        ([np.bool_(True)], "bool"),
        ([0.3, 1], "float32"),
    ],
)
def test_lists_of_numpy_scalars_keep_pytorchs_dtypes(data, expected):
    """The dtypes torch.tensor gives for the same lists (checked against PyTorch 2.13)."""
    assert tinylm.tensor(data).dtype == np.dtype(expected)
