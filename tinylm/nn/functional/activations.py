"""Activations: ReLU, softmax, log-softmax, GELU.

softmax and log-softmax are ops of the Tensor (``tinylm.ops.Softmax``/``LogSoftmax``, kernels
in the registry); GELU's Function sits right above its wrapper.
"""

from __future__ import annotations

from typing import Any

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.nn.functional.common import kernel
from tinylm.tensor import Tensor

__all__ = ["GELU_FORMS", "gelu", "log_softmax", "relu", "softmax"]

#: The two forms of GELU (``approximate=``) and the registry kernel that computes each.
GELU_FORMS = {"none": "gelu_exact", "tanh": "gelu"}


def relu(input: Tensor) -> Tensor:
    """ReLU(x) = max(x, 0); its derivative is 1 for x > 0 and 0 otherwise."""
    return input.relu()


def _check_dim(op: str, dim: int | None) -> None:
    if dim is None:  # PyTorch then picks an axis by the input's rank, with a warning
        raise TinyLMError(f"{op}: pass dim (PyTorch's implicit choice of axis is deprecated)")


def softmax(input: Tensor, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """softmax(x)_i = e^{x_i − m} / Σ_j e^{x_j − m} along ``dim``, with m = max_j x_j.

    Subtracting m keeps every exponent ≤ 0 (no overflow) and cancels in the ratio.
    ``dtype`` converts the input first (as in PyTorch). Backward:
    dL/dx_i = p_i (g_i − Σ_j g_j p_j). The op is :class:`tinylm.ops.Softmax`.
    """
    _check_dim("softmax", dim)
    return input.softmax(dim, dtype)  # Tensor.softmax: the dtype conversion, then the op


def log_softmax(input: Tensor, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """log softmax(x)_i = x_i − m − log Σ_j e^{x_j − m} (the log-sum-exp trick).

    Unlike ``log(softmax(x))`` this never takes the log of an underflowed 0, so it stays
    finite for logits of any size. Backward: dL/dx_i = g_i − p_i Σ_j g_j. The op is
    :class:`tinylm.ops.LogSoftmax`.
    """
    _check_dim("log_softmax", dim)
    return input.log_softmax(dim, dtype)  # Tensor.log_softmax: the dtype conversion, then the op


class _GELU(Function):
    """GELU, in one of two forms. Shapes: any; y has the shape of x.

    exact (``approximate="none"``), with Φ the standard normal CDF and φ = Φ' its density:
        y = x Φ(x) = ½ x (1 + erf(x/√2)),    dy/dx = Φ(x) + x φ(x),  φ(x) = e^(−x²/2)/√(2π).
    tanh (``approximate="tanh"``), with u = √(2/π) (x + 0.044715 x³):
        y = ½ x (1 + tanh u),
        dy/dx = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3·0.044715 x²).

    Readable: ``kernels/reference.py: gelu_exact_forward/backward`` and
    ``gelu_forward/backward`` (tanh); fast: ``kernels/numba/elementwise.py`` (CPU),
    ``kernels/cuda/gelu.cu`` (GPU).
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, approximate: str) -> Any:
        ctx.save_for_backward(x)
        ctx.kernel = GELU_FORMS[approximate]
        return kernel(ctx.kernel + "_forward", x)(x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        return kernel(ctx.kernel + "_backward", x)(x, g)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Φ(x), Φ the standard normal CDF; as in PyTorch, ``approximate="tanh"``
    gives ½ x (1 + tanh(√(2/π)(x + 0.044715 x³))) instead, the form GPT-2 uses.

    The two differ by at most ~5e-4 (near x = ±2). Both kernels vectorise on the CPU: one
    ``exp`` per element for tanh, a polynomial ``erf`` (``kernels/numba/jit.py: fast_erf``,
    ≤ 2 ulp in float32) for the exact form.
    """
    if approximate not in GELU_FORMS:
        raise TinyLMError(
            f"gelu: approximate must be 'none' or 'tanh', got approximate={approximate!r}"
        )
    if input.dtype.kind != "f":  # PyTorch has no integer GELU kernel either
        raise TinyLMError(f"gelu: needs a floating-point tensor, got {input.dtype}")
    return _GELU.apply(input, approximate=approximate)
