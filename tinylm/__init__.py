"""tinylm: a from-scratch educational deep-learning framework.

Read it bottom-up: ``devices`` (numpy or cupy arrays) → ``autograd`` (Function, the
backward engine) → ``ops`` (each op's forward and backward) → ``tensor`` (the Tensor
class) → ``creation`` (``tensor``, ``zeros``, ``randn`` …) → ``nn`` → ``optim`` →
``models`` → ``train`` and ``cli``. ``environment`` lists every environment variable.
"""

import builtins
from typing import Any

from tinylm import (
    allocator,
    functional_aliases,
    linalg,
    linalg_decompositions,
    math_functions,
    math_more,
    ops,
    special,
    tensor_elementwise,
    tensor_inplace,
    tensor_linalg,
    tensor_scatter,
    tensor_selecting,
    tensor_shaping,
    tensor_special,
    tensor_stats,
)
from tinylm.autograd import (
    Context,
    Function,
    TinyLMError,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinylm.creation import (
    arange,
    as_tensor,
    bernoulli,
    cat,
    concat,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    maximum,
    minimum,
    multinomial,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    split,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from tinylm.devices import cuda_is_available, device
from tinylm.dtypes import (
    bool_,
    can_cast,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    set_default_dtype,
    uint8,
)
from tinylm.functional_aliases import *  # noqa: F403 - its __all__: torch.layer_norm …
from tinylm.functional_aliases import alpha_dropout_, dropout_
from tinylm.linalg_decompositions import (
    cholesky,
    det,
    inverse,
    logdet,
    matrix_exp,
    matrix_power,
    pinverse,
    qr,
    slogdet,
    svd,
)
from tinylm.math_functions import (
    arctan2,
    atan2,
    bitwise_not,
    bucketize,
    fmod,
    frac,
    hypot,
    isclose,
    lerp,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    median,
    nanmean,
    nansum,
    norm,
    reciprocal,
    searchsorted,
    std_mean,
    trunc,
    var_mean,
)
from tinylm.math_more import corrcoef, cov, frexp, ldexp, row_stack, rsub
from tinylm.memory_formats import (
    channels_last,
    channels_last_3d,
    contiguous_format,
    memory_format,
    preserve_format,
)
from tinylm.random import Generator, default_generator, manual_seed
from tinylm.random_creation import logspace, normal, poisson, randint_like
from tinylm.tensor import Tensor
from tinylm.tensor_elementwise import (
    absolute,
    acos,
    acosh,
    addcdiv,
    addcmul,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctanh,
    asin,
    asinh,
    atan,
    atanh,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    clamp_max,
    clamp_min,
    copysign,
    cosh,
    deg2rad,
    divide,
    erfc,
    erfinv,
    exp2,
    fix,
    float_power,
    fmax,
    fmin,
    gcd,
    greater,
    greater_equal,
    heaviside,
    is_complex,
    is_floating_point,
    is_nonzero,
    isin,
    isneginf,
    isposinf,
    isreal,
    lcm,
    less,
    less_equal,
    log2,
    log10,
    multiply,
    negative,
    not_equal,
    positive,
    rad2deg,
    sgn,
    signbit,
    sinh,
    subtract,
    tan,
    true_divide,
    xlogy,
)
from tinylm.tensor_indexing import ValuesIndices
from tinylm.tensor_inplace import *  # noqa: F403 - its __all__: torch.sin_, torch.ldexp …
from tinylm.tensor_linalg import (
    addmv,
    addr,
    cdist,
    chain_matmul,
    cross,
    cumulative_trapezoid,
    dist,
    mv,
    pdist,
    renorm,
    trapezoid,
    trapz,
    vdot,
)
from tinylm.tensor_scatter import (
    diagonal_scatter,
    index_reduce,
    put,
    scatter,
    scatter_reduce,
    select,
    select_scatter,
    slice_scatter,
)
from tinylm.tensor_selecting import (
    argwhere,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    cartesian_prod,
    combinations,
    diag_embed,
    diagflat,
    dsplit,
    fliplr,
    flipud,
    hsplit,
    index_copy,
    index_fill,
    index_put,
    masked_scatter,
    ravel,
    rot90,
    split_with_sizes,
    take,
    take_along_dim,
    tensor_split,
    unflatten,
    vander,
    vsplit,
)
from tinylm.tensor_shaping import (
    addbmm,
    addmm,
    baddbmm,
    broadcast_shapes,
    broadcast_tensors,
    column_stack,
    cumprod,
    diff,
    dstack,
    hstack,
    inner,
    kron,
    meshgrid,
    mm,
    moveaxis,
    movedim,
    narrow,
    swapaxes,
    swapdims,
    tensordot,
    tile,
    unbind,
    vstack,
)
from tinylm.tensor_special import *  # noqa: F403 - its __all__: torch.lgamma …
from tinylm.tensor_stats import (
    aminmax,
    bincount,
    cummax,
    cummin,
    histc,
    histogram,
    kthvalue,
    logcumsumexp,
    mode,
    msort,
    nanmedian,
    nanquantile,
    quantile,
    unique_consecutive,
)

__version__ = "0.1.0"

# Higher layers last: they import the names above from this (partially loaded) package.
from tinylm import amp, backends, cuda, data, nn, optim, utils
from tinylm.amp import autocast
from tinylm.index_creation import tril_indices, triu_indices
from tinylm.nn.quantized import quantize_int8
from tinylm.printing import get_printoptions, set_printoptions
from tinylm.serialization import load, save
from tinylm.settings import (
    compile,
    get_float32_matmul_precision,
    set_float32_matmul_precision,
)

#: ``torch.Size``: tinylm's shapes are plain tuples, so ``x.shape == tinylm.Size([2, 3])``
Size = tuple
#: ``torch.dtype``: tinylm's dtypes are NumPy's, so ``isinstance(x.dtype, tinylm.dtype)``
from numpy import dtype  # noqa: E402

from tinylm import distributions  # noqa: E402 - torch.distributions (uses nn.functional)

allocator.keep_freed_memory()  # freed arrays' memory kept for the next ones: tinylm/allocator.py

# set-up and utility names: finfo, inf, get_rng_state, use_deterministic_algorithms …
from tinylm import (  # noqa: E402
    cpu_settings,
    determinism,
    grad_mode,  # noqa: F401 - makes tinylm.autograd.grad_mode (it says why)
    legacy_tensors,
    numeric_info,
    runtime_state,
)
from tinylm.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled  # noqa: E402
from tinylm.autograd import is_inference_mode_enabled  # noqa: E402
from tinylm.buffers import asarray, frombuffer  # noqa: E402
from tinylm.cpu_settings import *  # noqa: E402, F403 - its __all__: set_flush_denormal …
from tinylm.determinism import (  # noqa: E402
    are_deterministic_algorithms_enabled,
    is_deterministic_algorithms_warn_only_enabled,
    use_deterministic_algorithms,
)
from tinylm.legacy_tensors import *  # noqa: E402, F403 - its __all__: FloatTensor …
from tinylm.numeric_info import *  # noqa: E402, F403 - its __all__: finfo, iinfo, pi …
from tinylm.runtime_state import *  # noqa: E402, F403 - its __all__: seed, typename …
from tinylm.tensor_memory import layout, strided  # noqa: E402


# Function forms of the Tensor methods, with PyTorch's names: tinylm.exp(x) == x.exp().
def exp(x: Tensor) -> Tensor:
    return x.exp()


def log(x: Tensor) -> Tensor:
    return x.log()


def sqrt(x: Tensor) -> Tensor:
    return x.sqrt()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def abs(x: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    return x.abs()


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    return x.clamp(min, max)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return a @ b


def einsum(equation: str, *operands: Tensor) -> Tensor:
    """Einstein summation, as ``torch.einsum``: each operand's axes labelled by letters, the
    product summed over the letters missing from the output. ``einsum("bqd,bkd->bqk", q, k)``
    is attention's scores Q Kᵀ (shapes (B, Tq, D), (B, Tk, D) → (B, Tq, Tk)); "..." stands
    for broadcast leading dims; without "->", the output is the letters used once, in
    alphabetical order. Operands may also come as one list. Differentiable in every operand
    (``tinylm/ops/matmul.py: Einsum``); a diagonal (a letter twice in one operand) is refused.
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(
            f"einsum: the equation comes first, as a string; got {type(equation).__name__}"
        )
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} must be a Tensor, got {type(t).__name__}")
    subscripts, output = ops.einsum_subscripts(equation, [t.shape for t in operands])
    return ops.Einsum.apply(*operands, subscripts=subscripts, output=output)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None) -> Any:  # fmt: skip
    """The distinct values (see :meth:`Tensor.unique`)."""
    return input.unique(sorted, return_inverse, return_counts, dim)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The entries x[i, i + offset] (see :meth:`Tensor.diagonal`)."""
    return input.diagonal(offset, dim1, dim2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A diagonal matrix from a vector, or a matrix's diagonal (see :meth:`Tensor.diag`)."""
    return input.diag(diagonal)


def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal."""
    return input.trace()


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """Indices of the non-zero elements (see :meth:`Tensor.nonzero`)."""
    return input.nonzero(as_tuple=as_tuple)


def softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    return x.softmax(dim, dtype)


def log_softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    return x.log_softmax(dim, dtype)


def div(input: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """input / other, or rounded toward zero / down (see :meth:`Tensor.div`)."""
    x = input if isinstance(input, Tensor) else tensor(input)
    return x.div(other, rounding_mode=rounding_mode)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    return x.tril(diagonal)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    return x.triu(diagonal)


def masked_fill(x: Tensor, mask: Tensor, value: float) -> Tensor:
    return x.masked_fill(mask, value)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    return x.transpose(dim0, dim1)


def permute(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    return x.permute(dims)


def reshape(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    return x.reshape(shape)


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return x.sum(dim, keepdim)


def mean(x: Tensor, dim=None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    return x.mean(dim, keepdim, dtype=dtype)


def max(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """``max(x)``, ``max(x, dim)`` → (values, indices), ``max(a, b)``: see Tensor.max."""
    return x.max(dim, keepdim)


def min(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """``min(x)``, ``min(x, dim)`` → (values, indices), ``min(a, b)``: see Tensor.min."""
    return x.min(dim, keepdim)


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return x.amax(dim, keepdim)


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return x.amin(dim, keepdim)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return x.argmax(dim, keepdim)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return x.argmin(dim, keepdim)


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    return x.sort(dim, descending, stable)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return x.argsort(dim, descending, stable)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    return x.topk(k, dim, largest, sorted)


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    return x.gather(dim, index)


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    return x.index_select(dim, index)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return x.scatter_add(dim, index, src)


def cumsum(x: Tensor, dim: int) -> Tensor:
    return x.cumsum(dim)


def numel(x: Tensor) -> int:
    return x.numel()


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return x.flatten(start_dim, end_dim)


def flip(input: Tensor, dims: Any) -> Tensor:
    """``input`` reversed along ``dims`` (a copy; see :meth:`Tensor.flip`)."""
    return input.flip(dims)


def roll(input: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """``input`` shifted ``shifts`` places along ``dims``, wrapping around (see
    :meth:`Tensor.roll`)."""
    return input.roll(shifts, dims)


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    return x.squeeze(dim)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    return x.unsqueeze(dim)


# The element-wise math of tinylm/ops/elementwise.py (Sin, Cos, Rsqrt, Log1p, Expm1, Erf,
# Step, NanToNum), as PyTorch's functions: tinylm.sin(x) == x.sin().
def sin(input: Tensor) -> Tensor:
    return input.sin()


def cos(input: Tensor) -> Tensor:
    return input.cos()


def rsqrt(input: Tensor) -> Tensor:
    return input.rsqrt()


def square(input: Tensor) -> Tensor:
    return input.square()


def log1p(input: Tensor) -> Tensor:
    return input.log1p()


def expm1(input: Tensor) -> Tensor:
    return input.expm1()


def erf(input: Tensor) -> Tensor:
    return input.erf()


def sign(input: Tensor) -> Tensor:
    return input.sign()


def floor(input: Tensor) -> Tensor:
    return input.floor()


def ceil(input: Tensor) -> Tensor:
    return input.ceil()


def round(input: Tensor, *, decimals: builtins.int = 0) -> Tensor:  # noqa: A001
    return input.round(decimals=decimals)


def isnan(input: Tensor) -> Tensor:
    return input.isnan()


def isinf(input: Tensor) -> Tensor:
    return input.isinf()


def isfinite(input: Tensor) -> Tensor:
    return input.isfinite()


def nan_to_num(
    input: Tensor, nan: builtins.float = 0.0, posinf: Any = None, neginf: Any = None
) -> Tensor:
    return input.nan_to_num(nan, posinf, neginf)


# Function forms of more Tensor methods, with PyTorch's signatures.
def logsumexp(input: Tensor, dim: Any, keepdim: builtins.bool = False) -> Tensor:
    return input.logsumexp(dim=dim, keepdim=keepdim)


def prod(input: Tensor, dim: Any = None, keepdim: builtins.bool = False, *, dtype=None) -> Tensor:
    return input.prod(dim, keepdim, dtype=dtype)


def var(
    input: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: builtins.bool = False,
    *,
    correction: Any = None,
) -> Tensor:
    return input.var(dim, unbiased, keepdim, correction=correction)


def std(
    input: Tensor,
    dim: Any = None,
    unbiased: Any = None,
    keepdim: builtins.bool = False,
    *,
    correction: Any = None,
) -> Tensor:
    return input.std(dim, unbiased, keepdim, correction=correction)


def clone(input: Tensor, *, memory_format: Any = preserve_format) -> Tensor:
    return input.clone(memory_format=memory_format)


def detach(input: Tensor) -> Tensor:
    return input.detach()


def chunk(input: Tensor, chunks: builtins.int, dim: builtins.int = 0) -> tuple[Tensor, ...]:
    return input.chunk(chunks, dim)


def t(input: Tensor) -> Tensor:
    return input.t()


def broadcast_to(input: Tensor, size: Any) -> Tensor:
    return input.broadcast_to(size)


def all(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:  # noqa: A001
    return input.all(dim, keepdim)


def any(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:  # noqa: A001
    return input.any(dim, keepdim)


def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    return input.count_nonzero(dim)


def repeat_interleave(
    input: Tensor, repeats: Any, dim: Any = None, *, output_size: Any = None
) -> Tensor:
    return input.repeat_interleave(repeats, dim, output_size=output_size)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    return input.masked_select(mask)


def index_add(
    input: Tensor, dim: builtins.int, index: Tensor, source: Tensor, *, alpha: Any = 1
) -> Tensor:
    return input.index_add(dim, index, source, alpha=alpha)


def index_put_(
    input: Tensor, indices: Any, values: Tensor, accumulate: builtins.bool = False
) -> Tensor:
    """``values`` written (or added) into ``input`` at ``indices``: see :meth:`Tensor.index_put`."""
    return input.index_put_(indices, values, accumulate)


def add(input: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    return input.add(other, alpha=alpha)


def sub(input: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    return input.sub(other, alpha=alpha)


def mul(input: Tensor, other: Any) -> Tensor:
    return input * other


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001
    """input ** exponent; either may be a number (``pow(2, t)``), as in PyTorch."""
    return input**exponent


def neg(input: Tensor) -> Tensor:
    return -input


def remainder(input: Tensor, other: Any) -> Tensor:
    return input % other


def floor_divide(input: Tensor, other: Any) -> Tensor:
    return input // other


clip = clamp


def eq(input: Tensor, other: Any) -> Tensor:
    return input == other


def ne(input: Tensor, other: Any) -> Tensor:
    return input != other


def lt(input: Tensor, other: Any) -> Tensor:
    return input < other


def le(input: Tensor, other: Any) -> Tensor:
    return input <= other


def gt(input: Tensor, other: Any) -> Tensor:
    return input > other


def ge(input: Tensor, other: Any) -> Tensor:
    return input >= other


def allclose(
    input: Tensor,
    other: Tensor,
    rtol: builtins.float = 1e-05,
    atol: builtins.float = 1e-08,
    equal_nan: builtins.bool = False,
) -> builtins.bool:
    """Whether |input − other| ≤ atol + rtol·|other| everywhere: a Python bool."""
    return input.allclose(other, rtol, atol, equal_nan)


def equal(input: Tensor, other: Tensor) -> builtins.bool:
    """Whether the two tensors have the same shape and values: a Python bool."""
    return input.equal(other)


def is_tensor(obj: Any) -> builtins.bool:
    return isinstance(obj, Tensor)


def dot(input: Tensor, tensor: Tensor) -> Tensor:  # noqa: F811 - PyTorch's argument name
    """Σ_i input_i · tensor_i of two 1-D tensors (see :meth:`Tensor.dot`)."""
    return input.dot(tensor)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The (n, m) matrix input_i · vec2_j of two 1-D tensors."""
    return input.outer(vec2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """(B, n, m) @ (B, m, p) -> (B, n, p), no broadcasting (see :meth:`Tensor.bmm`)."""
    return input.bmm(mat2)


def detach_(input: Tensor) -> Tensor:
    """``input`` cut off from the graph in place (see :meth:`Tensor.detach_`)."""
    return input.detach_()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for tinylm's CPU kernels (as ``torch.set_num_threads``); see
    ``kernels/parallel.py``. NumPy's matrix products keep their own threads."""
    from tinylm.kernels import parallel

    parallel.set_num_threads(n)


def get_num_threads() -> int:
    """How many threads tinylm's CPU kernels use (default: the cores this process may use)."""
    from tinylm.kernels import parallel

    return parallel.get_num_threads()


def set_backend(name: str) -> None:
    """Choose the kernel backend: "auto", "numpy" (the readable reference), "numba", "cupy"."""
    from tinylm.kernels import registry

    registry.set_backend(name)


def get_backend() -> str:
    from tinylm.kernels import registry

    return registry.get_backend()


__all__ = [
    "Size",
    "amp",
    "autocast",
    "backends",
    "compile",
    "cuda",
    "dtype",
    "get_float32_matmul_precision",
    "get_printoptions",
    "set_float32_matmul_precision",
    "set_printoptions",
    "data",
    "distributions",
    "double",
    "load",
    "nn",
    "optim",
    "utils",
    "quantize_int8",
    "save",
    "Context",
    "Function",
    "Generator",
    "Tensor",
    "TinyLMError",
    "ValuesIndices",
    "abs",
    "amax",
    "amin",
    "arange",
    "argmax",
    "argmin",
    "argsort",
    "bool_",
    "can_cast",
    "cat",
    "clamp",
    "concat",
    "cuda_is_available",
    "cumsum",
    "default_generator",
    "diag",
    "diagonal",
    "einsum",
    "empty",
    "enable_grad",
    "exp",
    "eye",
    "float16",
    "float32",
    "float64",
    "flatten",
    "flip",
    "full",
    "full_like",
    "gather",
    "get_backend",
    "get_default_dtype",
    "get_num_threads",
    "half",
    "index_select",
    "int8",
    "int16",
    "int32",
    "int64",
    "inference_mode",
    "is_grad_enabled",
    "linspace",
    "long",
    "log",
    "log_softmax",
    "manual_seed",
    "masked_fill",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multinomial",
    "no_grad",
    "numel",
    "ones",
    "ones_like",
    "permute",
    "promote_types",
    "rand",
    "rand_like",
    "randint",
    "randn",
    "randn_like",
    "relu",
    "reshape",
    "result_type",
    "roll",
    "scatter_add",
    "set_backend",
    "set_default_dtype",
    "set_grad_enabled",
    "set_num_threads",
    "sigmoid",
    "short",
    "div",
    "nonzero",
    "trace",
    "unique",
    "softmax",
    "sort",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "sum",
    "tanh",
    "tensor",
    "topk",
    "transpose",
    "tril",
    "triu",
    "uint8",
    "unsqueeze",
    "where",
    "zeros",
    "zeros_like",
    "channels_last",
    "channels_last_3d",
    "contiguous_format",
    "memory_format",
    "preserve_format",
    "index_put_",
    "tril_indices",
    "triu_indices",
    "sin",
    "cos",
    "rsqrt",
    "square",
    "log1p",
    "expm1",
    "erf",
    "sign",
    "floor",
    "ceil",
    "round",
    "isnan",
    "isinf",
    "isfinite",
    "nan_to_num",
    "logsumexp",
    "prod",
    "var",
    "std",
    "clone",
    "detach",
    "chunk",
    "t",
    "broadcast_to",
    "all",
    "any",
    "count_nonzero",
    "repeat_interleave",
    "masked_select",
    "index_add",
    "add",
    "sub",
    "mul",
    "pow",
    "neg",
    "remainder",
    "floor_divide",
    "clip",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "allclose",
    "equal",
    "is_tensor",
    "dot",
    "outer",
    "bmm",
    "as_tensor",
    "bernoulli",
    "from_numpy",
    "randperm",
    "linalg",
    "detach_",
    "logspace",
    "normal",
    "poisson",
    "randint_like",
    "__version__",
    "device",
    # The function forms imported above from these modules, as their own lists name them
    # (F401 is off for this file: ruff cannot read these lists).
    *math_functions.__all__,
    *tensor_elementwise.__all__,
    *tensor_special.__all__,
    *tensor_inplace.TOP_LEVEL,
    *functional_aliases.__all__,
    *functional_aliases.IN_PLACE,
    "special",
    *tensor_linalg.TOP_LEVEL,
    *linalg_decompositions.TOP_LEVEL,
    *tensor_selecting.TOP_LEVEL,
    *tensor_scatter.TOP_LEVEL,
    *math_more.TOP_LEVEL,
    *tensor_shaping.TOP_LEVEL,
    *tensor_stats.TOP_LEVEL,
    *numeric_info.__all__,
    *runtime_state.__all__,
    *legacy_tensors.__all__,
    "asarray",
    "frombuffer",
    *cpu_settings.__all__,
    "layout",
    "strided",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    *[n for n in determinism.__all__ if n != "alert_if_nondeterministic"],
    "is_inference_mode_enabled",
]


# PyTorch's other names of the dtypes. int, float and bool shadow Python's builtins here, so
# they are not in __all__ (``from tinylm import *`` must not replace ``int``); use them as
# ``tinylm.float``, like ``torch.float``.
long = int64
short = int16
half = float16
double = float64
int = int32  # noqa: A001
float = float32  # noqa: A001
bool = bool_  # noqa: A001
