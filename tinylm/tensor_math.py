"""The Tensor's math: operators, comparisons, element-wise functions, reductions and shape
ops. Each method is a line or two that calls one ``Function`` of :mod:`tinylm.ops`, where the
forward and backward rules are; :class:`TensorMath` is a base class of
:class:`tinylm.Tensor`, which adds storage, devices, dtypes and autograd.

Also the helpers that let these methods, and the creation functions, take Python numbers,
lists and arrays wherever they take tensors.
"""

from __future__ import annotations

import builtins
import math
import operator
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylm import (
    linalg,
    math_more,
    ops,
    tensor_inplace,  # x.ceil_() … : x.ceil() written into x
    tensor_linalg,
    tensor_scatter,
    tensor_selecting,
    tensor_shaping,
    tensor_special,
    tensor_stats,
)
from tinylm import linalg_decompositions as decompositions
from tinylm import tensor_elementwise as tensor_elementwise  # PyTorch's other element-wise math
from tinylm.autograd import Function, TensorBase, TinyLMError
from tinylm.bool_arithmetic import refuse_bool_neg, refuse_bool_sub
from tinylm.devices import to_device_array
from tinylm.dtypes import (
    bool_,
    check_float_fits,
    float16,
    float32,
    get_default_dtype,
    is_floating_point,
    result_type,
)
from tinylm.ops import order, pointwise
from tinylm.ops.shape import Diagonal
from tinylm.tensor_indexing import ValuesIndices

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module
    from tinylm.tensor import Tensor

__all__ = [
    "TensorMath",
    "as_operand",
    "axis_args",
    "check_fits",
    "condition_array",
    "index_stages",
    "raw",
    "raw_index",
    "shape_from_args",
]


class TensorMath:
    """Operators and methods that compute new tensors (a base class of ``tinylm.Tensor``)."""

    # ---- arithmetic ---------------------------------------------------------------------

    def _operand(self, other: Any) -> Tensor:
        return as_operand(other, like=self)

    def _binary(self, function: type[Function], a: Any, b: Any, **params: Any) -> Tensor:
        """Apply a two-input op in PyTorch's result dtype (:func:`tinylm.dtypes.result_type`:
        ``int_tensor * 1.5`` is float32, ``bool_tensor + 1`` int64, ``float32 + 0-d float64``
        float32)."""
        if isinstance(a, TensorBase) and isinstance(b, TensorBase) and a.dtype == b.dtype:
            dtype = a.dtype  # the common case, ~2 µs faster than the general rule
        else:
            if function is ops.MatMul and isinstance(a, TensorBase) and isinstance(b, TensorBase):
                raise TinyLMError(  # PyTorch promotes nothing in a matrix product
                    f"matmul: both operands need the same dtype, got {tuple(a.shape)} {a.dtype} "
                    f"and {tuple(b.shape)} {b.dtype}; convert one first, e.g. b.to(a.dtype)"
                )
            dtype = result_type(a, b)
        if function is ops.Div and not is_floating_point(dtype):
            dtype = get_default_dtype()  # true division: int / int is a float, as in PyTorch
        elif function is ops.Pow and dtype == bool_:  # NumPy would give int8
            raise TinyLMError("pow: bool ** bool is not supported; convert with .long() first")
        if hasattr(a, "shape") and hasattr(b, "shape") and function is not ops.MatMul:
            ops.check_broadcast(function.op_name(), a, b)  # before the casts: names their dtypes
        return function.apply(as_operand(a, self, dtype), as_operand(b, self, dtype), **params)

    def __add__(self, other: Any) -> Tensor:
        return self._binary(ops.Add, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return self._binary(ops.Add, other, self)

    def __sub__(self, other: Any) -> Tensor:
        refuse_bool_sub("sub", self, other)
        return self._binary(ops.Sub, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        refuse_bool_sub("sub", other, self)
        return self._binary(ops.Sub, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return self._binary(ops.Mul, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return self._binary(ops.Mul, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return self._binary(ops.Div, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._binary(ops.Div, other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return self._binary(ops.FloorDivide, self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return self._binary(ops.FloorDivide, other, self)

    def __mod__(self, other: Any) -> Tensor:
        return self._binary(ops.Remainder, self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return self._binary(ops.Remainder, other, self)

    def floor_divide(self, other: Any) -> Tensor:
        return self // other

    def remainder(self, other: Any) -> Tensor:
        return self % other

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, int | float) and not isinstance(exponent, builtins.bool):
            # int_tensor ** 0.5 is a float (the default dtype), int_tensor ** 2 stays int
            x = self.to(result_type(self, exponent))
            return ops.PowScalar.apply(x, exponent=exponent)
        return self._binary(ops.Pow, self, exponent)

    def __rpow__(self, base: Any) -> Tensor:
        return self._binary(ops.Pow, base, self)

    def __neg__(self) -> Tensor:
        refuse_bool_neg("neg", self)
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __matmul__(self, other: Any) -> Tensor:
        return self._binary(ops.MatMul, self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return self._binary(ops.MatMul, other, self)

    def __abs__(self) -> Tensor:
        return ops.Abs.apply(self)

    def add(self, other: Any, alpha: float = 1) -> Tensor:
        """self + alpha · other, in the dtype of self + other (alpha never promotes it)."""
        return self + self._times_alpha("add", other, alpha)

    def sub(self, other: Any, alpha: float = 1) -> Tensor:
        """self − alpha · other (bools refused, as PyTorch: ``refuse_bool_sub``)."""
        refuse_bool_sub("sub", self, other)
        return self - self._times_alpha("sub", other, alpha)

    def _times_alpha(self, op: str, other: Any, alpha: Any) -> Any:
        """alpha · other for ``add``/``sub``, computed in the dtype of self ∘ other, with
        PyTorch's checks: a bool alpha only for a bool result, a float alpha not for an
        integer or bool one. (A bool result takes alpha as a bool: True + 2 · True is True.)"""
        if type(alpha) is int and alpha == 1:
            return other
        dtype = result_type(self, other)
        if isinstance(alpha, builtins.bool | np.bool_) and dtype != bool_:
            raise TinyLMError(f"{op}: Boolean alpha only supported for Boolean results.")
        if dtype.kind in "biu" and isinstance(alpha, float | np.floating):
            raise TinyLMError(
                f"{op}: For integral input tensors, argument alpha must not be a floating "
                f"point number (got alpha={alpha!r} for a {dtype} result)."
            )
        other = self._operand(other)
        if dtype == bool_:
            return other.to(bool_) * builtins.bool(alpha)
        return other.to(dtype) * alpha

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        """self / other; ``rounding_mode`` "trunc" rounds the quotient toward zero, "floor"
        down (zero gradients there, as in PyTorch)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise TinyLMError(
                f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}"
            )
        return self._binary(ops.RoundedDivide, self, other, mode=rounding_mode)

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def _same_dtype(self, op: str, other: Any) -> Tensor:
        other = self._operand(other)
        if other.dtype != self.dtype:
            raise TinyLMError(
                f"{op}: expected both tensors to have the same dtype, got {self.dtype} and "
                f"{other.dtype} (as in PyTorch; convert one with .to())"
            )
        return other

    def dot(self, other: Any) -> Tensor:
        """Σ_i self_i · other_i of two 1-D tensors of the same size and dtype (``self @ other``)."""
        other = self._same_dtype("dot", other)
        if self.ndim != 1 or other.shape != self.shape:
            raise TinyLMError(
                f"dot: needs two 1-D tensors of the same size, got shapes {self.shape} and "
                f"{other.shape}"
            )
        return self @ other

    def outer(self, vec2: Any) -> Tensor:
        """The (n, m) matrix self_i · vec2_j of two 1-D tensors (n,) and (m,), in their
        promoted dtype."""
        vec2 = self._operand(vec2)
        if self.ndim != 1 or vec2.ndim != 1:
            raise TinyLMError(
                f"outer: needs two 1-D tensors, got shapes {self.shape} and {vec2.shape}"
            )
        return self.unsqueeze(1) * vec2.unsqueeze(0)

    def bmm(self, mat2: Any) -> Tensor:
        """Batched matrix product (B, n, m) @ (B, m, p) -> (B, n, p): no broadcasting and the
        same dtype, as PyTorch's ``bmm`` (``matmul`` broadcasts)."""
        mat2 = self._same_dtype("bmm", mat2)
        if (
            self.ndim != 3
            or mat2.ndim != 3
            or self.shape[0] != mat2.shape[0]
            or self.shape[2] != mat2.shape[1]
        ):
            raise TinyLMError(
                f"bmm: needs (B, n, m) and (B, m, p) tensors, got shapes {self.shape} and "
                f"{mat2.shape}"
            )
        return self @ mat2

    # ---- comparisons (results are bool tensors; no gradient flows through them) ----------

    def _compare(self, other: Any, fn: Any) -> Tensor:
        b = raw(other)
        if hasattr(b, "shape"):
            ops.check_broadcast("compare", self.data, b)
        return self._wrap(fn(self.data, b))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        if other is None:  # `x == None` is a plain False in PyTorch, not a tensor
            return False  # type: ignore[return-value]
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        if other is None:
            return True  # type: ignore[return-value]
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, lambda a, b: a >= b)

    def __invert__(self) -> Tensor:
        if self.dtype != bool_:
            raise TinyLMError(f"~: needs a bool tensor, got {self.dtype}")
        return self._wrap(~self.data)

    def __and__(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_and(self, other)

    def __or__(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_or(self, other)

    def __xor__(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_xor(self, other)

    def __rand__(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_and(other, self)

    def __ror__(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_or(other, self)

    def __rxor__(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_xor(other, self)

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    # ---- elementwise functions ----------------------------------------------------------

    def _as_float(self) -> Tensor:
        """This tensor, or for bool and integer tensors its values in the default float
        dtype: float functions of integers compute in float32, as PyTorch's do."""
        return self if is_floating_point(self.dtype) else self.to(get_default_dtype())

    def exp(self) -> Tensor:
        return ops.Exp.apply(self._as_float())

    def log(self) -> Tensor:
        return ops.Log.apply(self._as_float())

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self._as_float())

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self._as_float())

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self._as_float())

    def sin(self) -> Tensor:
        return ops.Sin.apply(self._as_float())

    def cos(self) -> Tensor:
        return ops.Cos.apply(self._as_float())

    def rsqrt(self) -> Tensor:
        """1/√x."""
        return ops.Rsqrt.apply(self._as_float())

    def square(self) -> Tensor:
        """x · x (integers stay integers, bools become int64, as in PyTorch)."""
        x = self.long() if self.dtype == bool_ else self
        return x * x

    def log1p(self) -> Tensor:
        """ln(1 + x), accurate for tiny x."""
        return ops.Log1p.apply(self._as_float())

    def expm1(self) -> Tensor:
        """eˣ − 1, accurate for tiny x."""
        return ops.Expm1.apply(self._as_float())

    def erf(self) -> Tensor:
        """The error function (2/√π) ∫₀ˣ e^(−t²) dt."""
        return ops.Erf.apply(self._as_float())

    def _step(self, kind: str, decimals: int = 0) -> Tensor:
        """sign, floor, ceil or round: a float tensor through ``ops.Step`` (zero gradient);
        integers (and bools) are their own floor, ceil, round and sign-of-a-bool."""
        if is_floating_point(self.dtype):
            return ops.Step.apply(self, kind=kind, decimals=decimals)
        if decimals != 0:
            raise TinyLMError(f"round: decimals={decimals} needs a float tensor, got {self.dtype}")
        if self.dtype != bool_ and kind == "sign":
            return self._wrap(self._xp.sign(self.data))
        return self.clone()

    def sign(self) -> Tensor:
        """−1, 0 or 1 by the sign of each element (gradient 0, as in PyTorch)."""
        return self._step("sign")

    def floor(self) -> Tensor:
        """The largest integer ≤ x, in x's dtype (gradient 0, as in PyTorch)."""
        return self._step("floor")

    def ceil(self) -> Tensor:
        """The smallest integer ≥ x, in x's dtype (gradient 0, as in PyTorch)."""
        return self._step("ceil")

    def round(self, *, decimals: int = 0) -> Tensor:
        """The nearest integer (halves to the even one, as PyTorch), or the nearest multiple
        of 10^-decimals; gradient 0, as in PyTorch."""
        return self._step("round", decimals)

    def isnan(self) -> Tensor:
        """True where the element is NaN: a bool tensor, no gradient."""
        return self._wrap(self._xp.isnan(self.data))

    def isinf(self) -> Tensor:
        """True where the element is +inf or −inf: a bool tensor, no gradient."""
        return self._wrap(self._xp.isinf(self.data))

    def isfinite(self) -> Tensor:
        """True where the element is neither NaN nor ±inf: a bool tensor, no gradient."""
        return self._wrap(self._xp.isfinite(self.data))

    def nan_to_num(
        self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
    ) -> Tensor:
        """NaN, +inf and −inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and
        the dtype's largest and smallest finite values); the gradient flows where x is finite."""
        if not is_floating_point(self.dtype):
            return self.clone()  # integers hold no NaN or inf
        return ops.NanToNum.apply(self, nan=nan, posinf=posinf, neginf=neginf)

    # ---- PyTorch's other element-wise functions and aliases: tinylm/tensor_elementwise.py --

    def tan(self) -> Tensor:
        return tensor_elementwise.tan(self)

    def asin(self) -> Tensor:
        return tensor_elementwise.asin(self)

    def acos(self) -> Tensor:
        return tensor_elementwise.acos(self)

    def atan(self) -> Tensor:
        return tensor_elementwise.atan(self)

    def sinh(self) -> Tensor:
        return tensor_elementwise.sinh(self)

    def cosh(self) -> Tensor:
        return tensor_elementwise.cosh(self)

    def asinh(self) -> Tensor:
        return tensor_elementwise.asinh(self)

    def acosh(self) -> Tensor:
        return tensor_elementwise.acosh(self)

    def atanh(self) -> Tensor:
        return tensor_elementwise.atanh(self)

    arcsin, arccos, arctan = asin, acos, atan
    arcsinh, arccosh, arctanh = asinh, acosh, atanh

    def deg2rad(self) -> Tensor:
        return tensor_elementwise.deg2rad(self)

    def rad2deg(self) -> Tensor:
        return tensor_elementwise.rad2deg(self)

    def log2(self) -> Tensor:
        return tensor_elementwise.log2(self)

    def log10(self) -> Tensor:
        return tensor_elementwise.log10(self)

    def exp2(self) -> Tensor:
        return tensor_elementwise.exp2(self)

    def erfc(self) -> Tensor:
        return tensor_elementwise.erfc(self)

    def erfinv(self) -> Tensor:
        return tensor_elementwise.erfinv(self)

    def xlogy(self, other: Any) -> Tensor:
        return tensor_elementwise.xlogy(self, other)

    def float_power(self, exponent: Any) -> Tensor:
        return tensor_elementwise.float_power(self, exponent)

    def sgn(self) -> Tensor:
        return tensor_elementwise.sgn(self)

    def signbit(self) -> Tensor:
        return tensor_elementwise.signbit(self)

    def copysign(self, other: Any) -> Tensor:
        return tensor_elementwise.copysign(self, other)

    def heaviside(self, values: Tensor) -> Tensor:
        return tensor_elementwise.heaviside(self, values)

    def subtract(self, other: Any, *, alpha: Any = 1) -> Tensor:
        return tensor_elementwise.subtract(self, other, alpha=alpha)

    def multiply(self, other: Any) -> Tensor:
        return tensor_elementwise.multiply(self, other)

    def divide(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        return tensor_elementwise.divide(self, other, rounding_mode=rounding_mode)

    def true_divide(self, other: Any) -> Tensor:
        return tensor_elementwise.true_divide(self, other)

    def negative(self) -> Tensor:
        return tensor_elementwise.negative(self)

    def positive(self) -> Tensor:
        return tensor_elementwise.positive(self)

    def absolute(self) -> Tensor:
        return tensor_elementwise.absolute(self)

    def fix(self) -> Tensor:
        return tensor_elementwise.fix(self)

    # ---- special functions, shifts, small conveniences: tinylm/tensor_special.py ----------
    def lgamma(self) -> Tensor:
        return tensor_special.lgamma(self)

    def digamma(self) -> Tensor:
        return tensor_special.digamma(self)

    def polygamma(self, n: int) -> Tensor:
        return tensor_special.polygamma(n, self)

    def mvlgamma(self, p: int) -> Tensor:
        return tensor_special.mvlgamma(self, p)

    def i0(self) -> Tensor:
        return tensor_special.i0(self)

    def logit(self, eps: float | None = None) -> Tensor:
        return tensor_special.logit(self, eps)

    def sinc(self) -> Tensor:
        return tensor_special.sinc(self)

    def nextafter(self, other: Any) -> Tensor:
        return tensor_special.nextafter(self, other)

    def bitwise_left_shift(self, other: Any) -> Tensor:
        return tensor_special.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other: Any) -> Tensor:
        return tensor_special.bitwise_right_shift(self, other)

    __lshift__, __rshift__ = bitwise_left_shift, bitwise_right_shift

    def __rlshift__(self, other: Any) -> Tensor:
        return tensor_special.bitwise_left_shift(other, self)

    def __rrshift__(self, other: Any) -> Tensor:
        return tensor_special.bitwise_right_shift(other, self)

    def is_signed(self) -> bool:
        return tensor_special.is_signed(self)

    def adjoint(self) -> Tensor:
        return tensor_special.adjoint(self)

    @property
    def mH(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The conjugate transpose of each matrix: ``mT`` for real tensors."""
        return tensor_special.adjoint(self)

    @property
    def H(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The conjugate transpose of a matrix (2-D only, as PyTorch's; 0-d as it is)."""
        if self.ndim == 0:
            return self  # type: ignore[return-value]
        if self.ndim != 2:
            raise TinyLMError(f"H: needs a matrix (2 dims) or a 0-d tensor, got {self.ndim} dims; "
                              "use mH for batches")  # fmt: skip
        return tensor_special.adjoint(self)

    def sum_to_size(self, *size: Any) -> Tensor:
        return tensor_special.sum_to_size(self, *size)

    def greater(self, other: Any) -> Tensor:
        return tensor_elementwise.greater(self, other)

    def greater_equal(self, other: Any) -> Tensor:
        return tensor_elementwise.greater_equal(self, other)

    def less(self, other: Any) -> Tensor:
        return tensor_elementwise.less(self, other)

    def less_equal(self, other: Any) -> Tensor:
        return tensor_elementwise.less_equal(self, other)

    def not_equal(self, other: Any) -> Tensor:
        return tensor_elementwise.not_equal(self, other)

    def addcmul(self, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
        return tensor_elementwise.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
        return tensor_elementwise.addcdiv(self, tensor1, tensor2, value=value)

    def fmax(self, other: Tensor) -> Tensor:
        return tensor_elementwise.fmax(self, other)

    def fmin(self, other: Tensor) -> Tensor:
        return tensor_elementwise.fmin(self, other)

    def bitwise_and(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_and(self, other)

    def bitwise_or(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_or(self, other)

    def bitwise_xor(self, other: Any) -> Tensor:
        return tensor_elementwise.bitwise_xor(self, other)

    def gcd(self, other: Tensor) -> Tensor:
        return tensor_elementwise.gcd(self, other)

    def lcm(self, other: Tensor) -> Tensor:
        return tensor_elementwise.lcm(self, other)

    def isposinf(self) -> Tensor:
        return tensor_elementwise.isposinf(self)

    def isneginf(self) -> Tensor:
        return tensor_elementwise.isneginf(self)

    def isreal(self) -> Tensor:
        return tensor_elementwise.isreal(self)

    def is_nonzero(self) -> builtins.bool:
        return tensor_elementwise.is_nonzero(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def abs(self) -> Tensor:
        if self.dtype == bool_:  # PyTorch has no bool kernel for it either
            raise TinyLMError(
                "abs: not defined for bool tensors, as in PyTorch (a bool is its own |x|)"
            )
        return ops.Abs.apply(self)

    def neg(self) -> Tensor:
        refuse_bool_neg("neg", self)
        return ops.Neg.apply(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """Limit the values to [min, max]; either bound may be absent, a number or a tensor
        (broadcast against this one; it gets a gradient too). As in PyTorch the result has
        the promoted dtype (``int_tensor.clamp(0.5)`` is float32), and min > max gives max."""
        if min is None and max is None:
            raise TinyLMError(
                f"clamp: at least one of min and max must be given (tensor of shape {self.shape} "
                f"{self.dtype})"
            )
        dtype = result_type(self, *[b for b in (min, max) if b is not None])
        check_fits("clamp", dtype, min, max)
        check_float_fits("clamp", dtype, min, max)
        # an absent bound is the dtype's extreme value: it clamps nothing
        lo = as_operand(_extreme(dtype, "min") if min is None else min, self, dtype)
        hi = as_operand(_extreme(dtype, "max") if max is None else max, self, dtype)
        return ops.Clamp.apply(self.to(dtype), lo, hi)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return self._binary(ops.Maximum, self, other)

    def minimum(self, other: Any) -> Tensor:
        return self._binary(ops.Minimum, self, other)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """Replace the elements where ``mask`` (bool, broadcastable) is True by ``value`` (a
        number, or a 0-d tensor, which then gets the gradient of every element it filled)."""
        if isinstance(value, TensorBase):  # value where mask, else self: differentiable in both
            if value.ndim != 0:
                raise TinyLMError(
                    f"masked_fill: value must be a number or a 0-d tensor, as in PyTorch; got "
                    f"shape {tuple(value.shape)} (use where(mask, value, x) to fill from a tensor)"
                )
            m = raw(mask)
            if getattr(m, "dtype", None) != bool_:
                raise TinyLMError(
                    f"masked_fill: mask must be a bool tensor, got {getattr(m, 'dtype', m)!r:.60}"
                )
            return ops.Where.apply(value.to(self.dtype), self, cond=m)
        return ops.MaskedFill.apply(self, mask=raw(mask), value=value)

    def softmax(self, dim: int = -1, dtype: Any = None) -> Tensor:
        """softmax along ``dim``; ``dtype`` converts the input first (as PyTorch)."""
        x = self if dtype is None else self.to(dtype)
        return ops.Softmax.apply(x, axis=dim)

    def log_softmax(self, dim: int = -1, dtype: Any = None) -> Tensor:
        x = self if dtype is None else self.to(dtype)
        return ops.LogSoftmax.apply(x, axis=dim)

    def tril(self, diagonal: int = 0) -> Tensor:
        return ops.Tril.apply(self, diagonal=diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return ops.Triu.apply(self, diagonal=diagonal)

    # ---- reductions ---------------------------------------------------------------------
    # numpy names (axis, keepdims) and PyTorch names (dim, keepdim) are both accepted.

    def sum(
        self, axis: Any = None, keepdims: bool = False, *, dim=None, keepdim=None, dtype=None
    ) -> Tensor:
        """Σ over ``dim`` (one, several, or all); ``dtype`` converts the input first."""
        axis, keepdims = axis_args("sum", axis, keepdims, dim, keepdim)
        x = self if dtype is None else self.to(dtype)
        return ops.Sum.apply(x, axis=axis, keepdims=keepdims)

    def mean(
        self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim=None, dtype=None
    ) -> Tensor:
        """The average over ``dim`` (one, several, or all) of a floating-point tensor;
        ``dtype`` converts the input first (integers need it, as in PyTorch)."""
        axis, keepdims = axis_args("mean", axis, keepdims, dim, keepdim)
        x = self if dtype is None else self.to(dtype)
        return ops.Mean.apply(x, axis=axis, keepdims=keepdims)

    def max(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims=None):
        """As in PyTorch: ``x.max()`` the largest value; ``x.max(dim)`` (or ``axis=``, its
        alias) the pair ``(values, indices)`` along one dim (the gradient goes to the element
        at the index); ``x.max(other)`` the element-wise maximum. The values alone, over one
        dim or several: :meth:`amax` (ties share the gradient evenly)."""
        if isinstance(dim, TensorBase):
            return self.maximum(dim)
        return self._extreme(ops.Max, dim, keepdim, axis, keepdims)

    def min(self, dim: Any = None, keepdim: bool = False, *, axis: Any = None, keepdims=None):
        """The smallest values: the mirror image of :meth:`max`."""
        if isinstance(dim, TensorBase):
            return self.minimum(dim)
        return self._extreme(ops.Min, dim, keepdim, axis, keepdims)

    def _extreme(self, op: type[Function], dim: Any, keepdim: bool, axis: Any, keepdims: Any):
        name = op.reduce
        dim, keepdim = axis_args(name, axis, keepdim if keepdims is None else keepdims, dim, None)
        if isinstance(dim, tuple | list):
            raise TinyLMError(
                f"{name}: one dim at a time, as in PyTorch (it returns values and indices); "
                f"for the values over several dims use a{name}(dim={tuple(dim)})"
            )
        if isinstance(dim, int | np.integer) and not isinstance(dim, builtins.bool):
            d = self._axis(dim, name)
            self._check_not_empty(name, d)
            indices = self._wrap(getattr(self.data, "arg" + name)(axis=d, keepdims=True))
            values = self.gather(d, indices)
            if not keepdim:
                values, indices = values.squeeze(d), indices.squeeze(d)
            return ValuesIndices(values, indices)
        return op.apply(self, axis=dim, keepdims=keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """The largest values over one dim, several, or all (``None`` or ``()``)."""
        return ops.Max.apply(self, axis=None if dim == () else dim, keepdims=keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """The smallest values over one dim, several, or all (``None`` or ``()``)."""
        return ops.Min.apply(self, axis=None if dim == () else dim, keepdims=keepdim)

    def var(
        self,
        dim: Any = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: int | None = None,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Variance Σ(x − mean)² / (n − correction) over ``dim`` (one, several, or all).

        PyTorch's arguments in its order: ``var(dim, unbiased, keepdim)``, ``var(unbiased)``
        for the whole tensor, or ``correction=`` (1 unless ``unbiased=False``: the unbiased
        estimate); numpy's ``axis``/``keepdims`` are aliases. With no degrees of freedom left
        (one element, unbiased) the result is nan or inf with a warning, as in PyTorch."""
        return self._variance("var", dim, unbiased, keepdim, correction, axis, keepdims)

    def std(
        self,
        dim: Any = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: int | None = None,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """√var, with :meth:`var`'s arguments."""
        return self._variance("std", dim, unbiased, keepdim, correction, axis, keepdims).sqrt()

    def _variance(
        self,
        op: str,
        dim: Any,
        unbiased: bool | None,
        keepdim: bool,
        correction: int | None,
        axis: Any,
        keepdims: bool | None,
    ) -> Tensor:
        if isinstance(dim, builtins.bool):  # PyTorch's var(unbiased) form
            dim, unbiased = None, dim
        axis, keepdims = axis_args(op, axis, keepdim if keepdims is None else keepdims, dim, None)
        if unbiased is not None and correction is not None:
            raise TinyLMError(f"{op}: give unbiased or correction, not both")
        if correction is None:
            correction = 0 if unbiased is False else 1
        if self.dtype.kind not in "fc":  # as PyTorch: no float dtype guessed for integers
            raise TinyLMError(
                f"{op}: needs a floating-point tensor, got {self.dtype}; convert first "
                "(x.float()), as in PyTorch"
            )
        axes = self._axes(axis, op)
        n = math.prod(self.shape[a] for a in axes)
        centred = self - self.mean(axis=axes, keepdims=True)
        squares = (centred * centred).sum(axis=axes, keepdims=keepdims)
        if n - correction > 0:
            return squares / (n - correction)
        # PyTorch divides by max(0, n - correction): nan (0/0) or inf, and warns
        warnings.warn(
            f"{op}(): degrees of freedom is <= 0 ({n} element(s) with correction="
            f"{correction}); the result is nan or inf",
            UserWarning,
            stacklevel=3,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            return squares * math.inf

    def logsumexp(self, axis: Any = -1, keepdims: bool = False, *, dim=None, keepdim=None):
        """log Σ exp(x) along ``axis``, computed as m + log Σ exp(x - m) (no overflow)."""
        if dim is not None and axis == -1:  # -1 is only the default: dim= replaces it
            axis = None
        axis, keepdims = axis_args("logsumexp", axis, keepdims, dim, keepdim)
        axes = self._axes(axis, "logsumexp")
        m = self._wrap(self.data.max(axis=axes, keepdims=True))  # a constant shift
        out = (self - m).exp().sum(axis=axes, keepdims=True).log() + m
        return out if keepdims else out.squeeze(axes)

    def prod(self, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        """Π of all elements, or along one ``dim`` (as PyTorch, one dim at a time); integers
        and bools multiply as int64; ``dtype`` converts the input first. The gradient of
        x_i is the product of the other elements, exact where some are 0 (``ops.Prod``)."""
        if dim is not None and not isinstance(dim, int | np.integer):
            raise TinyLMError(
                f"prod: dim must be one int (PyTorch takes one dim at a time), got {dim!r}"
            )
        if dim is None and keepdim:
            raise TypeError("prod: keepdim needs a dim, as in PyTorch: prod(dim, keepdim=True)")
        x = self if dtype is None else self.to(dtype)
        if dim is not None:
            self._axes(dim, "prod")  # an out-of-range dim named with this tensor's shape
        return ops.Prod.apply(x, axis=dim, keepdims=keepdim)

    def count_nonzero(self, dim: Any = None) -> Tensor:
        """How many elements (over ``dim``: one, several, or all) are non-zero: int64."""
        axes = self._axes(dim, "count_nonzero")
        return self._wrap(
            ops.c_order(self._xp.count_nonzero(self.data, axis=axes).astype(np.int64))
        )

    def allclose(
        self, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> builtins.bool:
        """Whether |self − other| ≤ atol + rtol·|other| everywhere (shapes broadcast): a
        Python bool. Both must have the same dtype, as in PyTorch."""
        other = self._operand(other)
        if other.dtype != self.dtype:
            raise TinyLMError(
                f"allclose: dtypes differ ({self.dtype} and {other.dtype}); convert one with .to()"
            )
        ops.check_broadcast("allclose", self.data, other.data)
        xp = self._xp
        return builtins.bool(
            xp.allclose(self.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan)
        )

    def equal(self, other: Any) -> builtins.bool:
        """Whether ``other`` has this shape and the same values (NaN equals nothing): a bool."""
        other = self._operand(other)
        if other.shape != self.shape:
            return False
        return builtins.bool((self.data == other.data).all())

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim=None, keepdim=None):
        axis, keepdims = axis_args("argmax", axis, keepdims, dim, keepdim)
        axis = None if axis is None else self._axis(axis, "argmax")
        self._check_not_empty("argmax", axis)
        return self._wrap(self.data.argmax(axis=axis, keepdims=keepdims))

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim=None, keepdim=None):
        axis, keepdims = axis_args("argmin", axis, keepdims, dim, keepdim)
        axis = None if axis is None else self._axis(axis, "argmin")
        self._check_not_empty("argmin", axis)
        return self._wrap(self.data.argmin(axis=axis, keepdims=keepdims))

    def cumsum(self, dim: int) -> Tensor:
        """y_i = x_0 + … + x_i along ``dim`` (integers and bools sum as int64)."""
        return ops.CumSum.apply(self, axis=dim)

    def nonzero(self, *, as_tuple: bool = False) -> Any:
        """Indices of the non-zero elements: an int64 (n, ndim) tensor, one row per element,
        or with ``as_tuple`` one (n,) tensor per dim (what ``x[...]`` takes)."""
        data = self.data
        index = data.reshape(1) if data.ndim == 0 else data  # a 0-d tensor as one element
        found = [i.astype(np.int64) for i in index.nonzero()]
        if as_tuple:
            return tuple(self._wrap(i) for i in found)
        if data.ndim == 0:
            return self._wrap(np.zeros((len(found[0]), 0), dtype=np.int64))
        return self._wrap(self._xp.stack(found, axis=1))

    def unique(
        self,
        sorted: bool = True,  # noqa: A002 - PyTorch's name
        return_inverse: bool = False,
        return_counts: bool = False,
        dim: int | None = None,
    ) -> Any:
        """The distinct values, in ascending order (of the flattened tensor, or the distinct
        slices along ``dim``), as PyTorch's ``unique``; with ``return_inverse`` also where each
        element's value sits among them (x's shape), with ``return_counts`` how often each
        occurs. No gradient (the result is a selection, as in PyTorch)."""
        axis = None if dim is None else self._axis(dim, "unique")
        values, inverse, counts = np.unique(
            self._xp.asnumpy(self.data) if self._xp is not np else self.data,
            return_inverse=True, return_counts=True, axis=axis,
        )  # fmt: skip
        out = [self._wrap(to_device_array(values, self.device))]
        if return_inverse:
            shape = self.shape if axis is None else (self.shape[axis],)
            out.append(self._wrap(to_device_array(inverse.reshape(shape).astype(np.int64),
                                                  self.device)))  # fmt: skip
        if return_counts:
            out.append(self._wrap(to_device_array(counts.astype(np.int64), self.device)))
        return out[0] if len(out) == 1 else tuple(out)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        """The entries x[i, i + offset] of the (dim1, dim2) planes, along a new last axis, as
        PyTorch's: a view (writes through it reach x; ``ops.shape.Diagonal``)."""
        a, b = self._axis(dim1, "diagonal"), self._axis(dim2, "diagonal")
        if a == b:
            raise TinyLMError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
        if isinstance(offset, builtins.bool) or not isinstance(offset, int | np.integer):
            raise TypeError(f"diagonal: offset must be an int, got {offset!r}")
        return Diagonal.apply(self, offset=int(offset), axis1=a, axis2=b)

    def trace(self) -> Tensor:
        """The sum of the main diagonal of a 2-D tensor."""
        if self.ndim != 2:
            raise TinyLMError(f"trace: expected a 2-D tensor, got shape {self.shape}")
        return self.diagonal().sum()

    def diag(self, diagonal: int = 0) -> Tensor:
        """Of a 1-D tensor v: the square matrix with v on diagonal ``diagonal`` (zeros
        elsewhere); of a 2-D tensor: that diagonal, as a 1-D tensor (PyTorch's ``diag``)."""
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise TinyLMError(f"diag: expected a 1-D or 2-D tensor, got shape {self.shape}")
        # v placed by index, not by a product with 0/1 matrices: an inf in v must not turn
        # the zeros around it into NaN (inf · 0)
        return self.diag_embed(diagonal)

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """True where every element (over ``dim``, or all) is non-zero: a bool tensor."""
        axis = None if dim is None else self._axes(dim, "all")
        return self._wrap(ops.c_order(self.data.all(axis=axis, keepdims=keepdim)))

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """True where some element (over ``dim``, or all) is non-zero: a bool tensor."""
        axis = None if dim is None else self._axes(dim, "any")
        return self._wrap(ops.c_order(self.data.any(axis=axis, keepdims=keepdim)))

    # ---- more of PyTorch's math: tinylm/ops/pointwise.py, ops/order.py, linalg.py --------

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None):
        """``torch.norm``: the vector p-norm over ``dim`` (all elements by default) for a
        number p, and for "fro" over at most two dims (the 2-norm of those entries); other
        strings are matrix norms (:func:`tinylm.linalg.matrix_norm`)."""
        if isinstance(p, str):
            if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
                return linalg.vector_norm(self, 2, dim, keepdim, dtype=dtype)
            dims = tuple(range(self.ndim)) if dim is None else dim
            return linalg.matrix_norm(self, p, dims, keepdim, dtype=dtype)
        return linalg.vector_norm(self, 2 if p is None else p, dim, keepdim, dtype=dtype)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        """self + weight·(end − self), broadcast: ``end`` a tensor of this float dtype,
        ``weight`` a number or a tensor of this dtype (a 0-d one of any): ``pointwise.Lerp``."""
        if not is_floating_point(self.dtype):
            raise TinyLMError(f"lerp: needs a floating-point tensor, got {self.dtype}")
        if not isinstance(end, TensorBase):
            raise TypeError(f"lerp: end must be a Tensor, got {type(end).__name__}")
        for name, t in (("end", end), ("weight", weight)):
            if isinstance(t, TensorBase) and t.dtype != self.dtype and (t.ndim or t is end):
                raise TinyLMError(
                    f"lerp: {name} has dtype {t.dtype} but the tensor {self.dtype}; they must "
                    "match, as in PyTorch (convert with .to())"
                )
        # a number weight is rounded once, to the compute dtype (float32 for float16), as PyTorch
        w_dtype = float32 if self.dtype == float16 and not isinstance(weight, TensorBase) else None
        return pointwise.Lerp.apply(self, end, as_operand(weight, self, w_dtype or self.dtype))

    def reciprocal(self) -> Tensor:
        """1/x (of integers and bools in the default float dtype): ``pointwise.Reciprocal``."""
        return pointwise.Reciprocal.apply(self._as_float())

    def trunc(self) -> Tensor:
        """x rounded toward zero, in x's dtype (integers unchanged; gradient 0, as PyTorch)."""
        if self.dtype == bool_:
            raise TinyLMError("trunc: not defined for bool tensors, as in PyTorch")
        return self._step("trunc")

    def frac(self) -> Tensor:
        """x − trunc(x): the fractional part, with x's sign (gradient 1)."""
        if not is_floating_point(self.dtype):
            raise TinyLMError(f"frac: needs a floating-point tensor, got {self.dtype}")
        return self - self.trunc()

    def fmod(self, other: Any) -> Tensor:
        """self − other·trunc(self / other): the remainder with the sign of self (C's fmod;
        ``remainder`` takes other's sign), in the promoted dtype: ``pointwise.Fmod``."""
        dtype = result_type(self, other)
        if dtype == bool_:
            raise TinyLMError("fmod: not defined for bool tensors, as in PyTorch")
        if not is_floating_point(dtype) and not bool((self._xp.asarray(raw(other)) != 0).all()):
            raise TinyLMError("fmod: integer division by zero (ZeroDivisionError in PyTorch)")
        return self._binary(pointwise.Fmod, self, other)

    def _float_pair(self, function: type[Function], other: Any, integers: bool) -> Tensor:
        """``function`` of self and the tensor ``other`` in their promoted float dtype;
        integers and bools compute in the default float dtype, or are refused."""
        op = function.op_name()
        if not isinstance(other, TensorBase):
            raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
        dtype = result_type(self, other)
        if not is_floating_point(dtype):
            if not integers:
                raise TinyLMError(
                    f"{op}: needs floating-point tensors, got {self.dtype} and {other.dtype}, "
                    "as in PyTorch"
                )
            dtype = get_default_dtype()
        ops.check_broadcast(op, self, other)
        return function.apply(self.to(dtype), other.to(dtype))

    def logaddexp(self, other: Tensor) -> Tensor:
        """ln(e^self + e^other), without overflow: ``pointwise.LogAddExp``."""
        return self._float_pair(pointwise.LogAddExp, other, integers=False)

    def atan2(self, other: Tensor) -> Tensor:
        """The angle of the point (other, self) in (−π, π]: ``pointwise.Atan2``."""
        return self._float_pair(pointwise.Atan2, other, integers=True)

    arctan2 = atan2

    def hypot(self, other: Tensor) -> Tensor:
        """√(self² + other²): ``pointwise.Hypot``."""
        return self._float_pair(pointwise.Hypot, other, integers=False)

    def _logical(self, op: str, other: Any, fn: Any) -> Tensor:
        if not isinstance(other, TensorBase):
            raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
        ops.check_broadcast(op, self.data, other.data)
        return self._wrap(fn(self.data != 0, other.data != 0))

    def logical_and(self, other: Tensor) -> Tensor:
        """True where both are non-zero: a bool tensor (any dtypes, broadcast)."""
        return self._logical("logical_and", other, lambda a, b: a & b)

    def logical_or(self, other: Tensor) -> Tensor:
        """True where either is non-zero: a bool tensor."""
        return self._logical("logical_or", other, lambda a, b: a | b)

    def logical_xor(self, other: Tensor) -> Tensor:
        """True where exactly one is non-zero: a bool tensor."""
        return self._logical("logical_xor", other, lambda a, b: a ^ b)

    def logical_not(self) -> Tensor:
        """True where the element is zero: a bool tensor."""
        return self._wrap(self.data == 0)

    def bitwise_not(self) -> Tensor:
        """~x of a bool or integer tensor: not, or every bit flipped (−x − 1 for signed)."""
        if self.dtype.kind not in "biu":
            raise TinyLMError(f"bitwise_not: needs a bool or integer tensor, got {self.dtype}")
        return self._wrap(~self.data)

    def where(self, condition: Any, y: Any) -> Tensor:
        """self where ``condition`` (bool) is True, else ``y``, in their promoted dtype:
        ``torch.where(condition, self, y)``, differentiable in both."""
        cond = condition_array("where", condition)
        dtype = result_type(self, y)
        check_fits("where", dtype, y)
        if hasattr(y, "shape"):
            ops.check_broadcast("where", self, y)
        return ops.Where.apply(self.to(dtype), as_operand(y, self, dtype), cond=cond)

    def nansum(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        """Σ over ``dim`` with NaNs counted as 0 (their gradient is 0); integers sum as int64."""
        x = self if dtype is None else self.to(dtype)
        if is_floating_point(x.dtype):
            x = pointwise.NanToZero.apply(x)
        return x.sum(dim=dim, keepdim=keepdim)

    def nanmean(self, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
        """The mean over ``dim`` of the elements that are not NaN (NaN where there are none);
        each such element gets the gradient g / (their count)."""
        if not is_floating_point(self.dtype):
            raise TinyLMError(
                f"nanmean: needs a floating-point tensor, got {self.dtype}; convert first "
                "(x.float()), as in PyTorch"
            )
        x = self if dtype is None else self.to(dtype)
        count = x.isnan().logical_not().sum(dim=dim, keepdim=keepdim).to(x.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 where all are NaN
            return x.nansum(dim, keepdim) / count

    def median(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``x.median()``: the lower median of all elements (the smaller middle value for an
        even count, as PyTorch; the gradient shared by the elements equal to it);
        ``x.median(dim)``: the pair ``(values, indices)`` along one dim, the gradient going
        to the element at the index (``ops.order``). NaN wherever a NaN is present."""
        if self.dtype == bool_:
            raise TinyLMError("median: not defined for bool tensors, as in PyTorch")
        if dim is None:
            return order.Median.apply(self)
        x = self.reshape(1) if self.ndim == 0 else self
        d = x._axis(dim, "median")
        if x.shape[d] == 0:
            raise TinyLMError(f"median: dim {dim} of the tensor of shape {self.shape} is empty")
        indices = self._wrap(order.median_indices(x.data, d))
        values = x.gather(d, indices)
        if not keepdim or self.ndim == 0:
            values, indices = values.squeeze(d), indices.squeeze(d)
        return ValuesIndices(values, indices)

    def isclose(
        self, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
    ) -> Tensor:
        """True where |self − other| ≤ atol + rtol·|other| (or both are the same infinity,
        or both NaN with ``equal_nan``): a bool tensor; both of one dtype, as in PyTorch."""
        if not isinstance(other, TensorBase):
            raise TypeError(f"isclose: other must be a Tensor, got {type(other).__name__}")
        if other.dtype != self.dtype:
            raise TinyLMError(
                f"isclose: dtypes differ ({self.dtype} and {other.dtype}); convert one with .to()"
            )
        if rtol < 0 or atol < 0:
            raise TinyLMError(f"isclose: rtol and atol must be >= 0, got {rtol} and {atol}")
        ops.check_broadcast("isclose", self.data, other.data)
        if self.dtype == bool_:
            return self._wrap(self.data == other.data)
        close = self._xp.isclose(self.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan)
        return self._wrap(close)

    # ---- shape ops ----------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        return ops.Reshape.apply(self, shape=shape_from_args(shape, "reshape"))

    def view(self, *shape: Any) -> Tensor:
        """:meth:`reshape` that shares this tensor's memory, as PyTorch's ``view``: where the
        layout does not allow it (a transpose, a strided slice) an error, not a silent copy
        that writes through the result would never reach."""
        out = self.reshape(*shape)
        if out.numel() and not self._xp.may_share_memory(out.data, self.data):
            raise TinyLMError(
                f"view: a tensor of shape {self.shape} laid out this way (a transpose or a "
                f"slice) cannot be viewed as {tuple(out.shape)}; use reshape (it copies)"
            )
        return out

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Axes ``start_dim`` … ``end_dim`` merged into one (all of them by default)."""
        if self.ndim == 0:
            if start_dim not in (0, -1) or end_dim not in (0, -1):
                raise TinyLMError(
                    f"flatten: dims ({start_dim}, {end_dim}) out of range for a 0-d tensor"
                )
            return self.reshape(1)
        # checked, not wrapped with %: x.flatten(5) of a 3-d tensor is an error, as in PyTorch
        s, e = self._axis(start_dim, "flatten"), self._axis(end_dim, "flatten")
        if s > e:
            raise TinyLMError(
                f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a tensor of "
                f"shape {self.shape}"
            )
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1 :])

    def permute(self, *dims: Any) -> Tensor:
        """The axes reordered: dim i of the result is dim ``dims[i]`` of x (a view)."""
        if not dims:
            raise TypeError("permute: give the new order of the dims, e.g. permute(1, 0)")
        return ops.Permute.apply(self, dims=shape_from_args(dims, "permute", "dims"))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Dims ``dim0`` and ``dim1`` swapped (a view). Both are checked as PyTorch checks
        them, for any number of dims (a 0-d or 1-d tensor takes only 0 and −1)."""
        a, b = (self._checked_dim(d, "transpose") for d in (dim0, dim1))
        order = list(range(self.ndim))
        if self.ndim:
            order[a], order[b] = order[b], order[a]
        return ops.Permute.apply(self, dims=tuple(order))

    def _checked_dim(self, dim: Any, op: str) -> int:
        """``dim`` made non-negative; an int (not a bool) in [−n, n) with n = max(ndim, 1)."""
        if isinstance(dim, builtins.bool) or not isinstance(dim, int | np.integer):
            raise TypeError(f"{op}: dims must be ints, got {dim!r}")
        n = builtins.max(self.ndim, 1)
        if not -n <= dim < n:
            raise TinyLMError(
                f"{op}: dim {dim} is out of range [{-n}, {n - 1}] for a tensor of shape "
                f"{self.shape} {self.dtype}"
            )
        return int(dim) % n

    def t(self) -> Tensor:
        """The transpose of a matrix; a 0-d or 1-d tensor as it is (a view, as in PyTorch);
        more than 2 dims are refused."""
        if self.ndim > 2:
            raise TinyLMError(f"t: expects a tensor of at most 2 dims, got shape {self.shape}")
        return self.transpose(0, -1)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D tensors). As PyTorch, other
        numbers of dims warn: it is deprecated there for them."""
        if self.ndim != 2:
            _deprecated_transpose("T", self.ndim)
        return ops.Permute.apply(self, dims=tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """The last two dims swapped: each matrix of a batch transposed (at least 2 dims; a
        0-d tensor as it is, with PyTorch's deprecation warning)."""
        if self.ndim == 0:
            _deprecated_transpose("mT", 0)
            return ops.Permute.apply(self, dims=())
        if self.ndim < 2:
            raise TinyLMError(
                f"mT: needs a matrix or a batch of matrices, got shape {self.shape} {self.dtype}"
            )
        return self.transpose(-2, -1)

    def view_as(self, other: Tensor) -> Tensor:
        """:meth:`view` with ``other``'s shape (shares this tensor's memory)."""
        return self.view(other.shape)

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor in ``other``'s dtype (differentiable; itself if it already is)."""
        return self.to(other.dtype)

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile the tensor ``sizes[i]`` times along dim i; more sizes than dims add leading
        dims: ``tensor([1, 2]).repeat(2, 2)`` is [[1, 2, 1, 2], [1, 2, 1, 2]]. Each dim of
        size s becomes a pair of dims (r, s) by ``expand`` (no copy), then the pairs are
        merged by ``reshape``; the gradient sums the copies. Always fresh, writable memory, as
        PyTorch's (the reshape of an expand can be a read-only view of this tensor)."""
        if not sizes:
            raise TypeError("repeat: give the number of copies along each dim, e.g. repeat(2, 1)")
        reps = shape_from_args(sizes)
        if len(reps) < self.ndim:
            raise TinyLMError(
                f"repeat: {len(reps)} repeat counts for a tensor of {self.ndim} dims (shape "
                f"{self.shape}); give at least one per dim"
            )
        if any(r < 0 for r in reps):
            raise TinyLMError(f"repeat: counts must be non-negative, got {reps}")
        shape = (1,) * (len(reps) - self.ndim) + tuple(self.shape)
        pairs = tuple(v for s in shape for v in (1, s))
        tiled = tuple(v for r, s in zip(reps, shape) for v in (r, s))
        merged = tuple(r * s for r, s in zip(reps, shape))
        out = self.reshape(pairs).expand(*tiled).reshape(merged)
        if out.numel() == 0 or self._xp.may_share_memory(out.data, self.data):
            out = ops.Clone.apply(out)
        return out

    def expand(self, *sizes: Any) -> Tensor:
        """Broadcast to ``sizes`` without copying; -1 keeps a dimension's size."""
        sizes = shape_from_args(sizes, "expand")
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise TinyLMError(
                f"expand: cannot expand a tensor of shape {self.shape} {self.dtype} to fewer "
                f"dims {sizes}"
            )
        shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        return ops.Expand.apply(self, shape=shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(*other.shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.Expand.apply(self, shape=tuple(shape))

    # ---- PyTorch's shape, product and scan methods: tinylm/tensor_shaping.py ---------------

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        return tensor_shaping.unbind(self, dim)

    def narrow(self, dim: int, start: Any, length: int) -> Tensor:
        return tensor_shaping.narrow(self, dim, start, length)

    def movedim(self, source: Any, destination: Any) -> Tensor:
        return tensor_shaping.movedim(self, source, destination)

    moveaxis = movedim

    def swapaxes(self, axis0: int, axis1: int) -> Tensor:
        return tensor_shaping.swapaxes(self, axis0, axis1)

    def swapdims(self, dim0: int, dim1: int) -> Tensor:
        return tensor_shaping.swapaxes(self, dim0, dim1)

    def tile(self, *dims: Any) -> Tensor:
        """``x.tile(2, 1)`` or ``x.tile((2, 1))``: see :func:`tinylm.tile`."""
        if not dims:
            raise TypeError("tile: give the number of copies along each dim, e.g. tile(2, 1)")
        one = len(dims) == 1 and isinstance(dims[0], list | tuple)
        return tensor_shaping.tile(self, dims[0] if one else dims)

    def mm(self, mat2: Tensor) -> Tensor:
        return tensor_shaping.mm(self, mat2)

    def addmm(self, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return tensor_shaping.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return tensor_shaping.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addbmm(self, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return tensor_shaping.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def inner(self, other: Tensor) -> Tensor:
        return tensor_shaping.inner(self, other)

    def kron(self, other: Tensor) -> Tensor:
        return tensor_shaping.kron(self, other)

    def cumprod(self, dim: int, *, dtype: Any = None) -> Tensor:
        return tensor_shaping.cumprod(self, dim, dtype=dtype)

    def diff(
        self,
        n: int = 1,
        dim: int = -1,
        prepend: Tensor | None = None,
        append: Tensor | None = None,
    ) -> Tensor:
        return tensor_shaping.diff(self, n, dim, prepend, append)

    # ---- PyTorch's order statistics, scans, counts, distances: tensor_stats.py, tensor_linalg.py

    def quantile(self, q: Any, dim: Any = None, keepdim: bool = False, *, interpolation="linear"):
        return tensor_stats.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(
        self, q: Any, dim: Any = None, keepdim: bool = False, *, interpolation="linear"
    ):
        return tensor_stats.nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def kthvalue(self, k: int, dim: int = -1, keepdim: bool = False) -> Any:
        return tensor_stats.kthvalue(self, k, dim, keepdim)

    def mode(self, dim: int = -1, keepdim: bool = False) -> Any:
        return tensor_stats.mode(self, dim, keepdim)

    def nanmedian(self, dim: Any = None, keepdim: bool = False) -> Any:
        return tensor_stats.nanmedian(self, dim, keepdim)

    def aminmax(self, *, dim: Any = None, keepdim: bool = False) -> Any:
        return tensor_stats.aminmax(self, dim=dim, keepdim=keepdim)

    def cummax(self, dim: int) -> Any:
        return tensor_stats.cummax(self, dim)

    def cummin(self, dim: int) -> Any:
        return tensor_stats.cummin(self, dim)

    def logcumsumexp(self, dim: int) -> Tensor:
        return tensor_stats.logcumsumexp(self, dim)

    def msort(self) -> Tensor:
        return tensor_stats.msort(self)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None) -> Any:
        return tensor_stats.unique_consecutive(self, return_inverse, return_counts, dim)

    def bincount(self, weights: Any = None, minlength: int = 0) -> Tensor:
        return tensor_stats.bincount(self, weights, minlength)

    def histc(self, bins: int = 100, min: Any = 0, max: Any = 0) -> Tensor:  # noqa: A002
        return tensor_stats.histc(self, bins, min, max)

    def histogram(self, bins: Any = 100, *, range=None, weight=None, density=False) -> Any:  # noqa: A002
        return tensor_stats.histogram(self, bins, range=range, weight=weight, density=density)

    def dist(self, other: Tensor, p: Any = 2) -> Tensor:
        return tensor_linalg.dist(self, other, p)

    def vdot(self, other: Tensor) -> Tensor:
        return tensor_linalg.vdot(self, other)

    def mv(self, vec: Tensor) -> Tensor:
        return tensor_linalg.mv(self, vec)

    def addmv(self, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return tensor_linalg.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return tensor_linalg.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def renorm(self, p: Any, dim: int, maxnorm: Any) -> Tensor:
        return tensor_linalg.renorm(self, p, dim, maxnorm)

    def cross(self, other: Tensor, dim: int | None = None) -> Tensor:
        return tensor_linalg.cross(self, other, dim)

    # ---- PyTorch's solvers and decompositions: tinylm/linalg_decompositions.py

    def inverse(self) -> Tensor:
        return decompositions.inverse(self)

    def det(self) -> Tensor:
        return decompositions.det(self)

    def logdet(self) -> Tensor:
        return decompositions.logdet(self)

    def slogdet(self) -> Any:
        return decompositions.slogdet(self)

    def cholesky(self, upper: bool = False) -> Tensor:
        return decompositions.cholesky(self, upper)

    def pinverse(self, rcond: float = 1e-15) -> Tensor:
        return decompositions.pinverse(self, rcond)

    def matrix_power(self, n: int) -> Tensor:
        return decompositions.matrix_power(self, n)

    def matrix_exp(self) -> Tensor:
        return decompositions.matrix_exp(self)

    def qr(self, some: bool = True) -> Any:
        return decompositions.qr(self, some)

    def svd(self, some: bool = True, compute_uv: bool = True) -> Any:
        return decompositions.svd(self, some, compute_uv)

    def flip(self, *dims: Any) -> Tensor:
        """The elements in reverse order along ``dims`` (``x.flip(0)``, ``x.flip(0, 1)`` or
        ``x.flip((0, 1))``): a copy of the same shape, as PyTorch's (NumPy's is a view)."""
        if not dims:
            raise TypeError("flip: give the dims to reverse, e.g. x.flip(0) or x.flip((0, 1))")
        dims = _int_tuple("flip", "dims", dims[0] if len(dims) == 1 else dims)
        return ops.Flip.apply(self, axes=self._axes(dims, "flip") if dims else ())

    def roll(self, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None) -> Tensor:
        """The elements shifted ``shifts`` places along ``dims`` (those pushed off the end come
        back at the start); one shift per dim, or with ``dims=None`` one shift of the
        flattened elements, the shape kept. A copy, as PyTorch's."""
        shift = _int_tuple("roll", "shifts", shifts)
        if dims is None:
            if len(shift) != 1:
                raise TinyLMError(
                    f"roll: without dims, give one shift (of the flattened tensor), got {shift}"
                )
            return ops.Roll.apply(self, shifts=shift, axes=None)
        dim = _int_tuple("roll", "dims", dims)
        if len(shift) != len(dim) or not dim:
            raise TinyLMError(
                f"roll: shifts and dims must align, one shift per dim; got shifts {shift} and "
                f"dims {dim}"
            )
        axes = tuple(self._axis(d, "roll") for d in dim)  # a dim may repeat: its shifts add
        return ops.Roll.apply(self, shifts=shift, axes=axes)

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        """Remove axes of size 1 (all of them, or just ``dim`` if it has size 1)."""
        if dim is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            axes = self._axes(dim, "squeeze")
            shape = tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert an axis of size 1 at position ``dim`` (a view, ``ops.Unsqueeze``)."""
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise TinyLMError(
                f"unsqueeze: dim {dim} is out of range [{-self.ndim - 1}, {self.ndim}] for a "
                f"tensor of shape {self.shape} {self.dtype}"
            )
        return ops.Unsqueeze.apply(self, dim=dim % (self.ndim + 1))

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Cut along ``dim`` into pieces of a given size (int) or sizes (list), like PyTorch."""
        dim = self._axis(dim, "split")
        n = self.shape[dim]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections <= 0:
                raise TinyLMError(
                    f"split: split size must be positive, got {split_size_or_sections}"
                )
            step = split_size_or_sections
            sizes = [min(step, n - s) for s in range(0, n, step)]
        else:
            sizes = list(split_size_or_sections)
            if builtins.sum(sizes) != n:
                raise TinyLMError(
                    f"split: sizes {sizes} sum to {builtins.sum(sizes)}, but dim {dim} of the "
                    f"tensor of shape {self.shape} {self.dtype} has size {n}"
                )
        pieces, start = [], 0
        for s in sizes:
            index = (slice(None),) * dim + (slice(start, start + s),)
            pieces.append(self[index])
            start += s
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        if chunks <= 0:
            raise TinyLMError(f"chunk: the number of chunks must be positive, got {chunks}")
        size = -(-self.shape[self._axis(dim, "chunk")] // chunks)
        return self.split(size, dim)

    # ---- PyTorch's indexing, splitting and shape methods: tinylm/tensor_selecting.py ------

    def ravel(self) -> Tensor:
        return tensor_selecting.ravel(self)

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        return tensor_selecting.unflatten(self, dim, sizes)

    def reshape_as(self, other: Tensor) -> Tensor:
        """This tensor reshaped to ``other``'s shape (a view where the layout allows)."""
        return self.reshape(other.shape)

    def tensor_split(self, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return tensor_selecting.tensor_split(self, indices_or_sections, dim)

    def hsplit(self, indices_or_sections: Any) -> tuple[Tensor, ...]:
        return tensor_selecting.hsplit(self, indices_or_sections)

    def vsplit(self, indices_or_sections: Any) -> tuple[Tensor, ...]:
        return tensor_selecting.vsplit(self, indices_or_sections)

    def dsplit(self, indices_or_sections: Any) -> tuple[Tensor, ...]:
        return tensor_selecting.dsplit(self, indices_or_sections)

    def split_with_sizes(self, split_sizes: Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        return tensor_selecting.split_with_sizes(self, split_sizes, dim)

    def nelement(self) -> int:
        """The number of elements (:meth:`numel`)."""
        return self.numel()

    def ndimension(self) -> int:
        """The number of dims (``ndim``)."""
        return self.ndim

    def new_empty(
        self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """A tensor of ``size`` in this tensor's dtype and device unless given. PyTorch leaves
        its values unset; tinylm fills it with zeros (never read them)."""
        if not size:
            raise TypeError('new_empty() missing 1 required positional argument: "size"')
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def _restrided_(self, op: str, view: Tensor) -> Tensor:
        """PyTorch's in-place shape changes (``t_``, ``squeeze_`` …): this tensor becomes
        ``view`` (the same memory seen with another shape), as other in-place ops refused on
        a tensor that requires grad while recording, and on one made by a recorded op (its
        graph expects the old shape)."""
        self._check_inplace(op)
        if self.grad_fn is not None:
            raise RuntimeError(
                f"{op}: cannot change the shape of a tensor that a recorded op made (its graph "
                f"expects shape {self.shape}); use the out-of-place {op[:-1]}()"
            )
        self._data = view.data
        self._version_counter.value += 1  # as PyTorch: a saved tensor changed shape
        return self

    def squeeze_(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        return self._restrided_("squeeze_", self.detach().squeeze(dim))

    def unsqueeze_(self, dim: int) -> Tensor:
        return self._restrided_("unsqueeze_", self.detach().unsqueeze(dim))

    def t_(self) -> Tensor:
        if self.ndim > 2:
            raise TinyLMError(f"t_: expects a tensor with <= 2 dimensions, got shape {self.shape}")
        return self._restrided_("t_", self.detach().t())

    def transpose_(self, dim0: int, dim1: int) -> Tensor:
        return self._restrided_("transpose_", self.detach().transpose(dim0, dim1))

    def swapaxes_(self, axis0: int, axis1: int) -> Tensor:
        return self._restrided_("swapaxes_", self.detach().transpose(axis0, axis1))

    def swapdims_(self, dim0: int, dim1: int) -> Tensor:
        return self._restrided_("swapdims_", self.detach().transpose(dim0, dim1))

    # ---- the other in-place forms, x.op_(…) = x.op(…) written into x: tensor_inplace.py ----
    ceil_ = tensor_inplace.inplace_form("ceil")
    floor_ = tensor_inplace.inplace_form("floor")
    round_ = tensor_inplace.inplace_form("round")
    trunc_ = tensor_inplace.inplace_form("trunc")
    frac_ = tensor_inplace.inplace_form("frac")
    sign_ = tensor_inplace.inplace_form("sign")
    sin_ = tensor_inplace.inplace_form("sin")
    cos_ = tensor_inplace.inplace_form("cos")
    erf_ = tensor_inplace.inplace_form("erf")
    expm1_ = tensor_inplace.inplace_form("expm1")
    log1p_ = tensor_inplace.inplace_form("log1p")
    rsqrt_ = tensor_inplace.inplace_form("rsqrt")
    bitwise_not_ = tensor_inplace.inplace_form("bitwise_not")
    logical_not_ = tensor_inplace.inplace_form("logical_not")
    nan_to_num_ = tensor_inplace.inplace_form("nan_to_num")
    atan2_ = tensor_inplace.inplace_form("atan2")
    arctan2_ = tensor_inplace.inplace_form("arctan2")
    hypot_ = tensor_inplace.inplace_form("hypot")
    fmod_ = tensor_inplace.inplace_form("fmod")
    remainder_ = tensor_inplace.inplace_form("remainder")
    floor_divide_ = tensor_inplace.inplace_form("floor_divide")
    eq_ = tensor_inplace.inplace_form("eq")
    ne_ = tensor_inplace.inplace_form("ne")
    lt_ = tensor_inplace.inplace_form("lt")
    le_ = tensor_inplace.inplace_form("le")
    gt_ = tensor_inplace.inplace_form("gt")
    ge_ = tensor_inplace.inplace_form("ge")
    greater_ = tensor_inplace.inplace_form("greater")
    greater_equal_ = tensor_inplace.inplace_form("greater_equal")
    less_ = tensor_inplace.inplace_form("less")
    less_equal_ = tensor_inplace.inplace_form("less_equal")
    not_equal_ = tensor_inplace.inplace_form("not_equal")
    logical_and_ = tensor_inplace.inplace_form("logical_and")
    logical_or_ = tensor_inplace.inplace_form("logical_or")
    logical_xor_ = tensor_inplace.inplace_form("logical_xor")
    cumsum_ = tensor_inplace.inplace_form("cumsum")
    cumprod_ = tensor_inplace.inplace_form("cumprod")
    renorm_ = tensor_inplace.inplace_form("renorm")
    addmm_ = tensor_inplace.inplace_form("addmm")
    addmv_ = tensor_inplace.inplace_form("addmv")
    addr_ = tensor_inplace.inplace_form("addr")
    addbmm_ = tensor_inplace.inplace_form("addbmm")
    baddbmm_ = tensor_inplace.inplace_form("baddbmm")

    def take(self, index: Any) -> Tensor:
        return tensor_selecting.take(self, index)

    def take_along_dim(self, indices: Any, dim: int | None = None) -> Tensor:
        return tensor_selecting.take_along_dim(self, indices, dim)

    def index_fill(self, dim: int, index: Any, value: Any) -> Tensor:
        return tensor_selecting.index_fill(self, dim, index, value)

    def index_copy(self, dim: int, index: Any, source: Tensor) -> Tensor:
        return tensor_selecting.index_copy(self, dim, index, source)

    def index_copy_(self, dim: int, index: Any, source: Tensor) -> Tensor:
        return self._inplace_from("index_copy_", lambda x: x.index_copy(dim, index, source))

    def index_put(self, indices: Any, values: Tensor, accumulate: bool = False) -> Tensor:
        return tensor_selecting.index_put(self, indices, values, accumulate)

    def index_put_(self, indices: Any, values: Tensor, accumulate: bool = False) -> Tensor:
        return self._inplace_from("index_put_", lambda x: x.index_put(indices, values, accumulate))

    def masked_scatter(self, mask: Any, source: Tensor) -> Tensor:
        return tensor_selecting.masked_scatter(self, mask, source)

    def masked_scatter_(self, mask: Any, source: Tensor) -> Tensor:
        shape = tuple(np.shape(raw(mask)))
        try:
            fits = np.broadcast_shapes(shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise TinyLMError(
                f"masked_scatter_: mask of shape {shape} does not broadcast to the tensor's "
                f"shape {self.shape} (in place, the tensor keeps its shape)"
            )
        return self._inplace_from("masked_scatter_", lambda x: x.masked_scatter(mask, source))

    def fill_diagonal_(self, fill_value: Any, wrap: bool = False) -> Tensor:
        return tensor_selecting.fill_diagonal_(self, fill_value, wrap)

    def argwhere(self) -> Tensor:
        return tensor_selecting.argwhere(self)

    def rot90(self, k: int = 1, dims: Sequence[int] = (0, 1)) -> Tensor:
        return tensor_selecting.rot90(self, k, dims)

    def fliplr(self) -> Tensor:
        return tensor_selecting.fliplr(self)

    def flipud(self) -> Tensor:
        return tensor_selecting.flipud(self)

    def diag_embed(self, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
        return tensor_selecting.diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset: int = 0) -> Tensor:
        return tensor_selecting.diagflat(self, offset)

    # ---- PyTorch's scatter and select methods: tinylm/tensor_scatter.py ------------------

    def scatter_reduce(
        self, dim: int, index: Any, src: Tensor, reduce: str, *, include_self: bool = True
    ) -> Tensor:
        return tensor_scatter.scatter_reduce(
            self, dim, index, src, reduce, include_self=include_self
        )

    def scatter_reduce_(
        self, dim: int, index: Any, src: Tensor, reduce: str, *, include_self: bool = True
    ) -> Tensor:
        return self._inplace_from(
            "scatter_reduce_",
            lambda x: x.scatter_reduce(dim, index, src, reduce, include_self=include_self),
        )

    def index_add_(self, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
        return self._inplace_from(
            "index_add_", lambda x: x.index_add(dim, index, source, alpha=alpha)
        )

    def index_reduce(
        self, dim: int, index: Any, source: Tensor, reduce: str, *, include_self: bool = True
    ) -> Tensor:
        return tensor_scatter.index_reduce(
            self, dim, index, source, reduce, include_self=include_self
        )

    def index_reduce_(
        self, dim: int, index: Any, source: Tensor, reduce: str, *, include_self: bool = True
    ) -> Tensor:
        return self._inplace_from(
            "index_reduce_",
            lambda x: x.index_reduce(dim, index, source, reduce, include_self=include_self),
        )

    def put(self, index: Any, source: Tensor, accumulate: bool = False) -> Tensor:
        return tensor_scatter.put(self, index, source, accumulate)

    def put_(self, index: Any, source: Tensor, accumulate: bool = False) -> Tensor:
        return self._inplace_from("put_", lambda x: x.put(index, source, accumulate))

    def select(self, dim: int, index: int) -> Tensor:
        return tensor_scatter.select(self, dim, index)

    def select_scatter(self, src: Tensor, dim: int, index: int) -> Tensor:
        return tensor_scatter.select_scatter(self, src, dim, index)

    def slice_scatter(
        self, src: Tensor, dim: int = 0, start: Any = None, end: Any = None, step: int = 1
    ) -> Tensor:
        return tensor_scatter.slice_scatter(self, src, dim, start, end, step)

    def diagonal_scatter(
        self, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1
    ) -> Tensor:
        return tensor_scatter.diagonal_scatter(self, src, offset, dim1, dim2)

    def unfold(self, dimension: int, size: int, step: int) -> Tensor:
        return tensor_scatter.unfold(self, dimension, size, step)

    # ---- more small math: tinylm/math_more.py ---------------------------------------------

    def frexp(self) -> Any:
        return math_more.frexp(self)

    def ldexp(self, other: Tensor) -> Tensor:
        return math_more.ldexp(self, other)

    def ldexp_(self, other: Tensor) -> Tensor:
        return self._inplace_from("ldexp_", lambda x: x.ldexp(other))

    def cov(self, *, correction: int = 1, fweights: Any = None, aweights: Any = None) -> Tensor:
        return math_more.cov(self, correction=correction, fweights=fweights, aweights=aweights)

    def corrcoef(self) -> Tensor:
        return math_more.corrcoef(self)

    def __getitem__(self, index: Any) -> Tensor:
        index = raw_index(index)
        stages = index_stages(index)
        if stages is not None:  # x[0, :, [1, 2]]: the integers first, as PyTorch
            return self[stages[0]][stages[1]]
        return ops.GetItem.apply(self, index=index, iterator_layout=True)

    def _check_not_empty(self, op: str, axis: int | None) -> None:
        """An arg-max or maximum needs at least one element along ``axis`` (or at all)."""
        if (self.shape[axis] if axis is not None else self.numel()) == 0:
            where = "" if axis is None else f" along dim {axis}"
            raise TinyLMError(f"{op}: no elements{where} in a tensor of shape {self.shape}")

    def _axes(self, axis: Any, op: str) -> tuple[int, ...]:
        """``axis`` (None, int or tuple) as sorted non-negative axes, or an error naming
        ``op`` and this tensor's shape and dtype."""
        try:
            return ops.normalize_axis(axis, self.ndim, op)
        except TinyLMError as e:
            raise TinyLMError(f"{e} (tensor of shape {self.shape} {self.dtype})") from None

    def _axis(self, axis: int, op: str) -> int:
        """One axis, made non-negative, with the same errors as :meth:`_axes`."""
        if self.ndim == 0 or not isinstance(axis, int | np.integer):
            raise TinyLMError(
                f"{op}: needs one integer dim of a tensor with at least 1 dim, got {axis!r} for "
                f"shape {self.shape} {self.dtype}"
            )
        return self._axes(axis, op)[0]


def _deprecated_transpose(name: str, ndim: int) -> None:
    """PyTorch's warning for ``x.T`` of other than 2 dims and ``x.mT`` of 0 dims."""
    if ndim == 0:
        message = f"Tensor.{name} is deprecated on 0-D tensors. This function is the identity"
        message += " in these cases."
    else:
        message = "The use of `x.T` on tensors of dimension other than 2 to reverse their shape"
        message += " is deprecated and it will throw an error in a future release. Consider "
        message += "`x.mT` to transpose batches of matrices or `x.permute(*range(x.ndim - 1, "
        message += "-1, -1))` to reverse the dimensions of a tensor."
    warnings.warn(message, UserWarning, stacklevel=3)


def _int_tuple(op: str, name: str, value: Any) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple of ints: dims and shifts (a float or a bool
    would be cut or read as 0/1)."""
    values = tuple(value) if isinstance(value, list | tuple) else (value,)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"{op}: {name} must be integers, got {value!r}")
    return tuple(int(v) for v in values)


def raw(x: Any) -> Any:
    """The array of a Tensor; anything else as it is."""
    return x.data if isinstance(x, TensorBase) else x


def raw_index(index: Any) -> Any:
    """Replace Tensors inside an index by their arrays. A slice with a negative step is
    refused, as PyTorch refuses it (reading and writing): :meth:`TensorMath.flip` reverses."""
    for i in index if isinstance(index, tuple) else (index,):
        if isinstance(i, slice) and i.step is not None and i.step < 0:
            raise TinyLMError(
                f"index: slice step must be greater than zero, got {i.step}, as in PyTorch; "
                "use x.flip(dim) to reverse"
            )
    if isinstance(index, tuple):
        return tuple(raw(i) for i in index)
    return raw(index)


def _is_int(i: Any) -> bool:
    return isinstance(i, int | np.integer) and not isinstance(i, builtins.bool | np.bool_)


def index_stages(index: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """PyTorch's order for an index that mixes integers with arrays (lists, tensors).

    PyTorch applies the integers first (each removes its dim) and then the rest:
    ``x[0, :, [1, 2]]`` of a (2, 3, 4) tensor is (3, 2). NumPy counts the 0 as one more
    array index and puts the gathered dim first: (2, 3). For such an index, the two indices
    that give PyTorch's result one after the other: (the integers, with a full slice for
    every other dim; the rest). None for every other index, where the two agree."""
    if not isinstance(index, tuple) or not any(_is_int(i) for i in index):
        return None
    arrays = [np.asarray(i) if isinstance(i, list) else i for i in index]
    if not any(hasattr(a, "ndim") and a.ndim > 0 for a in arrays):
        return None
    first: list[Any] = []
    for a in arrays:
        if _is_int(a) or a is Ellipsis:
            first.append(a)
        elif a is None:
            continue  # a new axis consumes no dim of x
        elif getattr(a, "dtype", None) == np.bool_:
            first.extend([slice(None)] * a.ndim)  # a mask covers as many dims as it has
        else:
            first.append(slice(None))
    return tuple(first), tuple(a for a in index if not _is_int(a))


def as_operand(x: Any, like: Tensor, dtype: Any = None) -> Tensor:
    """Turn a Python number, list or array into a Tensor on ``like``'s device (a Tensor stays
    itself), converted to ``dtype`` if given (differentiably, for a Tensor).

    A number without ``dtype`` gets the dtype PyTorch gives it (bool, int64 or the default
    float); with one, it is converted from its exact value (an int wraps around:
    ``as_operand(200, t, int8)`` is -56, as in PyTorch's ``int8_tensor + 200``).
    """
    if isinstance(x, TensorBase):
        t = x
    elif isinstance(x, builtins.bool | int | float | np.number | np.bool_):
        # via float64/int64 (NumPy's asarray of a Python number), not the default float
        a = like._xp.asarray(x)
        if -65504.0 <= x <= 65504.0:  # within float16's range: no cast can overflow
            return type(like)._wrap(a.astype(dtype or result_type(x)))
        with np.errstate(all="ignore"):  # float16 t * 1e5 is inf, silent as PyTorch's
            return type(like)._wrap(a.astype(dtype or result_type(x)))
    elif hasattr(x, "shape"):
        t = type(like)._wrap(to_device_array(x, like.device))
    else:
        t = type(like)(x, device=like.device)
    return t if dtype is None else t.to(dtype)


def check_fits(op: str, dtype: Any, *numbers: Any) -> None:
    """Python or NumPy integers given for an integer tensor fit its dtype, as PyTorch checks
    (``int8_tensor.clamp(0, 300)`` is refused, not wrapped around to 44). As in PyTorch an
    unsigned dtype also takes negatives down to −max, which wrap (−1 is 255 in uint8)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        return
    info = np.iinfo(dtype)
    low = int(info.min) if dtype.kind == "i" else -int(info.max)
    for x in numbers:
        if isinstance(x, int | np.integer) and not isinstance(x, builtins.bool | np.bool_):
            if not low <= int(x) <= int(info.max):
                raise TinyLMError(
                    f"{op}: value {x} cannot be converted to {dtype} without overflow"
                )


def condition_array(op: str, condition: Any) -> Any:
    """The bool array of ``where``'s condition, checked as PyTorch checks it: a bool tensor
    (or a NumPy bool array); a uint8 one is read as ``!= 0`` with PyTorch's deprecation
    warning; any other dtype, or a Python bool or list, is refused (not read as ``!= 0``)."""
    cond = raw(condition)
    if not hasattr(cond, "dtype"):
        raise TypeError(
            f"{op}: condition must be a bool Tensor, got {type(condition).__name__} (as in "
            "PyTorch; wrap it with tinylm.tensor(...))"
        )
    if cond.dtype == np.uint8:
        warnings.warn(
            f"{op} received a uint8 condition tensor. This behavior is deprecated and will be "
            "removed in a future version of PyTorch. Use a boolean condition instead.",
            UserWarning,
            stacklevel=3,
        )
        return cond != 0
    if cond.dtype != bool_:
        raise TinyLMError(
            f"{op}: condition must be a bool tensor, as in PyTorch; got one of dtype "
            f"{cond.dtype} (compare first, e.g. x > 0)"
        )
    return cond


def _extreme(dtype: np.dtype, end: str) -> Any:
    """The smallest (``end="min"``) or largest value of a dtype (±inf for floats)."""
    if is_floating_point(dtype):
        return -math.inf if end == "min" else math.inf
    if dtype == bool_:
        return end == "max"
    return int(getattr(np.iinfo(dtype), end))


def axis_args(op: str, axis: Any, keepdims: bool, dim: Any, keepdim: Any) -> tuple[Any, bool]:
    """numpy's (axis, keepdims) or PyTorch's (dim, keepdim), whichever was given. An empty
    dim (``()`` or ``[]``) means every dim, as in PyTorch (numpy would reduce none)."""
    if dim is not None:
        if axis is not None:
            raise TinyLMError(f"{op}: give either axis= or dim=, not both")
        axis = dim
    if isinstance(axis, tuple | list) and len(axis) == 0:
        axis = None
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)


def shape_from_args(
    shape: tuple[Any, ...], op: str = "size", what: str = "size"
) -> tuple[int, ...]:
    """Accept both f(2, 3) and f((2, 3)). Each extent must be an integer (a Python or NumPy
    int, or a one-element integer tensor): PyTorch refuses ``zeros(2.5)`` with a TypeError,
    where ``int(2.5)`` would silently make it 2."""
    if len(shape) == 1 and isinstance(shape[0], list | tuple):
        shape = tuple(shape[0])
    out = []
    for pos, s in enumerate(shape):
        try:
            if isinstance(s, builtins.bool | np.bool_):
                raise TypeError
            out.append(operator.index(s))
        except TypeError:
            shown = f"shape {tuple(s.shape)} {s.dtype}" if hasattr(s, "shape") else repr(s)
            raise TypeError(
                f"{op}: {what} must be a tuple of ints, but found {type(s).__name__} {shown} "
                f"at position {pos}"
            ) from None
    return tuple(out)
