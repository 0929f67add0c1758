"""More of PyTorch's layers: the activations of :mod:`tinylm.nn.functional.more_activations`
as Modules (``LogSigmoid``, ``ReLU6``, ``Hardtanh``, ``GLU``, ``Mish``, ``Hardswish``,
``Hardsigmoid``, ``Softsign``, ``SELU``, ``CELU``, ``Threshold``, ``Softmin``,
``Tanhshrink``, ``Softshrink``, ``Hardshrink``, ``PReLU``), ``GroupNorm``, and the distance
Modules ``PairwiseDistance`` and ``CosineSimilarity``.

Each keeps PyTorch's constructor arguments (``inplace=True`` is refused, as elsewhere in
tinylm) and its repr, and calls one function of :mod:`tinylm.nn.functional`, where the
equations and their gradients are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm import creation
from tinylm.autograd import TinyLMError
from tinylm.nn.functional import distances
from tinylm.nn.functional import more_activations as A
from tinylm.nn.functional.common import check_not_inplace
from tinylm.nn.functional.group_norm import group_norm
from tinylm.nn.functional.normalization import cosine_similarity
from tinylm.nn.layers import ActivationOverDim, InplaceRefusedActivation
from tinylm.nn.module import Module, Parameter
from tinylm.tensor import Tensor

__all__ = [
    "CELU",
    "GLU",
    "SELU",
    "CosineSimilarity",
    "GroupNorm",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LogSigmoid",
    "Mish",
    "PReLU",
    "PairwiseDistance",
    "ReLU6",
    "Softmin",
    "Softshrink",
    "Softsign",
    "Tanhshrink",
    "Threshold",
]


class LogSigmoid(Module):
    """log σ(x), element-wise, stable for large |x|; see ``F.logsigmoid``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.logsigmoid(x)


class Hardtanh(Module):
    """x clamped to [min_val, max_val]; see ``F.hardtanh``. PyTorch's deprecated
    ``min_value``/``max_value`` are refused (use ``min_val``/``max_val``)."""

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check_not_inplace(name, inplace)
        if min_value is not None or max_value is not None:
            raise TinyLMError(
                f"{name}: min_value and max_value are PyTorch's deprecated names; pass "
                "min_val and max_val"
            )
        if min_val > max_val:
            raise TinyLMError(
                f"{name}: min_val ({min_val}) cannot be greater than max_val ({max_val})"
            )
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x: Tensor) -> Tensor:
        return A.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): a Hardtanh(0, 6), as PyTorch's; see ``F.relu6``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return ""


class GLU(ActivationOverDim):
    """a ⊗ σ(b) for the halves a, b of the input along ``dim`` (the last unless given):
    (…, 2k, …) → (…, k, …); see ``F.glu``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim)

    def forward(self, x: Tensor) -> Tensor:
        return A.glu(x, self.dim)


class Mish(InplaceRefusedActivation):
    """x · tanh(softplus(x)); see ``F.mish``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.mish(x)


class Hardswish(InplaceRefusedActivation):
    """x · relu6(x + 3) / 6; see ``F.hardswish``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.hardswish(x)


class Hardsigmoid(InplaceRefusedActivation):
    """relu6(x + 3) / 6; see ``F.hardsigmoid``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.hardsigmoid(x)


class SELU(InplaceRefusedActivation):
    """λ x for x > 0, else λ α (eˣ − 1); see ``F.selu``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.selu(x)


class Softsign(Module):
    """x / (1 + |x|); see ``F.softsign``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.softsign(x)


class Tanhshrink(Module):
    """x − tanh(x); see ``F.tanhshrink``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.tanhshrink(x)


class CELU(Module):
    """x for x > 0, else α (e^{x/α} − 1); see ``F.celu``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        check_not_inplace("CELU", inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return A.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Threshold(Module):
    """x where x > ``threshold``, else ``value``; see ``F.threshold``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        check_not_inplace("Threshold", inplace)
        self.threshold, self.value = threshold, value

    def forward(self, x: Tensor) -> Tensor:
        return A.threshold(x, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


class Softmin(ActivationOverDim):
    """softmax(−x) along ``dim`` (which must be given); see ``F.softmin``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.softmin(x, self.dim)


class _Shrink(Module):
    """The constructor and repr of the two shrinkages: their threshold λ (``lambd``)."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def extra_repr(self) -> str:
        return str(self.lambd)


class Softshrink(_Shrink):
    """x − sign(x)·λ for |x| > λ, else 0; see ``F.softshrink``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.softshrink(x, self.lambd)


class Hardshrink(_Shrink):
    """x for |x| > λ, else 0; see ``F.hardshrink``."""

    def forward(self, x: Tensor) -> Tensor:
        return A.hardshrink(x, self.lambd)


def _positive_int(op: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise TinyLMError(f"{op}: {name} must be a positive int, got {value!r:.40}")
    return int(value)


class PReLU(Module):
    """x for x > 0, else a·x with learned slopes ``weight`` (num_parameters,), each starting
    at ``init``: one shared slope, or one per channel (dim 1 of the input). See ``F.prelu``."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.num_parameters = _positive_int("PReLU", "num_parameters", num_parameters)
        self.init = init
        w = creation.full((self.num_parameters,), float(init), dtype=dtype, device=device)
        self.weight = Parameter(w)

    def forward(self, x: Tensor) -> Tensor:
        return A.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class GroupNorm(Module):
    """Group normalisation of (N, C, *) inputs: C channels in ``num_groups`` groups, each
    normalised over its channels and positions, then a per-channel scale ``weight`` (C,)
    starting at 1 and shift ``bias`` (C,) starting at 0. See ``F.group_norm``."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_groups = _positive_int("GroupNorm", "num_groups", num_groups)
        self.num_channels = _positive_int("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise TinyLMError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.eps, self.affine = eps, affine
        c = self.num_channels
        if affine:
            self.weight = Parameter(creation.ones((c,), dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(creation.zeros((c,), dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class PairwiseDistance(Module):
    """‖x1 − x2 + eps‖_p along the last dim: (…, D), (…, D) → (…); see
    ``F.pairwise_distance``."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return distances.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """cos θ between x1 and x2 along ``dim``; see ``F.cosine_similarity``."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return cosine_similarity(x1, x2, self.dim, self.eps)
