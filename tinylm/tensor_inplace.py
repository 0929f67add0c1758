"""PyTorch's remaining in-place forms, ``x.op_(…)``, as Tensor methods and as ``torch.``'s
top-level functions (``tinylm.sin_(x)``), all made by one helper, :func:`write_into`:

    x.op_(*args)  ==  x.op(*args) computed on a detached x, then written into x's memory

The arithmetic (and the argument checks) is the out-of-place op's: ``x.ceil_()`` is
``x.ceil()``, ``x.eq_(y)`` is ``x.eq(y)``, ``x.addmm_(m1, m2)`` is ``x.addmm(m1, m2)``. The
method table is in ``tinylm/tensor_math.py`` (``ceil_ = tensor_inplace.inplace_form("ceil")``,
one line a name). What the helper adds are PyTorch's rules for writing into x:

* the result has x's shape ``(*)``: only the *other* operands broadcast (``x.hypot_(y)`` with
  x of shape (3,) and y of shape (2, 3) is refused, as is y of shape (1, 3));
* its dtype must be castable to x's (``torch.can_cast``): ``int_tensor.sin_()`` and
  ``int_tensor.floor_divide_(2.0)`` are refused; comparisons and logical ops write their
  True/False as 1/0 in x's dtype (``float_tensor.lt_(0)`` holds 1.0 and 0.0);
* a view writes through to its base (the write goes into the view's own memory), an expanded
  view (elements sharing one memory location) is refused;
* x's version counter goes up, so a backward that saved x notices the change;
* as every in-place op of tinylm's, x is refused while it requires grad and a graph is being
  recorded (a deliberate difference: PyTorch records the change on a non-leaf), and so is an
  operand that requires grad (its gradient would be lost); under ``no_grad`` both are
  allowed, as optimizers do.

The refusals raise :class:`InplaceError`, both a ``TinyLMError`` and the ``RuntimeError``
PyTorch raises. The in-place ops of ``tinylm/tensor.py`` (``add_``, ``exp_`` …) are
defined there, one line each, and written by the same helper. Not here: the in-place shape
changes (``transpose_``, ``swapaxes_``: ``tensor_math.py``) and the random
fills (``normal_`` …: ``sampling.py``); ``torch.dropout_`` uses the helper from
``functional_aliases.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinylm import autograd
from tinylm.autograd import TensorBase, TinyLMError
from tinylm.dtypes import can_cast

if TYPE_CHECKING:  # type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

# torch's top-level in-place functions (tinylm.sin_(x) is x.sin_())
TOP_LEVEL = [
    "abs_",
    "acos_",
    "acosh_",
    "addmv_",
    "arccos_",
    "arccosh_",
    "arcsin_",
    "arcsinh_",
    "arctan_",
    "arctanh_",
    "asin_",
    "asinh_",
    "atan_",
    "atanh_",
    "ceil_",
    "clamp_",
    "clamp_max_",
    "clamp_min_",
    "clip_",
    "cos_",
    "cosh_",
    "deg2rad_",
    "erf_",
    "erfc_",
    "exp2_",
    "exp_",
    "expm1_",
    "fill_",
    "fix_",
    "floor_",
    "frac_",
    "gcd_",
    "i0_",
    "lcm_",
    "ldexp_",
    "log10_",
    "log1p_",
    "log2_",
    "log_",
    "logit_",
    "nan_to_num_",
    "neg_",
    "negative_",
    "rad2deg_",
    "reciprocal_",
    "round_",
    "rsqrt_",
    "sigmoid_",
    "sin_",
    "sinc_",
    "sinh_",
    "sqrt_",
    "square_",
    "tan_",
    "tanh_",
    "trunc_",
    "xlogy_",
    "zero_",
]

# ``from tinylm.tensor_inplace import *`` (tinylm/__init__.py) brings these; the helpers
# (InplaceError, write_into, inplace_form, function_form) are used as tensor_inplace.<name>
__all__ = TOP_LEVEL


class InplaceError(TinyLMError, RuntimeError):
    """An in-place op refused: a result x cannot hold (its shape or dtype), an expanded x, or
    x requiring grad while recording. A ``RuntimeError``, as PyTorch's."""


def write_into(x: Tensor, op: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """x ← compute(x), in x's own memory; returns x. Every in-place op of tinylm's comes here
    (``add_``, ``exp_`` … through ``Tensor``'s own helper).

    ``compute`` is the out-of-place op, called on a detached x (sharing x's memory). Its
    result must have x's shape ``(*)`` and a dtype castable to x's (it is cast, as PyTorch
    casts: bool → 0/1, float64 → float32, int64 → int8 wrapping around). A result that
    requires grad means an operand does: refused while recording (PyTorch would record the
    write and give the operand a gradient; tinylm would lose it).
    """
    if x.requires_grad and autograd.is_grad_enabled():
        raise InplaceError(
            f"{op}: in-place changes to a tensor that requires grad are not recorded by "
            "tinylm's autograd; use the out-of-place op, or wrap the update in "
            "tinylm.no_grad() (as optimizers do)"
        )
    if not getattr(getattr(x.data, "flags", None), "writeable", True):  # an expand()ed view
        raise InplaceError(
            f"{op}: more than one element of this tensor refers to one memory location (an "
            "expanded view); clone() it first, as PyTorch asks"
        )
    result = compute(x.detach())  # a graph is recorded only where an operand requires grad
    if result.requires_grad:
        raise InplaceError(
            f"{op}: an operand requires grad, but in-place ops are not recorded by "
            "tinylm's autograd, so its gradient would be lost; use the out-of-place op"
        )
    if tuple(result.shape) != tuple(x.shape):
        raise InplaceError(
            f"{op}: output with shape {list(x.shape)} doesn't match the broadcast shape "
            f"{list(result.shape)} (in place, only the other operands broadcast)"
        )
    if not can_cast(result.dtype, x.dtype):
        raise InplaceError(
            f"{op}: result type {result.dtype} can't be cast to the desired output type {x.dtype}"
        )
    x.copy_(result)  # cast to x's dtype, through x's strides; bumps x's version
    return x


def inplace_form(name: str) -> Callable[..., Tensor]:
    """The method ``x.name_(*args, **kwargs)``: ``x.name(*args, **kwargs)`` written into x
    by :func:`write_into` (same arguments as the out-of-place method)."""
    op = name + "_"

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return write_into(self, op, lambda x: getattr(x, name)(*args, **kwargs))

    method.__name__ = method.__qualname__ = op
    method.__doc__ = (
        f"In place: ``x.{op}(…)`` writes ``x.{name}(…)`` (same arguments) into x and returns "
        "x; the result must keep x's shape and be castable to x's dtype "
        "(tinylm/tensor_inplace.py)."
    )
    return method


def function_form(op: str) -> Callable[..., Tensor]:
    """torch's top-level ``torch.op(input, *args, **kwargs)``: the method ``input.op(…)``
    of a Tensor (anything else is a TypeError, as in PyTorch)."""

    def function(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:  # noqa: A002
        if not isinstance(input, TensorBase):
            raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
        return getattr(input, op)(*args, **kwargs)

    function.__name__ = function.__qualname__ = op
    function.__doc__ = f"``tinylm.{op}(x, …)`` is ``x.{op}(…)``: x changed in place, returned."
    return function


abs_ = function_form("abs_")
acos_ = function_form("acos_")
acosh_ = function_form("acosh_")
addmv_ = function_form("addmv_")
arccos_ = function_form("arccos_")
arccosh_ = function_form("arccosh_")
arcsin_ = function_form("arcsin_")
arcsinh_ = function_form("arcsinh_")
arctan_ = function_form("arctan_")
arctanh_ = function_form("arctanh_")
asin_ = function_form("asin_")
asinh_ = function_form("asinh_")
atan_ = function_form("atan_")
atanh_ = function_form("atanh_")
ceil_ = function_form("ceil_")
clamp_ = function_form("clamp_")
clamp_max_ = function_form("clamp_max_")
clamp_min_ = function_form("clamp_min_")
clip_ = function_form("clip_")
cos_ = function_form("cos_")
cosh_ = function_form("cosh_")
deg2rad_ = function_form("deg2rad_")
erf_ = function_form("erf_")
erfc_ = function_form("erfc_")
exp2_ = function_form("exp2_")
exp_ = function_form("exp_")
expm1_ = function_form("expm1_")
fill_ = function_form("fill_")
fix_ = function_form("fix_")
floor_ = function_form("floor_")
frac_ = function_form("frac_")
gcd_ = function_form("gcd_")
i0_ = function_form("i0_")
lcm_ = function_form("lcm_")
ldexp_ = function_form("ldexp_")
log10_ = function_form("log10_")
log1p_ = function_form("log1p_")
log2_ = function_form("log2_")
log_ = function_form("log_")
logit_ = function_form("logit_")
nan_to_num_ = function_form("nan_to_num_")
neg_ = function_form("neg_")
negative_ = function_form("negative_")
rad2deg_ = function_form("rad2deg_")
reciprocal_ = function_form("reciprocal_")
round_ = function_form("round_")
rsqrt_ = function_form("rsqrt_")
sigmoid_ = function_form("sigmoid_")
sin_ = function_form("sin_")
sinc_ = function_form("sinc_")
sinh_ = function_form("sinh_")
sqrt_ = function_form("sqrt_")
square_ = function_form("square_")
tan_ = function_form("tan_")
tanh_ = function_form("tanh_")
trunc_ = function_form("trunc_")
xlogy_ = function_form("xlogy_")
zero_ = function_form("zero_")
