"""``tinylm.special``: PyTorch's ``torch.special``, the special functions, by their SciPy-style
names. Most are other names of tinylm's functions; the new arithmetic (ndtri, log_ndtr, the
Bessel functions I₀ and I₁) is in ``tinylm/ops/special_functions.py``. Every function keeps
its input's shape ``(*)``; integer and bool inputs are computed in the default float dtype.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tinylm import tensor_elementwise, tensor_special
from tinylm.ops import special_functions
from tinylm.tensor_special import as_float

if TYPE_CHECKING:  # type hints only
    from tinylm.tensor import Tensor

__all__ = [
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
]

# other names of functions tinylm has
gammaln = tensor_special.lgamma
digamma = psi = tensor_special.digamma
polygamma = tensor_special.polygamma
multigammaln = tensor_special.mvlgamma
i0 = tensor_special.i0
logit = tensor_special.logit
sinc = tensor_special.sinc
xlog1py = tensor_special.xlog1py
xlogy = tensor_elementwise.xlogy
erfc = tensor_elementwise.erfc
erfinv = tensor_elementwise.erfinv
exp2 = tensor_elementwise.exp2


def erf(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """erf x = (2/√π) ∫₀ˣ e^(−t²) dt."""
    return as_float("erf", input).erf()


def expit(input: Tensor) -> Tensor:  # noqa: A002
    """The logistic sigmoid 1/(1 + e⁻ˣ)."""
    return as_float("expit", input).sigmoid()


def expm1(input: Tensor) -> Tensor:  # noqa: A002
    """eˣ − 1, exact for small x."""
    return as_float("expm1", input).expm1()


def log1p(input: Tensor) -> Tensor:  # noqa: A002
    """ln(1 + x), exact for small x."""
    return as_float("log1p", input).log1p()


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001, A002
    """x rounded to ``decimals`` places, halves to even (:meth:`Tensor.round`)."""
    return tensor_special.as_tensor_arg("round", input).round(decimals=decimals)


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """softmax along ``dim``, after converting to ``dtype`` if given."""
    return tensor_special.as_tensor_arg("softmax", input).softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:  # noqa: A002
    """log-softmax along ``dim``, after converting to ``dtype`` if given."""
    return tensor_special.as_tensor_arg("log_softmax", input).log_softmax(dim, dtype=dtype)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False) -> Tensor:  # noqa: A002
    """ln Σ eˣ over ``dim`` (one or several), without overflow."""
    return tensor_special.as_tensor_arg("logsumexp", input).logsumexp(dim=dim, keepdim=keepdim)


def entr(input: Tensor) -> Tensor:  # noqa: A002
    """−x ln x (0 at 0, −inf below) (``special_functions.Entr``)."""
    return special_functions.Entr.apply(as_float("entr", input))


def ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """Φ(x) = ½ erfc(−x/√2), the standard normal CDF (composed: its gradient is
    φ(x) = e^(−x²/2)/√(2π))."""
    return erfc(as_float("ndtr", input) * (-1 / math.sqrt(2))) * 0.5


def ndtri(input: Tensor) -> Tensor:  # noqa: A002
    """Φ⁻¹(p), the standard normal quantile (``special_functions.Ndtri``)."""
    return special_functions.Ndtri.apply(as_float("ndtri", input))


def log_ndtr(input: Tensor) -> Tensor:  # noqa: A002
    """ln Φ(x), finite far into the lower tail (``special_functions.LogNdtr``)."""
    return special_functions.LogNdtr.apply(as_float("log_ndtr", input))


def i0e(input: Tensor) -> Tensor:  # noqa: A002
    """e^(−|x|) I₀(x) (``special_functions.I0e``)."""
    return special_functions.I0e.apply(as_float("i0e", input))


def i1(input: Tensor) -> Tensor:  # noqa: A002
    """I₁(x), the modified Bessel function of order 1 (``special_functions.I1``)."""
    return special_functions.I1.apply(as_float("i1", input))


def i1e(input: Tensor) -> Tensor:  # noqa: A002
    """e^(−|x|) I₁(x) (``special_functions.I1e``)."""
    return special_functions.I1e.apply(as_float("i1e", input))
