"""PyTorch's order statistics, scans and counting: ``quantile``/``nanquantile``,
``kthvalue``, ``mode``, ``nanmedian``, ``aminmax``, ``cummax``/``cummin``,
``logcumsumexp``, ``msort``, ``unique_consecutive``, ``bincount``, ``histc`` and
``histogram``. ``tinylm.f(x, ...)`` and the method ``x.f(...)`` (one line in
``tinylm/tensor_math.py``) both land here.

Where PyTorch's gradient goes to a picked element (k-th value, mode, a median along a dim,
a running maximum, a quantile's two neighbours) the index is found on raw arrays
(``tinylm/ops/order_stats.py``) and the value gathered there, so the gradient is
``gather``'s: g added back at the index. ``nanmedian()`` of all elements and
``logcumsumexp`` are Functions of their own (``ops.order_stats``); ``aminmax`` is ``amin``
and ``amax`` (ties share the gradient evenly, as PyTorch). Counting (``bincount``,
``histc``, ``histogram``, ``unique_consecutive``) has no gradient, as in PyTorch.

Shapes in the docstrings: (*, n) and so on; ``g`` is dL/d(output).
"""

from __future__ import annotations

import builtins
import math
import numbers
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tinylm import ops
from tinylm.arg_checks import int_arg
from tinylm.autograd import TensorBase, TinyLMError, is_grad_enabled
from tinylm.devices import array_module, to_device_array
from tinylm.ops import order_stats
from tinylm.tensor_indexing import ValuesIndices

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

#: The functions ``tinylm`` exports under PyTorch's top-level names (``tinylm.bincount``, as
#: ``torch.bincount``); the rest is ``aminmax``'s result type.
TOP_LEVEL = [
    "aminmax",
    "bincount",
    "cummax",
    "cummin",
    "histc",
    "histogram",
    "kthvalue",
    "logcumsumexp",
    "mode",
    "msort",
    "nanmedian",
    "nanquantile",
    "quantile",
    "unique_consecutive",
]
__all__ = [*TOP_LEVEL, "MinMax"]

INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


class MinMax(NamedTuple):
    """What ``aminmax`` returns, as PyTorch: ``(min, max)``, or ``.min`` and ``.max``."""

    min: Tensor
    max: Tensor


class Histogram(NamedTuple):
    """What ``histogram`` returns, as PyTorch: ``(hist, bin_edges)``."""

    hist: Tensor
    bin_edges: Tensor


def _tensor(op: str, x: Any, name: str = "input") -> None:
    if not isinstance(x, TensorBase):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


def _lanes(op: str, x: Tensor, dim: Any) -> tuple[Tensor, int]:
    """``x`` as a tensor of at least one dim (a 0-d tensor as one element) and ``dim`` made
    non-negative, or one line naming ``op`` and x's shape."""
    d = int_arg(op, "dim", dim)
    n = builtins.max(x.ndim, 1)
    if not -n <= d < n:
        raise TinyLMError(
            f"{op}: dim {d} is out of range [{-n}, {n - 1}] for a tensor of shape "
            f"{tuple(x.shape)} {x.dtype}"
        )
    return (x.reshape(1) if x.ndim == 0 else x), d % n


def _not_empty(op: str, x: Tensor, d: int) -> None:
    if x.shape[d] == 0:
        raise TinyLMError(f"{op}: dim {d} of the tensor of shape {tuple(x.shape)} is empty")


def _picked(x: Tensor, d: int, index: Any, keepdim: builtins.bool, zero_d: builtins.bool):
    """(values, indices) at ``index`` (x's shape with dim d of size 1) along dim d."""
    indices = x._wrap(index)
    values = x.gather(d, indices)
    if not keepdim or zero_d:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return ValuesIndices(values, indices)


# ---------------------------------------------------------------------------------------
# Order statistics
# ---------------------------------------------------------------------------------------


def kthvalue(
    input: Tensor,  # noqa: A002
    k: int,
    dim: int = -1,
    keepdim: builtins.bool = False,
) -> ValuesIndices:
    """``(values, indices)`` of the k-th smallest element (k from 1) along ``dim``, NaN
    counting as the largest; (*, n, *) → (*, *) (kept as 1 with ``keepdim``). The gradient
    goes to the element at the index. Among equal values PyTorch may point at any of them
    (its docs say so); tinylm points at one of them too (the k-th of a stable sort)."""
    _tensor("kthvalue", input)
    k = int_arg("kthvalue", "k", k)
    x, d = _lanes("kthvalue", input, dim)
    if not 1 <= k <= x.shape[d]:
        raise TinyLMError(
            f"kthvalue: k = {k} is out of range [1, {x.shape[d]}] for dim {d} of the tensor of "
            f"shape {tuple(input.shape)}"
        )
    return _picked(x, d, order_stats.kth_indices(x.data, k, d), keepdim, input.ndim == 0)


def mode(input: Tensor, dim: int = -1, keepdim: builtins.bool = False) -> ValuesIndices:  # noqa: A002
    """``(values, indices)`` of the most frequent value along ``dim`` (the smallest of
    several equally frequent) and its last place, as PyTorch's; the gradient goes to that
    element. (*, n, *) → (*, *)."""
    _tensor("mode", input)
    x, d = _lanes("mode", input, dim)
    _not_empty("mode", x, d)
    return _picked(x, d, order_stats.mode_indices(x.data, d), keepdim, input.ndim == 0)


def nanmedian(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Any:  # noqa: A002
    """The lower median of the elements that are not NaN (NaN where all are): of all
    elements (a 0-d tensor, the gradient shared by the elements equal to it:
    ``ops.order_stats.NanMedian``), or ``(values, indices)`` along ``dim``, the gradient
    going to the element at the index. Integers have no NaN: ``median``'s results."""
    _tensor("nanmedian", input)
    if input.dtype == np.bool_:
        raise TinyLMError("nanmedian: not defined for bool tensors, as in PyTorch")
    if dim is None:
        return order_stats.NanMedian.apply(input)
    x, d = _lanes("nanmedian", input, dim)
    _not_empty("nanmedian", x, d)
    return _picked(x, d, order_stats.nanmedian_indices(x.data, d), keepdim, input.ndim == 0)


def _probabilities(op: str, q: Any, x: Tensor) -> tuple[Any, builtins.bool]:
    """``q`` (a number, or a 0-d or 1-D tensor of x's dtype) as a 1-D array in x's dtype,
    every element in [0, 1], and whether q was a scalar."""
    if isinstance(q, TensorBase):
        if q.ndim > 1:
            raise TinyLMError(f"{op}: q must be a scalar or a 1-D tensor, got shape {q.shape}")
        if q.dtype != x.dtype:
            raise TinyLMError(
                f"{op}: q must have the input's dtype {x.dtype}, got {q.dtype}, as in PyTorch"
            )
        qs, scalar = np.asarray(q.detach().numpy()).reshape(-1), q.ndim == 0
    elif isinstance(q, numbers.Real) and not isinstance(q, builtins.bool):
        qs, scalar = np.asarray([q], dtype=x.dtype), True
    else:
        raise TypeError(f"{op}: q must be a number or a tensor, got {type(q).__name__}")
    if not ((qs >= 0) & (qs <= 1)).all():
        raise TinyLMError(f"{op}: q must be in the range [0, 1], got {q!r:.60}")
    return qs, scalar


def _quantile(
    op: str,
    input: Tensor,  # noqa: A002
    q: Any,
    dim: Any,
    keepdim: builtins.bool,
    interpolation: str,
    ignore_nan: builtins.bool,
) -> Tensor:
    _tensor(op, input)
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: needs a floating-point input, got {input.dtype}, as in PyTorch")
    qs, scalar = _probabilities(op, q, input)
    if interpolation not in INTERPOLATIONS:
        raise TinyLMError(
            f"{op}: interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}"
        )
    if input.numel() == 0:
        raise TinyLMError(f"{op}: the input must be non-empty, got shape {tuple(input.shape)}")
    if dim is None:
        x, d = input.reshape(-1), 0
        kept = (1,) * input.ndim
    else:
        x, d = _lanes(op, input, dim)
        kept = tuple(1 if i == d else n for i, n in enumerate(x.shape))[: input.ndim]
    lanes = x.movedim(d, -1)  # (*, n)
    order = array_module(lanes.data).argsort(lanes.data, axis=-1, kind="stable")  # NaNs last
    ordered = lanes.gather(-1, lanes._wrap(order))  # the gradient flows back through the sort
    below, above, weights = order_stats.quantile_positions(
        ordered.data, qs.astype(input.dtype), interpolation, ignore_nan
    )
    out = ordered.gather(-1, lanes._wrap(below))  # (*, Q)
    if above is not None:  # sorted[below] + w · (sorted[above] − sorted[below])
        out = out + (ordered.gather(-1, lanes._wrap(above)) - out) * lanes._wrap(weights)
    out = out.movedim(-1, 0)  # q's dim first, as PyTorch: (Q, *)
    shape = kept if keepdim else tuple(n for i, n in enumerate(x.shape) if i != d)
    if dim is not None and input.ndim == 0:
        shape = ()
    out = out.reshape(((len(qs),) if not scalar else ()) + shape)
    return out


def quantile(
    input: Tensor,  # noqa: A002
    q: Any,
    dim: int | None = None,
    keepdim: builtins.bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """The q-th quantiles along ``dim`` (of all elements when None) of a float tensor, as
    PyTorch's: the rank q · (n − 1) in each sorted lane, between whose neighbours
    ``interpolation`` chooses ("linear", "lower", "higher", "midpoint", "nearest": see
    ``ops.order_stats.quantile_positions``). q a number in [0, 1], or a 1-D tensor of the
    input's dtype whose dim comes first: (Q, *reduced shape). A lane with a NaN gives NaN.
    The gradient goes back through the sort to the one or two elements used."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(
    input: Tensor,  # noqa: A002
    q: Any,
    dim: int | None = None,
    keepdim: builtins.bool = False,
    *,
    interpolation: str = "linear",
) -> Tensor:
    """:func:`quantile` of the elements that are not NaN (NaN where all are)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: builtins.bool = False) -> MinMax:  # noqa: A002
    """``(min, max)`` over one ``dim`` or all elements: ``amin`` and ``amax`` (ties share the
    gradient evenly, as PyTorch's)."""
    _tensor("aminmax", input)
    if dim is None:
        if input.numel() == 0:
            raise TinyLMError(
                "aminmax: cannot compute aminmax over an empty tensor: the operation has no "
                "identity"
            )
        return MinMax(input.amin(None, keepdim), input.amax(None, keepdim))
    x, d = _lanes("aminmax", input, dim)
    _not_empty("aminmax", x, d)
    keep = keepdim and input.ndim > 0
    return MinMax(x.amin(d, keep), x.amax(d, keep))


def _cumulative(op: str, input: Tensor, dim: int, largest: builtins.bool) -> ValuesIndices:  # noqa: A002
    _tensor(op, input)
    x, d = _lanes(op, input, dim)
    index = order_stats.cumulative_extreme_indices(x.data, d, largest)
    return _picked(x, d, index, True, input.ndim == 0)


def cummax(input: Tensor, dim: int) -> ValuesIndices:  # noqa: A002
    """``(values, indices)``: the largest of x_0 … x_i along ``dim`` and where it is (the
    latest of equal values; a NaN, once met, stays the maximum), x's shape. The gradient
    of each output goes to the element at its index."""
    return _cumulative("cummax", input, dim, True)


def cummin(input: Tensor, dim: int) -> ValuesIndices:  # noqa: A002
    """The mirror image of :func:`cummax`: running minima and where they are."""
    return _cumulative("cummin", input, dim, False)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """y_i = log Σ_{j ≤ i} e^(x_j) along ``dim`` without overflow, x's shape; floats only
    (``ops.order_stats.LogCumSumExp``)."""
    _tensor("logcumsumexp", input)
    x, d = _lanes("logcumsumexp", input, dim)
    out = order_stats.LogCumSumExp.apply(x, axis=d)
    return out.reshape(()) if input.ndim == 0 else out


def msort(input: Tensor) -> Tensor:  # noqa: A002
    """The values sorted along dim 0 (``sort(dim=0).values``; NaN last)."""
    _tensor("msort", input)
    if input.ndim == 0:
        return ops.Clone.apply(input)
    return input.sort(0).values


# ---------------------------------------------------------------------------------------
# Counting: no gradient
# ---------------------------------------------------------------------------------------


def unique_consecutive(
    input: Tensor,  # noqa: A002
    return_inverse: builtins.bool = False,
    return_counts: builtins.bool = False,
    dim: int | None = None,
) -> Any:
    """The first element of each run of equal consecutive elements (of the flattened
    tensor, or the slices along ``dim``); with ``return_inverse`` also which run each
    element (or slice) belongs to, with ``return_counts`` each run's length (int64). NaN
    equals nothing, as in PyTorch. No gradient."""
    _tensor("unique_consecutive", input)
    axis = None if dim is None else _lanes("unique_consecutive", input, dim)[1]
    if axis is not None and input.ndim == 0:
        raise TinyLMError("unique_consecutive: dim needs a tensor with at least 1 dim")
    values, inverse, counts = order_stats.unique_consecutive_arrays(input.data, axis)
    out = [input._wrap(values)]
    if return_inverse:
        out.append(input._wrap(inverse))
    if return_counts:
        out.append(input._wrap(counts))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:  # noqa: A002
    """How often each of 0, 1, …, max(input) occurs in ``input`` (1-D, non-negative
    integers): int64 of length max(max + 1, minlength); with ``weights`` (1-D, input's
    length) the sum of the weights at each value instead: float32 weights give float32,
    any other dtype float64, as PyTorch. Weights that need a gradient are refused (PyTorch
    has none: its backward fails)."""
    _tensor("bincount", input)
    minlength = int_arg("bincount", "minlength", minlength)
    if minlength < 0:
        raise TinyLMError(f"bincount: minlength must be >= 0, got {minlength}")
    if input.dtype.kind not in "iu" or input.ndim != 1:
        raise TinyLMError(
            "bincount: only supports 1-d non-negative integral inputs, got "
            f"{tuple(input.shape)} {input.dtype}"
        )
    data = np.asarray(input.detach().numpy())
    if data.size and int(data.min()) < 0:
        raise TinyLMError(
            f"bincount: only supports 1-d non-negative integral inputs, got {int(data.min())}"
        )
    length = builtins.max(int(data.max()) + 1 if data.size else 0, minlength)
    if weights is None:
        counts = np.bincount(data.astype(np.int64), minlength=length).astype(np.int64)
        return input._wrap(to_device_array(counts, input.device))
    _tensor("bincount", weights, "weights")
    if weights.ndim != 1 or weights.shape != input.shape:
        raise TinyLMError(
            f"bincount: weights should be 1-d and have the same length as input, got shapes "
            f"{tuple(weights.shape)} and {tuple(input.shape)}"
        )
    if weights.requires_grad and is_grad_enabled():
        raise TinyLMError(
            "bincount: weights require grad, but bincount has no gradient (PyTorch's backward "
            "fails on it); pass weights.detach()"
        )
    dtype = np.float32 if weights.dtype == np.float32 else np.float64
    w = np.asarray(weights.detach().numpy()).astype(np.float64)
    sums = np.bincount(data.astype(np.int64), weights=w, minlength=length).astype(dtype)
    return input._wrap(to_device_array(sums, input.device))


def _float_values(op: str, input: Tensor) -> np.ndarray:  # noqa: A002
    _tensor(op, input)
    if input.dtype.kind != "f":
        raise TinyLMError(f"{op}: needs a floating-point tensor, got {input.dtype}, as in PyTorch")
    return np.asarray(input.detach().numpy()).reshape(-1)


def _outer_edges(op: str, v: np.ndarray, low: float, high: float, widen: float):
    """The range of the bins: [low, high], or the data's [min, max] when they are equal,
    widened by ``widen`` on each side when that range is one point."""
    if low == high and v.size:
        low, high = float(v.min()), float(v.max())
    if low > high:
        raise TinyLMError(f"{op}: max must be larger than min, got min={low} and max={high}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise TinyLMError(f"{op}: the range [{low}, {high}] is not finite")
    if low == high:
        low, high = low - widen, high + widen
    return low, high


def histc(
    input: Tensor,  # noqa: A002
    bins: int = 100,
    min: float = 0,  # noqa: A002
    max: float = 0,  # noqa: A002
) -> Tensor:
    """Counts of the elements in ``bins`` equal-width bins over [min, max] (the data's
    minimum and maximum when min == max; a one-point range widened by 1 each side), the
    last bin closed, elements outside left out: (bins,) in the input's dtype. Floats only;
    no gradient, as PyTorch's."""
    v = _float_values("histc", input)
    bins = int_arg("histc", "bins", bins)
    if bins <= 0:
        raise TinyLMError(f"histc: bins must be > 0, got {bins}")
    low, high = _outer_edges("histc", v, float(min), float(max), 1.0)
    edges = order_stats.linspace_edges(low, high, bins + 1, input.dtype)
    counts = order_stats.bin_counts(v, edges, None, linear=True)
    return input._wrap(to_device_array(counts, input.device))


def histogram(
    input: Tensor,  # noqa: A002
    bins: Any = 100,
    *,
    range: tuple[float, float] | None = None,  # noqa: A002
    weight: Tensor | None = None,
    density: builtins.bool = False,
) -> Histogram:
    """``(hist, bin_edges)``: ``bins`` equal-width bins over ``range`` (the data's minimum
    and maximum by default; a one-point range widened by ½ each side), or the edges given
    as a 1-D increasing tensor; each element counted (or its ``weight`` added) in the bin
    [e_j, e_{j+1}) it falls in, the last bin closed. ``density`` divides by the total and
    the bin widths. Floats only, in the input's dtype; no gradient."""
    v = _float_values("histogram", input)
    dtype = input.dtype
    if isinstance(bins, TensorBase):
        if bins.ndim != 1 or bins.numel() < 2 or bins.dtype != dtype:
            raise TinyLMError(
                f"histogram: bins must be a 1-D tensor of at least 2 edges in the input's dtype "
                f"{dtype}, got {tuple(bins.shape)} {bins.dtype}"
            )
        if range is not None:
            raise TypeError("histogram: range goes with a number of bins, not with given edges")
        edges = np.asarray(bins.detach().numpy())
        if (np.diff(edges) < 0).any():
            raise TinyLMError("histogram: bin edges must be increasing")
    else:
        n = int_arg("histogram", "bins", bins)
        if n <= 0:
            raise TinyLMError(f"histogram: bins must be > 0, got {n}")
        low, high = (0.0, 0.0) if range is None else (float(range[0]), float(range[1]))
        low, high = _outer_edges("histogram", v, low, high, 0.5)
        if range is None and not v.size:
            low, high = 0.0, 1.0
        edges = order_stats.linspace_edges(low, high, n + 1, dtype)
    w = None
    if weight is not None:
        _tensor("histogram", weight, "weight")
        if weight.shape != input.shape or weight.dtype != dtype:
            raise TinyLMError(
                f"histogram: weight must have the input's shape and dtype {tuple(input.shape)} "
                f"{dtype}, got {tuple(weight.shape)} {weight.dtype}"
            )
        w = np.asarray(weight.detach().numpy()).reshape(-1)
    hist = order_stats.bin_counts(v, edges, w, linear=False)
    if density:
        with np.errstate(divide="ignore", invalid="ignore"):
            hist = (hist / (hist.sum() * np.diff(edges))).astype(dtype)
    wrap = input._wrap
    return Histogram(
        wrap(to_device_array(hist, input.device)), wrap(to_device_array(edges, input.device))
    )
