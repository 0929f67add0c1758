"""Activations: ReLU, tanh, sigmoid, softmax, log-softmax, GELU, SiLU, leaky ReLU,
softplus, ELU.

softmax and log-softmax are ops of the Tensor (``tinylm.ops.Softmax``/``LogSoftmax``, kernels
in the registry), and so are tanh and σ; each other activation's Function sits right above its
wrapper, with its derivative in the docstring.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm import ops
from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.kernels.policy import gelu_keeps_derivative
from tinylm.memory_formats import inverse_axes, preserving_axes
from tinylm.nn.functional.common import check_not_inplace, kernel
from tinylm.tensor import Tensor

__all__ = [
    "GELU_FORMS",
    "elu",
    "gelu",
    "leaky_relu",
    "log_softmax",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]

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

    A training step on the CPU computes dy/dx in the forward's pass and keeps it
    (``policy.gelu_keeps_derivative``): the backward is then one multiply, written into g
    itself when the engine owns g (``Context.grad_is_scratch``: the output of the next
    layer's matrix product, in a transformer's MLP), which saves a new array and its writes.

    Readable: ``kernels/reference.py: gelu_exact_forward/backward`` and
    ``gelu_forward/backward`` (tanh); fast: ``kernels/numba/elementwise.py`` (CPU),
    ``kernels/cuda/gelu.cu`` (GPU).
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(ctx: Context, x: Any, *, approximate: str) -> Any:
        ctx.kernel = GELU_FORMS[approximate]
        # the kernels take C order: a permuted x is handed over in its memory order (no copy
        # when dense) and y turned back, so y lies as x does, as PyTorch's element-wise ops
        ctx.axes = axes = preserving_axes(x)
        if axes is not None:
            x = x.transpose(axes)
        # training on the CPU: the forward writes dy/dx too, and the backward is g * dy/dx
        keep = ctx.needs_input_grad[0] and gelu_keeps_derivative(x)
        derivative = array_module(x).empty(x.shape, x.dtype) if keep else None
        ctx.save_for_backward(x, derivative)
        y = kernel(ctx.kernel + "_forward", x)(x, derivative=derivative)
        if axes is None:
            return y
        ctx.undo = inverse_axes(axes)
        return y.transpose(ctx.undo)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, derivative = ctx.saved_arrays
        axes = ctx.axes
        if axes is not None:
            g = g.transpose(axes)  # into the forward's axis order
        if derivative is not None and ctx.grad_is_scratch and _fits(g, derivative):
            # dL/dx = g · dy/dx into g's own memory: no new array to allocate and fill
            np.multiply(g, derivative, out=g)
            gx = g
        else:
            gx = kernel(ctx.kernel + "_backward", x)(x, g, derivative=derivative)
        return gx if axes is None else gx.transpose(ctx.undo)


def _fits(g: Any, like: Any) -> bool:
    """Can ``g`` take an element-wise result shaped like ``like`` in place?"""
    return (
        type(g) is np.ndarray
        and g.shape == like.shape
        and g.dtype == like.dtype
        and g.flags.writeable
    )


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


def tanh(input: Tensor) -> Tensor:
    """tanh(x) = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ); its derivative is 1 − tanh²(x)
    (:class:`tinylm.ops.Tanh`)."""
    return input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    """σ(x) = 1/(1 + e⁻ˣ), without overflow for large |x|; σ' = σ(1 − σ)
    (:class:`tinylm.ops.Sigmoid`)."""
    return input.sigmoid()


def _check_float(op: str, input: Tensor) -> None:
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if not np.issubdtype(input.dtype, np.floating):
        raise TinyLMError(f"{op}: input must be floating point, got {input.dtype}")


class _SiLU(Function):
    """SiLU (swish): y = x σ(x);  dy/dx = σ(x) (1 + x (1 − σ(x))). Shapes: any → same."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        s = ops.sigmoid_array(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, s = ctx.saved_arrays
        return g * (s * (1 + x * (1 - s)))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU(x) = x σ(x) (the swish of LLaMA's MLP); derivative σ(x)(1 + x(1 − σ(x)))."""
    check_not_inplace("silu", inplace)
    _check_float("silu", input)
    return _SiLU.apply(input)


class _LeakyReLU(Function):
    """y = x for x > 0, else s·x;  dy/dx = 1 for x > 0, else s (s at x = 0, as PyTorch)."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, slope: float) -> Any:
        positive = x > 0
        ctx.positive, ctx.slope = positive, slope
        return array_module(x).where(positive, x, x * x.dtype.type(slope))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).where(ctx.positive, g, g * g.dtype.type(ctx.slope))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """LeakyReLU(x) = x for x > 0, else ``negative_slope``·x: negative inputs keep a small
    gradient instead of none."""
    check_not_inplace("leaky_relu", inplace)
    _check_float("leaky_relu", input)
    return _LeakyReLU.apply(input, slope=_number("leaky_relu", "negative_slope", negative_slope))


def _number(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TinyLMError(f"{op}: {name} must be a number, got {value!r:.60}")
    return float(value)


class _Softplus(Function):
    """y = log(1 + e^{βx}) / β, and y = x where βx > threshold (there the two agree to
    rounding, and e^{βx} could overflow). Computed as max(βx, 0) + log1p(e^{−|βx|}), finite
    for any x. dy/dx = σ(βx), and 1 where βx > threshold."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, beta: float, threshold: float) -> Any:
        xp = array_module(x)
        bx = x * x.dtype.type(beta)
        linear = bx > threshold
        with np.errstate(over="ignore", invalid="ignore"):
            soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / x.dtype.type(beta)
        ctx.save_for_backward(bx)
        ctx.linear = linear
        return xp.where(linear, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (bx,) = ctx.saved_arrays
        return array_module(g).where(ctx.linear, g, g * ops.sigmoid_array(bx))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Softplus(x) = log(1 + e^{βx}) / β, a smooth ReLU; linear (= x) where βx > threshold,
    as in PyTorch. Its derivative is σ(βx)."""
    _check_float("softplus", input)
    beta = _number("softplus", "beta", beta)
    if beta == 0:
        raise TinyLMError("softplus: beta must be non-zero (the function divides by it)")
    return _Softplus.apply(input, beta=beta, threshold=_number("softplus", "threshold", threshold))


class _ELU(Function):
    """y = x for x > 0, else α(eˣ − 1);  dy/dx = 1 for x > 0, else α eˣ (α at x = 0, as
    PyTorch)."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, alpha: float) -> Any:
        xp = array_module(x)
        positive = x > 0
        a = x.dtype.type(alpha)
        e = xp.exp(xp.minimum(x, 0))  # no overflow: the exponential only of x ≤ 0
        ctx.save_for_backward(e)
        ctx.positive, ctx.alpha = positive, a
        return xp.where(positive, x, a * (e - 1))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (e,) = ctx.saved_arrays
        return array_module(g).where(ctx.positive, g, g * (ctx.alpha * e))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """ELU(x) = x for x > 0, else α(eˣ − 1): smooth at 0 for α = 1, saturating at −α."""
    check_not_inplace("elu", inplace)
    _check_float("elu", input)
    return _ELU.apply(input, alpha=_number("elu", "alpha", alpha))
