"""PyTorch's other element-wise functions and its aliases, with ``torch.``'s signatures,
dtype promotion and gradients: ``tinylm.asin(x)`` and the method ``x.asin()`` (one line in
``tinylm/tensor_math.py``) both land here; the in-place forms (``x.asin_()``) are in
``tinylm/tensor.py``. The forward and backward rules are the Functions of
``tinylm/ops/special.py``; the rest is composed of differentiable ops that exist already.

* trigonometric and hyperbolic: :func:`tan`, :func:`asin`, :func:`acos`, :func:`atan`,
  :func:`sinh`, :func:`cosh`, :func:`asinh`, :func:`acosh`, :func:`atanh` (and NumPy's
  names ``arcsin`` …), :func:`deg2rad`, :func:`rad2deg`;
* logarithms and exponentials: :func:`log2`, :func:`log10`, :func:`exp2`, :func:`erfc`,
  :func:`erfinv`, :func:`xlogy`, :func:`float_power`;
* signs: :func:`sgn`, :func:`signbit`, :func:`copysign`, :func:`heaviside`;
* aliases: :func:`subtract`, :func:`multiply`, :func:`divide`, :func:`true_divide`,
  :func:`negative`, :func:`positive`, :func:`absolute`, :func:`fix`, :func:`greater` …;
* :func:`addcmul`, :func:`addcdiv` (optimizers' updates), :func:`clamp_min`,
  :func:`clamp_max`, :func:`fmax`, :func:`fmin` (NaN-ignoring);
* integers and bools (no gradient): :func:`bitwise_and`, :func:`bitwise_or`,
  :func:`bitwise_xor`, :func:`gcd`, :func:`lcm`, :func:`isin`, :func:`isneginf`,
  :func:`isposinf`, :func:`isreal`, :func:`is_nonzero`, :func:`is_floating_point`,
  :func:`is_complex`.

Every function keeps its input's shape, or the broadcast shape ``(*)`` of two inputs.
Functions of a float nature (``asin``, ``log2``, ``xlogy`` …) compute integer and bool
inputs in the default float dtype (float32), as PyTorch's do.
"""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

from tinylm import ops
from tinylm.autograd import TensorBase, TinyLMError
from tinylm.bool_arithmetic import refuse_bool_neg
from tinylm.dtypes import bool_, float64, get_default_dtype, result_type
from tinylm.dtypes import is_floating_point as is_float_dtype
from tinylm.ops import special

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

__all__ = [
    "absolute",
    "acos",
    "acosh",
    "addcdiv",
    "addcmul",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctanh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "clamp_max",
    "clamp_min",
    "copysign",
    "cosh",
    "deg2rad",
    "divide",
    "erfc",
    "erfinv",
    "exp2",
    "fix",
    "float_power",
    "fmax",
    "fmin",
    "gcd",
    "greater",
    "greater_equal",
    "heaviside",
    "is_complex",
    "is_floating_point",
    "is_nonzero",
    "isin",
    "isneginf",
    "isposinf",
    "isreal",
    "lcm",
    "less",
    "less_equal",
    "log10",
    "log2",
    "multiply",
    "negative",
    "not_equal",
    "positive",
    "rad2deg",
    "sgn",
    "signbit",
    "sinh",
    "subtract",
    "tan",
    "true_divide",
    "xlogy",
]


def _tensor(op: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, TensorBase):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    return x  # type: ignore[return-value]


def _float(x: Tensor) -> Tensor:
    """x, or for bool and integer tensors its values in the default float dtype."""
    return x if is_float_dtype(x.dtype) else x.to(get_default_dtype())


def promoted_pair(
    op: str, a: Any, b: Any, floats: bool = False, broadcast: bool = True
) -> tuple[Tensor, Tensor]:
    """a and b (one may be a number) in their promoted dtype (:func:`tinylm.result_type`;
    with ``floats``, the default float dtype for integers and bools), broadcast-checked."""
    like = a if isinstance(a, TensorBase) else b
    if not isinstance(like, TensorBase):
        raise TypeError(f"{op}: needs at least one Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")  # fmt: skip
    dtype = result_type(a, b)
    if floats and not is_float_dtype(dtype):
        dtype = get_default_dtype()
    if broadcast and isinstance(a, TensorBase) and isinstance(b, TensorBase):
        ops.check_broadcast(op, a, b)  # before the casts: names the given dtypes

    def cast(x: Any) -> Tensor:
        return x.to(dtype) if isinstance(x, TensorBase) else like.new_tensor(x, dtype=dtype)

    return cast(a), cast(b)


def _no_bool(op: str, x: Tensor, hint: str) -> None:
    if x.dtype == bool_:
        raise TinyLMError(f"{op}: not defined for bool tensors, as in PyTorch; {hint}")


# ---- trigonometric and hyperbolic --------------------------------------------------------


def tan(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """tan x (``special.Tan``)."""
    return special.Tan.apply(_float(input))


def asin(input: Tensor) -> Tensor:  # noqa: A002
    """arcsin x in [−π/2, π/2], nan outside [−1, 1] (``special.Asin``)."""
    return special.Asin.apply(_float(input))


def acos(input: Tensor) -> Tensor:  # noqa: A002
    """arccos x in [0, π], nan outside [−1, 1] (``special.Acos``)."""
    return special.Acos.apply(_float(input))


def atan(input: Tensor) -> Tensor:  # noqa: A002
    """arctan x in (−π/2, π/2) (``special.Atan``)."""
    return special.Atan.apply(_float(input))


def sinh(input: Tensor) -> Tensor:  # noqa: A002
    return special.Sinh.apply(_float(input))


def cosh(input: Tensor) -> Tensor:  # noqa: A002
    return special.Cosh.apply(_float(input))


def asinh(input: Tensor) -> Tensor:  # noqa: A002
    return special.Asinh.apply(_float(input))


def acosh(input: Tensor) -> Tensor:  # noqa: A002
    """arcosh x for x ≥ 1, nan below (``special.Acosh``)."""
    return special.Acosh.apply(_float(input))


def atanh(input: Tensor) -> Tensor:  # noqa: A002
    """artanh x for |x| < 1, ±inf at ±1, nan beyond (``special.Atanh``)."""
    return special.Atanh.apply(_float(input))


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def deg2rad(input: Tensor) -> Tensor:  # noqa: A002
    """Degrees to radians: x · π/180 (gradient π/180)."""
    return _float(input) * (math.pi / 180)


def rad2deg(input: Tensor) -> Tensor:  # noqa: A002
    """Radians to degrees: x · 180/π (gradient 180/π)."""
    return _float(input) * (180 / math.pi)


# ---- logarithms and exponentials ---------------------------------------------------------


def log2(input: Tensor) -> Tensor:  # noqa: A002
    return special.Log2.apply(_float(input))


def log10(input: Tensor) -> Tensor:  # noqa: A002
    return special.Log10.apply(_float(input))


def exp2(input: Tensor) -> Tensor:  # noqa: A002
    """2ˣ (``special.Exp2``)."""
    return special.Exp2.apply(_float(input))


def erfc(input: Tensor) -> Tensor:  # noqa: A002
    """1 − erf x, exact for large x where 1 − erf x would be 0 (``special.Erfc``)."""
    return special.Erfc.apply(_float(input))


def erfinv(input: Tensor) -> Tensor:  # noqa: A002
    """The inverse of erf on [−1, 1] (±inf at ±1, nan outside) (``special.Erfinv``)."""
    return special.Erfinv.apply(_float(input))


def xlogy(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input · ln(other), 0 where input is 0 (unless other is NaN); either may be a number
    (``special.Xlogy``)."""
    a, b = promoted_pair("xlogy", input, other, floats=True)
    return special.Xlogy.apply(a, b)


def float_power(input: Any, exponent: Any) -> Tensor:  # noqa: A002
    """input ** exponent computed in float64 (whatever the dtypes; either may be a number),
    as PyTorch's; the gradient reaches the inputs in their own dtypes."""
    if not isinstance(input, TensorBase):
        exponent = _tensor("float_power", "exponent", exponent)
        input = exponent.new_tensor(input, dtype=float64)  # noqa: A001
    base = input.to(float64)
    if isinstance(exponent, TensorBase):
        return base ** exponent.to(float64)
    if isinstance(exponent, builtins.bool) or not isinstance(exponent, int | float):
        raise TypeError(f"float_power: exponent must be a Tensor or a number, got {exponent!r}")
    return base ** builtins.float(exponent)


# ---- signs -------------------------------------------------------------------------------


def sgn(input: Tensor) -> Tensor:  # noqa: A002
    """The sign −1, 0 or 1 (PyTorch's sign for complex numbers, which tinylm has not; for
    real ones it is :meth:`Tensor.sign`, gradient 0)."""
    return input.sign()


def signbit(input: Tensor) -> Tensor:  # noqa: A002
    """True where the sign bit is set (x < 0, and −0.0): a bool tensor, no gradient."""
    x = input.detach()
    if not is_float_dtype(x.dtype):
        x = x.to(float64)  # NumPy's signbit takes floats only; int64 keeps its sign there
    return special.Signbit.apply(x)


def copysign(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """|input| with the sign of other (a tensor or a number), in the promoted float dtype
    (``special.Copysign``: gradient ±1 to input, 0 to other)."""
    a, b = promoted_pair("copysign", _tensor("copysign", "input", input), other, floats=True)
    return special.Copysign.apply(a, b)


def heaviside(input: Tensor, values: Tensor) -> Tensor:  # noqa: A002
    """0 where input < 0, ``values`` where input = 0, 1 where input > 0. Both tensors of one
    dtype, as PyTorch (it promotes nothing here); no derivative (``special.Heaviside``)."""
    input, values = _tensor("heaviside", "input", input), _tensor("heaviside", "values", values)  # noqa: A001
    if input.dtype != values.dtype:
        raise TinyLMError(
            f"heaviside: input and values must have the same dtype, as in PyTorch; got "
            f"{input.dtype} and {values.dtype}"
        )
    return special.Heaviside.apply(input, values)


# ---- PyTorch's aliases -------------------------------------------------------------------


def subtract(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:  # noqa: A002
    """input − alpha · other (:meth:`Tensor.sub`)."""
    return _tensor("subtract", "input", input).sub(other, alpha=alpha)


def multiply(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return _tensor("multiply", "input", input) * other


def divide(input: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:  # noqa: A002
    """input / other, or rounded toward zero ("trunc") or down ("floor"): :meth:`Tensor.div`."""
    return _tensor("divide", "input", input).div(other, rounding_mode=rounding_mode)


def true_divide(dividend: Tensor, divisor: Any) -> Tensor:
    """dividend / divisor, a float even for integers."""
    return _tensor("true_divide", "dividend", dividend) / divisor


def negative(input: Tensor) -> Tensor:  # noqa: A002
    """−x (bools refused, as PyTorch: ~x or logical_not() inverts a mask)."""
    refuse_bool_neg("negative", _tensor("negative", "input", input))
    return -input


def positive(input: Tensor) -> Tensor:  # noqa: A002
    """The input itself, as PyTorch's (bools refused, as there)."""
    _no_bool("positive", input, "it has no unary +")
    return input


def absolute(input: Tensor) -> Tensor:  # noqa: A002
    """|x| (bools refused, as PyTorch's abs)."""
    _no_bool("absolute", input, "a bool is its own absolute value")
    return input.abs()


def fix(input: Tensor) -> Tensor:  # noqa: A002
    """x rounded toward zero: :meth:`Tensor.trunc`."""
    return input.trunc()


def greater(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input > other


def greater_equal(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input >= other


def less(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input < other


def less_equal(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input <= other


def not_equal(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    return input != other


# ---- products and quotients added in, bounds, NaN-ignoring extremes ----------------------


def _scaled_product(op: str, input: Tensor, t1: Any, t2: Any, value: Any) -> tuple[Any, ...]:  # noqa: A002
    """input, tensor1 and tensor2 in their promoted dtype, after PyTorch's checks of value."""
    for name, t in (("input", input), ("tensor1", t1), ("tensor2", t2)):
        _tensor(op, name, t)
    dtype = result_type(input, t1, t2)
    if op == "addcdiv" and not is_float_dtype(dtype):
        raise TinyLMError(
            "addcdiv: integer division is not supported, as in PyTorch; give float tensors"
        )
    if not is_float_dtype(dtype) and isinstance(value, float):
        raise TinyLMError(  # PyTorch would cut it to an integer silently
            f"{op}: value={value} is a float but the tensors are {dtype}; give an integer "
            "value or float tensors"
        )
    if isinstance(value, TensorBase):
        raise TypeError(f"{op}: value must be a number, got a Tensor")
    return input.to(dtype), t1.to(dtype), t2.to(dtype)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:  # noqa: A002
    """input + value · tensor1 · tensor2, broadcast, in the three tensors' promoted dtype
    (Adam's second moment: ``v.mul_(β₂).addcmul_(g, g, value=1 − β₂)``)."""
    x, a, b = _scaled_product("addcmul", input, tensor1, tensor2, value)
    return x + value * a * b


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:  # noqa: A002
    """input + value · tensor1 / tensor2, broadcast, for float tensors (integers refused, as
    PyTorch: ``p.addcdiv_(m, v.sqrt() + eps, value=−lr)``)."""
    x, a, b = _scaled_product("addcdiv", input, tensor1, tensor2, value)
    return x + value * a / b


def clamp_min(input: Tensor, min: Any) -> Tensor:  # noqa: A002
    """max(x, min) (:meth:`Tensor.clamp`)."""
    return input.clamp(min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:  # noqa: A002
    """min(x, max) (:meth:`Tensor.clamp`)."""
    return input.clamp(max=max)


def fmax(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The larger of the two, a NaN ignored where the other is a number (``special.Fmax``);
    two tensors, in their promoted dtype."""
    a, b = promoted_pair("fmax", _tensor("fmax", "input", input), _tensor("fmax", "other", other))
    return special.Fmax.apply(a, b)


def fmin(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The smaller of the two, a NaN ignored where the other is a number (``special.Fmin``)."""
    a, b = promoted_pair("fmin", _tensor("fmin", "input", input), _tensor("fmin", "other", other))
    return special.Fmin.apply(a, b)


# ---- integers and bools ------------------------------------------------------------------


def _integers(op: str, a: Any, b: Any, bools: bool) -> tuple[Tensor, Tensor]:
    a, b = promoted_pair(op, a, b)
    if a.dtype.kind not in ("biu" if bools else "iu"):
        kinds = "bool or integer" if bools else "integer"
        raise TinyLMError(f"{op}: needs {kinds} tensors, as in PyTorch; got {a.dtype}")
    return a.detach(), b.detach()


def bitwise_and(input: Any, other: Any) -> Tensor:  # noqa: A002
    """a & b: and of bools, bit by bit of integers (``special.Bitwise``); no gradient."""
    return special.Bitwise.apply(*_integers("bitwise_and", input, other, True), kind="and")


def bitwise_or(input: Any, other: Any) -> Tensor:  # noqa: A002
    """a | b of bools or integers; no gradient."""
    return special.Bitwise.apply(*_integers("bitwise_or", input, other, True), kind="or")


def bitwise_xor(input: Any, other: Any) -> Tensor:  # noqa: A002
    """a ^ b of bools or integers; no gradient."""
    return special.Bitwise.apply(*_integers("bitwise_xor", input, other, True), kind="xor")


def gcd(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The greatest common divisor (≥ 0; gcd(0, 0) = 0) of two integer tensors."""
    a, b = _tensor("gcd", "input", input), _tensor("gcd", "other", other)
    return special.GcdLcm.apply(*_integers("gcd", a, b, False), kind="gcd")


def lcm(input: Tensor, other: Tensor) -> Tensor:  # noqa: A002
    """The least common multiple (≥ 0; 0 if either is 0) of two integer tensors."""
    a, b = _tensor("lcm", "input", input), _tensor("lcm", "other", other)
    return special.GcdLcm.apply(*_integers("lcm", a, b, False), kind="lcm")


def isin(
    elements: Any,
    test_elements: Any,
    *,
    assume_unique: builtins.bool = False,
    invert: builtins.bool = False,
) -> Tensor:
    """True where an element of ``elements`` is among ``test_elements`` (either may be a
    number; values compare in their promoted dtype): a bool tensor of ``elements``' shape.
    ``assume_unique`` is only a speed hint in PyTorch, and is accepted and unused here."""
    a, b = promoted_pair("isin", elements, test_elements, broadcast=False)
    if a.dtype == bool_:
        raise TinyLMError("isin: not defined for bool tensors, as in PyTorch; compare as .long()")
    return special.IsIn.apply(a.detach(), b.detach(), invert=builtins.bool(invert))


def isposinf(input: Tensor) -> Tensor:  # noqa: A002
    """True where x is +inf: a bool tensor (all False for integers)."""
    return special.IsInfinite.apply(input.detach(), sign=1)


def isneginf(input: Tensor) -> Tensor:  # noqa: A002
    """True where x is −inf: a bool tensor (all False for integers)."""
    return special.IsInfinite.apply(input.detach(), sign=-1)


def isreal(input: Tensor) -> Tensor:  # noqa: A002
    """True where the imaginary part is 0: everywhere, since tinylm has no complex dtypes."""
    return input.new_ones(*input.shape, dtype=bool_)


def is_nonzero(input: Tensor) -> builtins.bool:  # noqa: A002
    """Whether the one element of ``input`` is non-zero: a Python bool."""
    if input.numel() != 1:
        which = "no values" if input.numel() == 0 else "more than one value"
        raise TinyLMError(f"is_nonzero: Boolean value of Tensor with {which} is ambiguous")
    return builtins.bool(input.item())


def is_floating_point(input: Tensor) -> builtins.bool:  # noqa: A002
    return _tensor("is_floating_point", "input", input).is_floating_point()


def is_complex(input: Tensor) -> builtins.bool:  # noqa: A002
    return _tensor("is_complex", "input", input).is_complex()
