"""PyTorch's special functions at the top level and as Tensor methods (``tinylm.lgamma(x)``,
``x.lgamma()``), its bit shifts and the last small Tensor conveniences: the forward and
backward rules are the Functions of ``tinylm/ops/special_functions.py``.

* :func:`lgamma`, :func:`digamma`, :func:`polygamma`, :func:`mvlgamma`, :func:`i0`,
  :func:`logit`, :func:`sinc`, :func:`xlog1py`;
* without gradients: :func:`nextafter`, :func:`bitwise_left_shift`,
  :func:`bitwise_right_shift`;
* :func:`adjoint` (real tensors: the last two dims swapped), :func:`is_signed`,
  :func:`sum_to_size`.

Every function keeps its input's shape ``(*)`` (or the broadcast shape of two inputs).
Integer and bool inputs are computed in the default float dtype (float32), as PyTorch's.
"""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

from tinylm.autograd import TensorBase, TinyLMError
from tinylm.dtypes import get_default_dtype
from tinylm.dtypes import is_floating_point as is_float_dtype
from tinylm.ops import special_functions
from tinylm.tensor_elementwise import promoted_pair

if TYPE_CHECKING:  # type hints only: tinylm.tensor imports this module (via tensor_math)
    from tinylm.tensor import Tensor

__all__ = [
    "adjoint",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "digamma",
    "i0",
    "is_signed",
    "lgamma",
    "logit",
    "mvlgamma",
    "nextafter",
    "polygamma",
    "sinc",
    "sum_to_size",
    "xlog1py",
]


def _tensor(op: str, x: Any) -> Tensor:
    if not isinstance(x, TensorBase):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    return x  # type: ignore[return-value]


def as_tensor_arg(op: str, x: Any) -> Tensor:
    """x, checked to be a Tensor (a TypeError naming ``op`` otherwise)."""
    return _tensor(op, x)


def as_float(op: str, x: Any) -> Tensor:
    """x, or for bool and integer tensors its values in the default float dtype."""
    x = _tensor(op, x)
    return x if is_float_dtype(x.dtype) else x.to(get_default_dtype())


def lgamma(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """ln |Γ(x)|, +inf at 0, −1, −2 … (``special_functions.Lgamma``; gradient ψ(x))."""
    return special_functions.Lgamma.apply(as_float("lgamma", input))


def digamma(input: Tensor) -> Tensor:  # noqa: A002
    """ψ(x) = Γ′(x)/Γ(x), −inf at +0, nan at −1, −2 … (``special_functions.Digamma``)."""
    return special_functions.Digamma.apply(as_float("digamma", input))


def polygamma(n: int, input: Tensor) -> Tensor:  # noqa: A002
    """ψ⁽ⁿ⁾(x), the n-th derivative of ψ, for an integer n ≥ 0 (``special_functions.Polygamma``;
    gradient ψ⁽ⁿ⁺¹⁾(x))."""
    if isinstance(n, builtins.bool) or not isinstance(n, int):
        raise TypeError(f"polygamma: n must be an int, got {n!r}")
    if n < 0:
        raise TinyLMError(f"polygamma: n must be ≥ 0, as in PyTorch; got {n}")
    return special_functions.Polygamma.apply(as_float("polygamma", input), n=n)


def mvlgamma(input: Tensor, p: int) -> Tensor:  # noqa: A002
    """The log of the multivariate gamma function of dimension p:
    p(p − 1)/4 · ln π + Σⱼ₌₀^(p−1) ln Γ(x − j/2), composed of :func:`lgamma` (so its gradient
    is Σⱼ ψ(x − j/2)). Every x must exceed (p − 1)/2, as PyTorch requires."""
    x = as_float("mvlgamma", input)
    if isinstance(p, builtins.bool) or not isinstance(p, int) or p < 1:
        raise TinyLMError(f"mvlgamma: p must be an int ≥ 1, got {p!r}")
    if x.numel() and not builtins.bool((x.detach() > (p - 1) / 2).all().item()):
        raise TinyLMError(f"mvlgamma: all elements of input must be greater than (p-1)/2 = "
                          f"{(p - 1) / 2}")  # fmt: skip
    total = lgamma(x)
    for j in range(1, p):
        total = total + lgamma(x - j / 2)
    return total + p * (p - 1) / 4 * math.log(math.pi)


def i0(input: Tensor) -> Tensor:  # noqa: A002
    """I₀(x), the modified Bessel function of the first kind of order 0
    (``special_functions.I0``; gradient I₁(x))."""
    return special_functions.I0.apply(as_float("i0", input))


def logit(input: Tensor, eps: float | None = None) -> Tensor:  # noqa: A002
    """ln(x / (1 − x)); with ``eps``, x is first clamped to [eps, 1 − eps]
    (``special_functions.Logit``)."""
    if eps is not None and (isinstance(eps, builtins.bool) or not isinstance(eps, int | float)):
        raise TypeError(f"logit: eps must be a float or None, got {eps!r}")
    return special_functions.Logit.apply(
        as_float("logit", input), eps=None if eps is None else builtins.float(eps)
    )


def sinc(input: Tensor) -> Tensor:  # noqa: A002
    """The normalized sinc: sin(πx)/(πx), 1 at 0 (``special_functions.Sinc``)."""
    return special_functions.Sinc.apply(as_float("sinc", input))


def xlog1py(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input · ln(1 + other), 0 where input is 0 (unless other is NaN); either may be a
    number (``special_functions.Xlog1py``)."""
    a, b = promoted_pair("xlog1py", input, other, floats=True)
    return special_functions.Xlog1py.apply(a, b)


def nextafter(input: Tensor, other: Any) -> Tensor:  # noqa: A002
    """The next float after input toward other, in their promoted float dtype: no gradient
    (PyTorch has no derivative for it)."""
    a, b = promoted_pair("nextafter", _tensor("nextafter", input), other, floats=False)
    if not is_float_dtype(a.dtype):
        raise TinyLMError(f"nextafter: needs float tensors, as in PyTorch; got {a.dtype}")
    return special_functions.NextAfter.apply(a.detach(), b.detach())


def _shift(op: str, input: Any, other: Any, left: builtins.bool) -> Tensor:
    a, b = promoted_pair(op, input, other, floats=False)
    if a.dtype.kind not in "iu":
        raise TinyLMError(f"{op}: needs integer tensors, as in PyTorch; got {a.dtype}")
    return special_functions.BitShift.apply(a.detach(), b.detach(), left=left)


def bitwise_left_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input << other of integers (0 once the shift reaches the width); no gradient."""
    return _shift("bitwise_left_shift", input, other, left=True)


def bitwise_right_shift(input: Any, other: Any) -> Tensor:  # noqa: A002
    """input >> other of integers, arithmetic (sign-filling) for signed ones; no gradient."""
    return _shift("bitwise_right_shift", input, other, left=False)


def adjoint(input: Tensor) -> Tensor:  # noqa: A002
    """The conjugate transpose of the last two dims: for real tensors (tinylm has no complex
    ones) the transpose ``x.mT``; at least 2 dims."""
    x = _tensor("adjoint", input)
    if x.ndim < 2:
        raise TinyLMError(f"adjoint: needs a tensor of at least 2 dims, got {x.ndim}")
    return x.transpose(-2, -1)


def is_signed(input: Tensor) -> builtins.bool:  # noqa: A002
    """Whether the dtype holds negative numbers: False for uint8 and bool only."""
    return _tensor("is_signed", input).dtype.kind not in "ub"


def sum_to_size(input: Tensor, *size: Any) -> Tensor:  # noqa: A002
    """Sums ``input`` down to ``size``, which it must broadcast from (Σ over the leading dims
    it lacks and over the dims where size is 1): the reverse of ``expand``."""
    x = _tensor("sum_to_size", input)
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], tuple | list) else size
    if len(shape) > x.ndim or any(
        s != 1 and s != n for s, n in zip(shape[::-1], x.shape[::-1], strict=False)
    ):
        raise TinyLMError(
            f"sum_to_size: size {list(shape)} is not expandable to the tensor's size "
            f"{list(x.shape)}"
        )
    lead = x.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1
    )
    out = x.sum(dim=dims, keepdim=True) if dims else x
    return out.reshape(*shape)
