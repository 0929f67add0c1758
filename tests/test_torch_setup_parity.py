"""The set-up and utility names scripts call before any maths, run in tinylm and in PyTorch:
the device object (``tinylm.device``), ``tinylm.cuda``'s calls on a machine without CUDA (and
with one, where CuPy sees a GPU), the legacy tensor types (``FloatTensor`` …, ``x.type()``),
``asarray``/``frombuffer``, anomaly detection, thread and denormal switches, ``fork_rng``,
what a tensor says of its memory (``pin_memory``, ``is_shared``, ``layout`` …), and the grad
modes' corners (``inference_mode(False)`` inside ``no_grad``, decorated generators).
"""

from __future__ import annotations

import pickle
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
from torch_parity import LIBS, dtype_name, values  # noqa: E402 - after the skip

pytestmark = [
    pytest.mark.torch,
    # torch's own notes on its asarray (the requires_grad default changed; bytes are read-only)
    pytest.mark.filterwarnings("ignore:torch.asarray. unspecified requires_grad:UserWarning"),
    pytest.mark.filterwarnings("ignore:The given buffer is not writable:UserWarning"),
]

HAVE_GPU = tinylm.cuda.is_available()
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason="needs CuPy and a CUDA device")
no_gpu = pytest.mark.skipif(HAVE_GPU, reason="checks the answers of a machine without CUDA")


def described(d: Any) -> tuple[str, int | None, str, str]:
    return d.type, d.index, str(d), repr(d)


# ---- the device object ---------------------------------------------------------------------

DEVICE_CALLS = [
    ("cpu",),
    ("cuda",),
    ("cuda:0",),
    ("cuda:1",),
    ("cuda", 0),
    ("cuda", 3),
    ("cpu", 0),
    ("cpu:0",),
]


@pytest.mark.parametrize("args", DEVICE_CALLS, ids=str)
def test_a_device_says_what_torchs_says(args: tuple[Any, ...]) -> None:
    ours, theirs = tinylm.device(*args), torch.device(*args)
    assert described(ours) == described(theirs)
    assert described(tinylm.device(ours)) == described(torch.device(theirs))
    assert described(pickle.loads(pickle.dumps(ours))) == described(theirs)


def test_devices_compare_and_hash_as_torchs() -> None:
    pairs = [("cpu", "cpu"), ("cuda", "cuda:0"), ("cuda:0", "cuda:0"), ("cuda:1", "cuda:0")]
    pairs += [("cpu", "cpu:0"), ("cpu", "cuda")]
    for a, b in pairs:
        assert (tinylm.device(a) == tinylm.device(b)) == (torch.device(a) == torch.device(b))
        assert (tinylm.device(a) != tinylm.device(b)) == (torch.device(a) != torch.device(b))
    for name in ("cpu", "cuda", "cuda:1"):  # never equal to a string, in either library
        assert (tinylm.device(name) == name) is (torch.device(name) == name) is False
        assert (tinylm.device(name) != name) is (torch.device(name) != name) is True
    assert len({tinylm.device("cuda:1"), tinylm.device("cuda", 1), tinylm.device("cpu")}) == 2
    assert tinylm.device(type="cuda", index=2) == tinylm.device("cuda:2")


@LIBS
def test_the_tensor_device_is_a_device(lib: ModuleType) -> None:
    x = lib.zeros(2)
    assert isinstance(x.device, lib.device) and x.device == lib.device("cpu")
    assert (x.device.type, x.device.index, str(x.device), x.device == "cpu") == (
        "cpu",
        None,
        "cpu",
        False,
    )
    assert f"{x.device}" == "cpu" and lib.get_default_device() == lib.device("cpu")


@LIBS
def test_a_device_object_is_accepted_wherever_a_name_is(lib: ModuleType) -> None:
    cpu = lib.device("cuda" if lib.cuda.is_available() else "cpu")  # the usual first line
    made = [
        lib.tensor([1.0, 2.0], device=cpu),
        lib.zeros(2, device=cpu),
        lib.ones(2, 3, device=cpu),
        lib.arange(3, device=cpu),
        lib.randn(2, device=cpu),
        lib.full((2,), 1.5, device=cpu),
        lib.empty(2, device=cpu),
        lib.eye(2, device=cpu),
        lib.zeros(1).new_zeros(2, device=cpu),
        lib.zeros_like(lib.zeros(2), device=cpu),
        lib.as_tensor([1, 2], device=cpu),
        lib.zeros(2).to(cpu),
        lib.zeros(2).to(cpu, lib.float64),
        lib.zeros(2).to(device=cpu),
        lib.zeros(2, device="cpu:0"),
    ]
    assert all(t.device == lib.device(cpu.type) for t in made)
    module = lib.nn.Linear(2, 2).to(cpu)
    assert module.weight.device.type == cpu.type
    module.to(device=lib.device("cpu"), dtype=lib.float64)
    assert module.weight.dtype == lib.float64


def test_a_device_in_a_with_statement_is_the_cpu_only() -> None:
    with tinylm.device("cpu") as d, torch.device("cpu"):
        assert d == tinylm.device("cpu") and tinylm.zeros(1).device == d
    if not HAVE_GPU:
        with pytest.raises(TinyLMError, match=r"device: `with device\('cuda'\)` would"):
            with tinylm.device("cuda"):
                pass


BAD_DEVICES = [
    (("tpu",), TinyLMError, r"device: unknown device 'tpu'; expected 'cpu', 'cuda'"),
    (("CPU",), TinyLMError, r"device: unknown device 'CPU'"),
    (("mps",), TinyLMError, r"device: tinylm's tensors live on 'cpu' or 'cuda' only, got 'mps'"),
    (("meta",), TinyLMError, r"device: tinylm's tensors .* got 'meta'"),
    (("cuda:x",), RuntimeError, r"device: invalid device string 'cuda:x'"),
    (("cuda:-1",), RuntimeError, r"device: invalid device string 'cuda:-1'"),
    (("cuda:01",), RuntimeError, r"device: invalid device string 'cuda:01'"),
    (("cuda: 1",), RuntimeError, r"device: invalid device string 'cuda: 1'"),
    (("cuda:0", 1), RuntimeError, r"must not include an index because index was passed"),
    (("cuda", -1), RuntimeError, r"device: the index must not be negative, got -1"),
    (("cuda", 1.0), TypeError, r"device: index must be an int, got 1.0"),
    (("cuda", True), TypeError, r"device: index must be an int, got True"),
    ((None,), TypeError, r"device: expected a string like 'cuda:0', got None"),
]


@pytest.mark.parametrize("args,error,message", BAD_DEVICES, ids=lambda a: str(a)[:20])
def test_bad_devices_are_one_line(args: tuple[Any, ...], error: type, message: str) -> None:
    with pytest.raises(error, match=message) as e:
        tinylm.device(*args)
    assert "\n" not in str(e.value)
    if error is not TinyLMError or "unknown" in message:  # torch refuses these too
        with pytest.raises((RuntimeError, TypeError)):
            torch.device(*args)


@no_gpu
def test_a_gpu_number_or_a_cuda_tensor_needs_a_gpu() -> None:
    with pytest.raises(RuntimeError, match="device: 0 names a GPU, but no CUDA device"):
        tinylm.device(0)
    with pytest.raises(RuntimeError):
        torch.device(0)
    with pytest.raises(RuntimeError, match="device 'cuda:1' was requested but no CUDA device"):
        tinylm.zeros(2, device=tinylm.device("cuda", 1))


@no_gpu
@pytest.mark.parametrize(
    "code",
    [
        "lib.ones(2).to(0)", "lib.ones(2).cuda(0)", "lib.ones(2).cuda('cuda:1')",
        "lib.ones(2).cuda(non_blocking=True)", "lib.nn.Linear(2, 2).cuda(0)",
        "lib.ones(2).cuda(lib.device('cuda', 1))",
    ],
)  # fmt: skip
def test_cuda_and_to_take_a_gpu_index_as_torchs(code: str) -> None:
    """``x.cuda(0)``, ``x.to(0)``, ``model.cuda(0)``: PyTorch's forms of naming a GPU are
    accepted (not a TypeError about arguments); without a GPU they refuse in one line."""
    with pytest.raises(RuntimeError, match="no CUDA device is usable") as e:
        eval(code, {"lib": tinylm})
    assert "\n" not in str(e.value)
    with pytest.raises((AssertionError, RuntimeError)):
        eval(code, {"lib": torch})


@needs_gpu
def test_cuda_tensors_say_their_gpu_with_its_index() -> None:
    x = tinylm.zeros(2, device=tinylm.device("cuda"))
    assert x.device == tinylm.device("cuda", 0) and x.device.type == "cuda"
    assert x.device != tinylm.device("cuda") and "device='cuda:0'" in repr(x)  # as torch's
    assert x.to(tinylm.device("cuda:0")) is x and x.to("cpu").device == tinylm.device("cpu")
    assert tinylm.device(0) == tinylm.device("cuda", 0)
    assert x.cuda(0) is x and x.to(0) is x and x.cuda() is x
    assert x.cpu().cuda(0).device == tinylm.device("cuda", 0)


# ---- tinylm.cuda on a machine without CUDA, and with one -------------------------------------


@no_gpu
def test_cuda_answers_as_torchs_cpu_build() -> None:
    for name in ("device_count", "memory_allocated", "max_memory_allocated", "memory_reserved"):
        assert getattr(tinylm.cuda, name)() == getattr(torch.cuda, name)() == 0
    assert tinylm.cuda.memory_allocated("cuda:0") == torch.cuda.memory_allocated("cuda:0") == 0
    assert tinylm.cuda.empty_cache() is torch.cuda.empty_cache() is None
    assert tinylm.cuda.is_bf16_supported() is torch.cuda.is_bf16_supported() is False
    assert tinylm.cuda.is_available() is torch.cuda.is_available() is False


@no_gpu
@pytest.mark.parametrize(
    "name", ["current_device", "get_device_name", "synchronize", "reset_peak_memory_stats"]
)
def test_cuda_calls_that_need_a_gpu_raise_as_torchs(name: str) -> None:
    with pytest.raises(TinyLMError, match=f"cuda.{name}: no CUDA device is usable") as e:
        getattr(tinylm.cuda, name)()
    assert "\n" not in str(e.value)
    with pytest.raises((AssertionError, AttributeError, RuntimeError)):
        getattr(torch.cuda, name)()


@no_gpu
@LIBS
def test_cuda_seeds_leave_the_cpu_numbers_alone_without_a_gpu(lib: ModuleType) -> None:
    lib.manual_seed(5)
    expected = values(lib.rand(4))
    lib.manual_seed(5)
    lib.cuda.manual_seed(123)
    lib.cuda.manual_seed_all(7)
    np.testing.assert_array_equal(values(lib.rand(4)), expected)
    assert lib.initial_seed() == 5
    with pytest.raises(ValueError):
        lib.cuda.manual_seed("a")


@needs_gpu
def test_cuda_answers_with_a_gpu() -> None:
    import cupy

    assert tinylm.cuda.device_count() == cupy.cuda.runtime.getDeviceCount() >= 1
    assert tinylm.cuda.current_device() == cupy.cuda.runtime.getDevice()
    assert isinstance(tinylm.cuda.get_device_name(), str) and tinylm.cuda.get_device_name(0)
    tinylm.cuda.synchronize()
    tinylm.cuda.synchronize(tinylm.device("cuda", 0))
    before = tinylm.cuda.memory_allocated()
    x = tinylm.zeros(1 << 20, device="cuda")
    assert tinylm.cuda.memory_allocated(0) >= before + 4 * (1 << 20)
    assert tinylm.cuda.memory_reserved() >= tinylm.cuda.memory_allocated()
    del x
    tinylm.cuda.empty_cache()
    with pytest.raises(TinyLMError, match="cuda.max_memory_allocated: CuPy's memory pool keeps"):
        tinylm.cuda.max_memory_allocated()
    with pytest.raises(TinyLMError, match="there is no GPU 99"):
        tinylm.cuda.get_device_name(99)
    tinylm.cuda.manual_seed(3)
    assert tinylm.initial_seed() == 3  # one generator serves every device


# ---- the legacy tensor types: FloatTensor … ---------------------------------------------------

TYPE_NAMES = ["FloatTensor", "DoubleTensor", "HalfTensor", "ByteTensor", "CharTensor"]
TYPE_NAMES += ["ShortTensor", "IntTensor", "LongTensor", "BoolTensor"]


@pytest.mark.parametrize("name", TYPE_NAMES)
@pytest.mark.parametrize(
    "data",
    [[1, 0, 2], [1.7, -1.7, 0.0], (1.5, 2), [], [[1, 2], [3, 4]], [True, False]],
    ids=["ints", "floats", "tuple", "empty", "nested", "bools"],
)
def test_a_type_called_with_values_is_torchs(name: str, data: Any) -> None:
    try:
        theirs = getattr(torch, name)(data)
    except RuntimeError:  # -1.7 as uint8: torch refuses the overflow
        try:
            getattr(tinylm, name)(data)
        except (TinyLMError, OverflowError):
            return
        pytest.fail(f"torch refuses {name}({data}), tinylm made a tensor")
    ours = getattr(tinylm, name)(data)
    assert type(ours) is tinylm.Tensor and type(theirs) is torch.Tensor
    assert dtype_name(ours) == dtype_name(theirs) and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(values(ours), values(theirs))
    assert ours.type() == theirs.type() == f"torch.{name}" and not ours.requires_grad


@pytest.mark.parametrize("name", TYPE_NAMES)
@pytest.mark.parametrize("sizes", [(), (3,), (2, 3), (0, 2)], ids=str)
def test_a_type_called_with_sizes_makes_that_shape(name: str, sizes: tuple[int, ...]) -> None:
    ours, theirs = getattr(tinylm, name)(*sizes), getattr(torch, name)(*sizes)
    assert ours.shape == tuple(theirs.shape) and dtype_name(ours) == dtype_name(theirs)


@LIBS
def test_a_type_shares_a_numpy_array_of_its_dtype_and_copies_others(lib: ModuleType) -> None:
    same, other = np.zeros(2, np.float32), np.zeros(2, np.float64)
    lib.FloatTensor(same)[0] = 5.0
    lib.FloatTensor(other)[0] = 5.0
    assert same.tolist() == [5.0, 0.0] and other.tolist() == [0.0, 0.0]
    x = lib.tensor([1.0, 2.0])
    assert lib.FloatTensor(x).data_ptr() == x.data_ptr()
    assert dtype_name(lib.LongTensor(np.array([1.9, -1.9]))) == "int64"
    np.testing.assert_array_equal(values(lib.LongTensor(np.array([1.9, -1.9]))), [1, -1])


@LIBS
def test_isinstance_of_a_type_reads_the_dtype(lib: ModuleType) -> None:
    x, i = lib.zeros(2), lib.zeros(2, dtype=lib.int64)
    assert isinstance(x, lib.FloatTensor) and not isinstance(x, lib.DoubleTensor)
    assert isinstance(i, lib.LongTensor) and not isinstance(i, lib.IntTensor)
    assert not isinstance([1.0], lib.FloatTensor) and not isinstance(np.zeros(2), lib.FloatTensor)
    assert isinstance(lib.FloatTensor([1]), lib.Tensor)
    assert not issubclass(lib.FloatTensor, lib.Tensor)
    assert lib.FloatTensor.dtype == lib.float32 and lib.LongTensor.dtype == lib.int64
    assert lib.typename(lib.FloatTensor) == "torch.FloatTensor"
    assert repr(lib.DoubleTensor) == "<class 'torch.DoubleTensor'>"


TARGETS = ["DoubleTensor", "torch.DoubleTensor", "float64", "torch.LongTensor", "HalfTensor"]


@pytest.mark.parametrize("target", TARGETS)
def test_type_converts_as_torchs_with_gradients(target: str) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 6))  # float64 values, converted to float32 below
    upstream = rng.standard_normal((6, 2))
    results = []
    for lib in (tinylm, torch):
        x = lib.tensor(a, dtype=lib.float32, requires_grad=True)
        y = x.mT[:, ::2].type(target if "." in target else getattr(lib, target))  # strided
        floating = dtype_name(y).startswith("float")
        if floating:
            (y * lib.tensor(upstream, dtype=y.dtype)).sum().backward()
        grad = values(x.grad) if floating else None
        results.append((y.type(), dtype_name(y), values(y).astype(np.float64), grad))
    (ours, theirs) = results
    assert ours[:2] == theirs[:2]
    np.testing.assert_array_equal(ours[2], theirs[2])
    if ours[3] is not None:
        np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-6)


@LIBS
def test_type_of_its_own_type_is_itself(lib: ModuleType) -> None:
    x = lib.zeros(2)
    assert x.type(lib.FloatTensor) is x and x.type("torch.FloatTensor") is x
    assert lib.zeros(2, dtype=lib.int64).type() == "torch.LongTensor"
    assert lib.zeros(2, dtype=lib.bool).type() == "torch.BoolTensor"


BAD_TYPE_CALLS = [
    (lambda: tinylm.FloatTensor((2, 3)), TinyLMError, r"FloatTensor: a tuple of ints is a size"),
    (lambda: tinylm.FloatTensor(2.5), TypeError, r"FloatTensor: data must be a sequence, got"),
    (lambda: tinylm.FloatTensor("a"), TypeError, r"FloatTensor: data must be a sequence, got str"),
    (lambda: tinylm.FloatTensor(-1), TinyLMError, r"FloatTensor: negative dimension in the size"),
    (lambda: tinylm.FloatTensor(2, [1]), TypeError, r"FloatTensor: takes sizes \(ints\) or one"),
    (
        lambda: tinylm.FloatTensor(tinylm.zeros(2, dtype=tinylm.float64)),
        TinyLMError,
        r"FloatTensor: expected a CPU float32 tensor, got float64 on cpu",
    ),
    (lambda: tinylm.FloatTensor([[1], [2, 3]]), TinyLMError, r"tensor"),
    (lambda: tinylm.zeros(2).type("float"), TinyLMError, r"type: 'float' is not a type name"),
    (lambda: tinylm.zeros(2).type("DoubleTensor"), TinyLMError, r"'DoubleTensor' is not a type"),
]


@pytest.mark.parametrize("call,error,message", BAD_TYPE_CALLS)
def test_bad_type_calls_are_one_line(call: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as e:
        call()
    assert "\n" not in str(e.value)


def test_torch_refuses_what_tinylm_refuses_or_reads_a_size() -> None:
    with pytest.raises(TypeError):
        torch.FloatTensor(2.5)
    with pytest.raises(TypeError):
        torch.FloatTensor(torch.zeros(2, dtype=torch.float64))
    with pytest.raises(RuntimeError):
        torch.FloatTensor(-1)
    with pytest.raises(ValueError):
        torch.zeros(2).type("DoubleTensor")
    assert torch.FloatTensor((2, 3)).tolist() == [2.0, 3.0]  # tuple: values in torch …
    assert tuple(torch.FloatTensor(torch.Size([2, 3])).shape) == (2, 3)  # … Size: a shape


# ---- asarray and frombuffer ----------------------------------------------------------------


@LIBS
@pytest.mark.parametrize(
    "make",
    [
        lambda: np.arange(6.0).reshape(2, 3),
        lambda: np.arange(6.0).reshape(2, 3).T,  # not contiguous: shared all the same
        lambda: np.arange(4, dtype=np.int32),
        lambda: np.array([True, False]),
    ],
    ids=["f64", "transposed", "int32", "bool"],
)
def test_asarray_shares_a_numpy_array(lib: ModuleType, make: Any) -> None:
    a = make()
    t = lib.asarray(a)
    assert dtype_name(t) == str(a.dtype) and tuple(t.shape) == a.shape
    t.fill_(1)
    assert (a == 1).all()  # the array sees the tensor's write
    b = make()
    lib.asarray(b, copy=True).fill_(1)
    lib.asarray(b, dtype=lib.float16).fill_(1)
    np.testing.assert_array_equal(b, make())  # copies: the array is untouched


@pytest.mark.parametrize(
    "obj,kwargs",
    [
        ([1.0, 2], {}),
        ([1, 2], {}),
        ([True, False], {}),
        ([[1, 2], [3, 4]], {"dtype": "float64"}),
        (3.5, {}),
        ([1.7, -1.2], {"dtype": "int64"}),
        ([1.0, 2.0], {"requires_grad": True}),
        (np.float32(2.5), {}),
    ],
    ids=["floats", "ints", "bools", "nested", "scalar", "truncated", "grad", "np scalar"],
)
def test_asarray_of_numbers_is_torchs(obj: Any, kwargs: dict[str, Any]) -> None:
    ours = tinylm.asarray(
        obj, **{k: getattr(tinylm, v) if k == "dtype" else v for k, v in kwargs.items()}
    )
    theirs = torch.asarray(
        obj, **{k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
    )
    assert dtype_name(ours) == dtype_name(theirs) and ours.shape == tuple(theirs.shape)
    assert ours.requires_grad == theirs.requires_grad
    np.testing.assert_array_equal(values(ours), values(theirs))


@LIBS
def test_asarray_of_a_tensor_is_itself_or_a_differentiable_conversion(lib: ModuleType) -> None:
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal((3, 4)), dtype=lib.float32, requires_grad=True)
    assert lib.asarray(x) is x and lib.asarray(x, device="cpu") is x and x.requires_grad
    assert lib.asarray(x, copy=False) is x
    y = lib.asarray(x.mT, dtype=lib.float64)
    assert dtype_name(y) == "float64" and y.requires_grad and y.grad_fn is not None
    upstream = rng.standard_normal((4, 3))
    (y * lib.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(values(x.grad), upstream.T.astype(np.float32), rtol=1e-6)
    c = lib.asarray(x, copy=True)
    assert c.data_ptr() != x.data_ptr() and c.grad_fn is not None
    d = lib.asarray(x, dtype=lib.float64, requires_grad=False)
    assert not d.requires_grad and d.grad_fn is None
    leaf = lib.zeros(2)
    assert lib.asarray(leaf, requires_grad=True) is leaf and leaf.requires_grad  # set in place


@LIBS
def test_asarray_copies_a_0d_array(lib: ModuleType) -> None:
    a = np.array(2.5)
    t = lib.asarray(a)
    t.fill_(1)
    assert a == 2.5 and t.shape == () and dtype_name(t) == "float64"


@LIBS
def test_asarray_of_a_buffer_reads_its_bytes(lib: ModuleType) -> None:
    raw = bytearray(np.array([1.5, -2.0], dtype=np.float32).tobytes())
    t = lib.asarray(raw)
    assert dtype_name(t) == "float32" and values(t).tolist() == [1.5, -2.0]
    t[0] = 4.0
    assert np.frombuffer(raw, dtype=np.float32)[0] == 4.0
    m = lib.asarray(memoryview(np.arange(3, dtype=np.int32)), dtype=lib.int32)
    assert values(m).tolist() == [0, 1, 2]


@LIBS
def test_frombuffer_shares_and_counts_as_torchs(lib: ModuleType) -> None:
    raw = bytearray(np.array([1, 2, 3, 4], dtype=np.int32).tobytes())
    t = lib.frombuffer(raw, dtype=lib.int32)
    assert dtype_name(t) == "int32" and values(t).tolist() == [1, 2, 3, 4]
    t[0] = 9
    assert raw[0] == 9
    assert values(lib.frombuffer(raw, dtype=lib.int32, count=2, offset=4)).tolist() == [2, 3]
    assert values(lib.frombuffer(raw, dtype=lib.uint8, count=3, offset=1)).tolist() == [0, 0, 0]
    assert values(lib.frombuffer(raw, dtype=lib.int32, offset=8)).tolist() == [3, 4]
    f = lib.frombuffer(bytearray(8), dtype=lib.float32, requires_grad=True)
    assert f.requires_grad and values(f).tolist() == [0.0, 0.0]


BAD_BUFFERS = [
    (lambda lib: lib.frombuffer(bytearray(5), dtype=lib.int32), "must be a multiple of the"),
    (lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, offset=9), "offset \\(9 bytes\\)"),
    (lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, offset=-1), "offset \\(-1 bytes"),
    (lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, count=3), "do not fit"),
    (lambda lib: lib.frombuffer(bytearray(0), dtype=lib.int32), "must not be 0"),
    (lambda lib: lib.frombuffer(bytearray(8), dtype=lib.int32, count=0), "must not be 0"),
    (lambda lib: lib.frombuffer("ab", dtype=lib.uint8), "str does not implement"),
    (lambda lib: lib.asarray(b"ab"), "must be a multiple of the element size \\(4\\)"),
    (lambda lib: lib.asarray(np.zeros(2), dtype=lib.float32, copy=False), "can't alias"),
    (lambda lib: lib.asarray(lib.zeros(2), dtype=lib.float64, copy=False), "can't alias"),
    (lambda lib: lib.asarray([1], copy=False), "can't alias a list"),
]


@pytest.mark.parametrize("call,message", BAD_BUFFERS)
def test_bad_asarray_and_frombuffer_calls_are_one_line(call: Any, message: str) -> None:
    with pytest.raises(TinyLMError, match=message) as e:
        call(tinylm)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError):  # torch refuses them too (TinyLMError is a ValueError)
        call(torch)


@LIBS
def test_asarray_refuses_grad_for_integers(lib: ModuleType) -> None:
    with pytest.raises((TinyLMError, RuntimeError), match="(?i)only .*floating"):
        lib.asarray(np.array([1, 2]), requires_grad=True)


# ---- grad modes, anomaly detection ----------------------------------------------------------


@LIBS
def test_inference_mode_false_turns_recording_back_on(lib: ModuleType) -> None:
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        with lib.inference_mode(False):
            assert lib.is_grad_enabled() and (x * 2).requires_grad
        assert not lib.is_grad_enabled()
    with lib.inference_mode():
        with lib.inference_mode(False):
            assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled()
        assert not lib.is_grad_enabled() and lib.is_inference_mode_enabled()
    assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled()


@LIBS
def test_decorated_generators_run_in_their_mode(lib: ModuleType) -> None:
    x = lib.ones(2, requires_grad=True)

    def body() -> Any:
        yield lib.is_grad_enabled(), lib.is_inference_mode_enabled(), (x * 2).requires_grad
        yield lib.is_grad_enabled(), lib.is_inference_mode_enabled(), (x * 2).requires_grad

    seen = []
    for decorate in (lib.no_grad(), lib.no_grad, lib.inference_mode(), lib.inference_mode):
        gen = decorate(body)()
        seen.append(next(gen))
        assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled()  # between items
        seen.append(next(gen))
    with lib.no_grad():
        seen.extend(lib.inference_mode(False)(body)())
        seen.extend(lib.enable_grad()(body)())
    off, inference, on = (False, False, False), (False, True, False), (True, False, True)
    assert seen == [off, off, off, off, inference, inference, inference, inference, on, on, on, on]


def test_grad_mode_is_autograds_submodule_as_torchs() -> None:
    from tinylm.autograd.grad_mode import no_grad, set_grad_enabled

    assert no_grad is tinylm.no_grad and set_grad_enabled is tinylm.set_grad_enabled
    for name in ("no_grad", "enable_grad", "set_grad_enabled", "inference_mode"):
        assert hasattr(torch.autograd.grad_mode, name)
        assert getattr(tinylm.autograd.grad_mode, name) is getattr(tinylm, name)


@LIBS
def test_set_detect_anomaly_switches_as_torchs(lib: ModuleType) -> None:
    assert not lib.is_anomaly_enabled() and lib.is_anomaly_check_nan_enabled()
    lib.autograd.set_detect_anomaly(True)
    assert lib.is_anomaly_enabled()
    lib.autograd.set_detect_anomaly(False)
    assert not lib.is_anomaly_enabled()
    with lib.autograd.set_detect_anomaly(True, check_nan=False):
        assert lib.is_anomaly_enabled() and not lib.is_anomaly_check_nan_enabled()
    assert not lib.is_anomaly_enabled() and lib.is_anomaly_check_nan_enabled()
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        with lib.autograd.detect_anomaly():
            assert lib.is_anomaly_enabled()
    assert not lib.is_anomaly_enabled()


NAN_MAKERS = [
    ("Sqrt", 0, lambda x, y: (x.sqrt() * 0).sum()),
    ("Div", 1, lambda x, y: (x / y).sum()),
]


@LIBS
@pytest.mark.parametrize("op,index,make", NAN_MAKERS, ids=[m[0] for m in NAN_MAKERS])
def test_detect_anomaly_names_the_op_whose_backward_made_a_nan(
    lib: ModuleType, op: str, index: int, make: Any
) -> None:
    x = lib.tensor([0.0, 1.0], dtype=lib.float64, requires_grad=True)
    y = lib.tensor([0.0, 2.0], dtype=lib.float64, requires_grad=True)
    with pytest.warns(UserWarning), np.errstate(all="ignore"):
        with lib.autograd.detect_anomaly():
            loss = make(x, y * 0 if op == "Div" else y)
            message = f"Function '{op}Backward0' returned nan values in its {index}th output."
            with pytest.raises(RuntimeError, match=message.replace("(", r"\(")):
                loss.backward()
    with np.errstate(all="ignore"):
        make(x, y * 0 if op == "Div" else y).backward()  # off: NaN gradients, no error
    leaf = y if op == "Div" else x
    assert np.isnan(values(leaf.grad)).any()


@LIBS
def test_detect_anomaly_without_check_nan_lets_nans_through(lib: ModuleType) -> None:
    x = lib.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning), np.errstate(all="ignore"):
        with lib.autograd.detect_anomaly(check_nan=False):
            (x.sqrt() * 0).sum().backward()
    assert np.isnan(values(x.grad)[0])


# ---- generators, fork_rng, threads, denormals -----------------------------------------------


@LIBS
def test_a_generator_takes_a_device_and_starts_from_torchs_seed(lib: ModuleType) -> None:
    for g in (lib.Generator(), lib.Generator("cpu"), lib.Generator(device=lib.device("cpu"))):
        assert g.device == lib.device("cpu") and g.initial_seed() == 67280421310721
    a = values(lib.rand(5, generator=lib.Generator()))
    np.testing.assert_array_equal(values(lib.rand(5, generator=lib.Generator())), a)
    g = lib.Generator().manual_seed(3)
    assert g.initial_seed() == 3
    with pytest.raises(TypeError):
        lib.Generator(seed=3)  # torch has no seed keyword: manual_seed seeds


@no_gpu
def test_a_generator_on_a_gpu_needs_one() -> None:
    with pytest.raises(RuntimeError, match="device 'cuda' was requested but no CUDA device"):
        tinylm.Generator("cuda")
    with pytest.raises(RuntimeError, match="device: 5 names a GPU"):
        tinylm.Generator(5)  # torch: a GPU's number too, not a seed
    with pytest.raises(RuntimeError):
        torch.Generator(5)


@LIBS
def test_fork_rng_restores_the_global_numbers(lib: ModuleType) -> None:
    lib.manual_seed(11)
    expected = values(lib.rand(4))
    lib.manual_seed(11)
    with lib.random.fork_rng():
        lib.rand(100)
        lib.manual_seed(99)
        lib.randn(3)
    np.testing.assert_array_equal(values(lib.rand(4)), expected)
    assert lib.initial_seed() == 11
    lib.manual_seed(11)
    with lib.random.fork_rng(enabled=False):
        lib.rand(4)
    assert not np.array_equal(values(lib.rand(4)), expected)  # not restored: it moved on
    lib.manual_seed(11)
    with lib.random.fork_rng(devices=[], device_type="cuda"):
        lib.rand(4)
    np.testing.assert_array_equal(values(lib.rand(4)), expected)


def test_interop_threads_and_flush_denormal() -> None:
    assert tinylm.get_num_interop_threads() == 1  # tinylm runs one op at a time
    assert isinstance(torch.get_num_interop_threads(), int)
    tinylm.set_num_interop_threads(3)
    assert tinylm.get_num_interop_threads() == 3
    tinylm.set_num_interop_threads(1)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(TinyLMError, match="set_num_interop_threads: expects a positive"):
            tinylm.set_num_interop_threads(bad)
    with pytest.raises(RuntimeError):
        torch.set_num_interop_threads(0)
    assert tinylm.set_flush_denormal(True) is False  # not supported: torch's answer then
    assert tinylm.set_flush_denormal(False) is False
    tiny = np.float32(1e-40)  # a denormal float32 stays itself: nothing was flushed
    assert tinylm.tensor([tiny]).numpy()[0] == tiny


# ---- what a tensor says of its memory -------------------------------------------------------


@LIBS
def test_a_tensor_is_strided_dense_and_not_pinned_or_shared(lib: ModuleType) -> None:
    x = lib.zeros(2, 3)
    assert x.layout == lib.strided and isinstance(lib.strided, lib.layout)
    assert str(x.layout) == repr(lib.strided) == "torch.strided"
    assert x.is_sparse is False and x.is_meta is False
    assert x.is_pinned() is False and x.is_shared() is False
    assert x.t().layout == lib.strided
    assert pickle.loads(pickle.dumps(lib.strided)) is lib.strided


@no_gpu
def test_pin_memory_needs_a_gpu_and_share_memory_is_refused() -> None:
    with pytest.raises(TinyLMError, match="pin_memory: pinned memory needs a GPU") as e:
        tinylm.zeros(2).pin_memory()
    assert "\n" not in str(e.value)
    with pytest.raises(RuntimeError):
        torch.zeros(2).pin_memory()
    x = tinylm.zeros(2)
    with pytest.raises(TinyLMError, match="share_memory_: tinylm's CPU tensors hold NumPy") as e:
        x.share_memory_()
    assert "\n" not in str(e.value) and x.is_shared() is False


@needs_gpu
def test_pin_memory_with_a_gpu_copies_into_pinned_memory_differentiably() -> None:
    rng = np.random.default_rng(2)
    x = tinylm.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    p = x.pin_memory()
    assert p.is_pinned() and not x.is_pinned() and p.pin_memory() is p
    np.testing.assert_array_equal(p.numpy(), x.detach().numpy())
    upstream = rng.standard_normal((3, 4))
    (p * tinylm.tensor(upstream)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), upstream)
    cuda = tinylm.zeros(2, device="cuda")
    assert cuda.share_memory_() is cuda and cuda.is_shared()


@pytest.mark.parametrize(
    "data, dtype",
    [
        ([300], "uint8"), ([-1], "uint8"), ([-255], "uint8"), ([-256], "uint8"),
        ([1.7], "uint8"), ([-0.5], "uint8"), ([255.9], "uint8"), ([[1, 300]], "uint8"),
        ([True, 300], "uint8"), ([128], "int8"), ([-128], "int8"), ([-129], "int8"),
        ([70000], "int16"), ([2**31], "int32"), ([-(2**31)], "int32"), ([1e10], "int32"),
        ([float("nan")], "int64"), ([float("inf")], "int32"), ([1.5], "int64"),
        ([-(2.0**63)], "int64"), ([3], "bool"), ([1e40], "float32"), ([], "uint8"), (300, "uint8"),
    ],
)  # fmt: skip
def test_python_numbers_out_of_an_int_dtypes_range_are_refused_as_torch(data, dtype) -> None:
    """PyTorch checks Python numbers against an integer dtype's range where NumPy would wrap
    (300 → 44 in uint8): nan, ±inf and floats outside [min, max] are refused; an unsigned
    dtype takes integers down to −max (−1 → 255), as PyTorch's own rule."""
    try:
        theirs = torch.tensor(data, dtype=getattr(torch, dtype))
    except RuntimeError:
        with pytest.raises(TinyLMError, match=f"cannot be converted to {dtype} without overflow"):
            tinylm.tensor(data, dtype=getattr(tinylm, dtype))
        return
    ours = tinylm.tensor(data, dtype=getattr(tinylm, dtype))
    assert dtype_name(ours) == dtype_name(theirs)
    np.testing.assert_array_equal(values(ours), values(theirs))
