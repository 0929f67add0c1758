"""More of PyTorch's small math functions: ``rsub``, ``row_stack``, ``cov``, ``corrcoef``,
``frexp`` and ``ldexp``.

``tinylm.f(x, ...)`` and, where PyTorch has one, the method ``x.f(...)`` (one line in
``tinylm/tensor_math.py``) land here. All but ``frexp`` are compositions of differentiable
Tensor ops, written in the order PyTorch computes them, so their values, dtypes and
gradients are those ops'; ``frexp``'s mantissa is one rule, :class:`FrexpMantissa`.
Shapes in the docstrings: ``(n, m)``; ``g`` is dL/d(output).
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tinylm import tensor_shaping
from tinylm.arg_checks import described, int_arg
from tinylm.autograd import Context, Function, TensorBase, TinyLMError
from tinylm.bool_arithmetic import refuse_bool_sub
from tinylm.devices import array_module
from tinylm.dtypes import get_default_dtype, int32, int64, is_floating_point, result_type

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

#: The functions ``tinylm`` exports under PyTorch's top-level names.
TOP_LEVEL = ["corrcoef", "cov", "frexp", "ldexp", "row_stack", "rsub"]
__all__ = [*TOP_LEVEL, "FrexpMantissa", "MantissaExponent"]


def _tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, TensorBase):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x


def rsub(input: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """other − alpha · input (the reversed ``sub``), as ``torch.rsub``: ``other`` a tensor
    or a number, in PyTorch's result dtype. dL/dinput = −alpha · g, dL/dother = g.
    An integer input refuses a float alpha, and bools are refused, as PyTorch."""
    x = _tensor("rsub", "input", input)
    refuse_bool_sub("rsub", x, other if isinstance(other, TensorBase) else np.asarray(other))
    if x.dtype.kind in "biu" and isinstance(alpha, float | np.floating):
        raise TinyLMError(
            f"rsub: for integral input tensors, argument alpha must not be a floating point "
            f"number, got alpha={alpha!r}"
        )
    if not isinstance(other, TensorBase) and not isinstance(
        other, builtins.bool | int | float | np.number
    ):
        raise TypeError(f"rsub: other must be a Tensor or a number, got {type(other).__name__}")
    return other - (x if alpha == 1 else x * alpha)


def row_stack(tensors: Sequence[Tensor]) -> Tensor:
    """PyTorch's other name of :func:`tinylm.vstack`: (n,) tensors become rows (1, n), then
    all are joined along dim 0 in the promoted dtype."""
    return tensor_shaping.vstack(tensors)


# ---------------------------------------------------------------------------------------
# cov, corrcoef
# ---------------------------------------------------------------------------------------


def _weights(x: Tensor, fweights: Any, aweights: Any, n: int) -> Tensor | None:
    """w = fweights · aweights (either alone, or None), checked as PyTorch checks them."""
    w = None
    for name, given in (("fweights", fweights), ("aweights", aweights)):
        if given is None:
            continue
        t = _tensor("cov", name, given)
        if t.ndim > 1:
            raise TinyLMError(
                f"cov: expected {name} to have one or fewer dimensions but got {name} with "
                f"{t.ndim} dimensions"
            )
        integral = t.dtype.kind in "iu"
        if (name == "fweights") != integral or t.dtype.kind == "b":
            kind = "integral" if name == "fweights" else "floating point"
            raise TinyLMError(
                f"cov: expected {name} to have {kind} dtype but got {name} with {t.dtype} dtype"
            )
        if t.numel() != n:
            raise TinyLMError(
                f"cov: expected {name} to have the same numel as there are observations in the "
                f"input but got {t.numel()} != {n}"
            )
        if n and builtins.bool((t.detach().min() < 0).item()):
            raise TinyLMError(f"cov: {name} cannot be negative")
        w = t if w is None else w * t
    return w


def cov(
    input: Tensor,  # noqa: A002 - PyTorch's name
    *,
    correction: int = 1,
    fweights: Tensor | None = None,
    aweights: Tensor | None = None,
) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (v, n) — n
    observations each; a 1-D input is one variable — as ``torch.cov``: (v, v), or 0-d for one
    variable. With w = fweights · aweights (integer frequencies, float weights; (n,) each):
    avg = Σ_j w_j x_j / Σ w; C = (x − avg) (w · (x − avg))ᵀ / (Σ w − correction · Σ w·a / Σ w)
    (a = aweights; Σ w − correction without them; n − correction without weights). Where that
    denominator is ≤ 0 PyTorch's warning is given and it is 0 (inf or NaN entries). Made of
    differentiable ops (sum, subtraction, mm, division), so the gradients of input and
    aweights are theirs."""
    x = _tensor("cov", "input", input)
    if x.ndim > 2:
        raise TinyLMError(
            f"cov: expected input to have two or fewer dimensions but got an input with "
            f"{x.ndim} dimensions"
        )
    if x.dtype.kind == "b":
        raise TinyLMError("cov: bool dtype is not supported for input")
    if isinstance(correction, float | np.floating):
        raise TypeError(f"cov: argument 'correction' must be int, not float ({correction!r})")
    correction = int_arg("cov", "correction", correction)
    rows = x.reshape(1, -1) if x.ndim < 2 else x
    n = rows.shape[1]
    w = _weights(x, fweights, aweights, n)
    if w is None:
        w_sum = x.new_full((), n, dtype=int64)
        avg = rows.sum(1) / w_sum
    else:
        w_sum = w.sum()
        if not builtins.bool((w_sum.detach() != 0).item()):
            raise TinyLMError("cov: weights sum to zero, can't be normalized")
        avg = (rows * w).sum(1) / w_sum
    if w is not None and aweights is not None and correction != 0:
        norm = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm = w_sum - correction
    if builtins.bool((norm.detach() <= 0).item()):
        warnings.warn(
            "cov(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "number of observations.",
            UserWarning,
            stacklevel=2,
        )
        norm = norm * 0
    centred = rows - avg.unsqueeze(1)
    c = centred.mm((centred if w is None else centred * w).t())
    return (c / norm).squeeze()


def corrcoef(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """Pearson's correlation coefficients of the variables in the rows of ``input`` (v, n),
    as ``torch.corrcoef``: R_ij = C_ij / √(C_ii C_jj) of C = :func:`cov` (input), clipped to
    [−1, 1]; one variable gives C / C (1, or NaN where C is 0, inf or NaN). Differentiable,
    as its ops."""
    x = _tensor("corrcoef", "input", input)
    if x.ndim > 2:
        raise TinyLMError(
            f"corrcoef: expected input to have two or fewer dimensions but got an input with "
            f"{x.ndim} dimensions"
        )
    c = cov(x)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.reshape(-1, 1)
    c = c / std.reshape(1, -1)
    return c.clamp(-1, 1)


# ---------------------------------------------------------------------------------------
# frexp, ldexp
# ---------------------------------------------------------------------------------------


class MantissaExponent(NamedTuple):
    """What ``frexp`` returns, as PyTorch's ``torch.return_types.frexp``: unpack it
    (``m, e = x.frexp()``) or read ``.mantissa`` and ``.exponent``."""

    mantissa: Tensor
    exponent: Tensor


class FrexpMantissa(Function):
    """m = x / 2^e with the integer e that puts |m| in [0.5, 1) (m = x and e = 0 at 0, ±inf
    and NaN): the mantissa of ``frexp`` (numpy reference: ``np.frexp``).

    dm/dx = 2^(−e) (e is piecewise constant): dL/dx = g · 2^(−e), computed exactly as
    ldexp(g, −e). (PyTorch divides by 2^e computed in float32, which makes the gradient of a
    float64 x whose exponent lies beyond float32's range 0 or inf; tinylm's stays exact.)
    """

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        mantissa, exponent = array_module(x).frexp(x)
        ctx.exponent = exponent
        return mantissa

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).ldexp(g, -ctx.exponent).astype(g.dtype, copy=False)


def frexp(input: Tensor) -> MantissaExponent:  # noqa: A002 - PyTorch's name
    """``(mantissa, exponent)`` with input = mantissa · 2^exponent, |mantissa| in [0.5, 1)
    (0, ±inf and NaN keep their value, exponent 0), as ``torch.frexp``: the mantissa in
    input's (floating) dtype, the exponent int32. The mantissa's gradient is
    :class:`FrexpMantissa`'s; the exponent has none."""
    x = _tensor("frexp", "input", input)
    if not is_floating_point(x.dtype):
        raise TinyLMError(f"frexp: only supports floating-point dtypes, got {described(x)}")
    _, exponent = array_module(x.data).frexp(x.data)
    e = x.new_tensor(exponent.astype(np.int32), dtype=int32)
    return MantissaExponent(FrexpMantissa.apply(x), e)


def ldexp(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """input · 2^other, as ``torch.ldexp`` (``other`` a tensor, broadcast): computed in the
    dtype the two promote to (integers and bools: the default float dtype), as the product
    input · pow(2, other), so dL/dinput = g · 2^other and dL/dother = g · input · 2^other ·
    ln 2 (a float other). (PyTorch's gradient of input takes 2^other in other's dtype, so for
    a negative integer exponent it is 0; tinylm's is 2^other.)"""
    x = _tensor("ldexp", "input", input)
    if not isinstance(other, TensorBase):
        raise TypeError(f"ldexp: argument 'other' must be a Tensor, not {type(other).__name__}")
    dtype = result_type(x, other)
    if not is_floating_point(dtype):
        dtype = get_default_dtype()
    return x.to(dtype) * (2.0 ** other.to(dtype))
