"""More of PyTorch's activations: log σ, the hard (piecewise-linear) ones, SELU/CELU, Mish,
the shrinks, threshold, softmin, GLU, PReLU, and the Gumbel-softmax sampler.

Shapes: any input → an output of the same shape, except ``glu`` (halves ``dim``).
Each activation that is not a short composition of Tensor ops is a Function right above its
wrapper, with its derivative in the docstring. At a kink the gradient is PyTorch's one-sided
choice (written next to each). The activations that PyTorch computes only in floating point
refuse integer tensors in one line; ``relu6``, ``hardtanh`` and ``threshold`` keep an integer
tensor's dtype, and ``softsign``/``tanhshrink`` give float32 for one, as PyTorch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm import ops
from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module, device_of, to_device_array
from tinylm.nn.functional.common import check_not_inplace, check_same_dtype
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = [
    "celu",
    "glu",
    "gumbel_softmax",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "logsigmoid",
    "mish",
    "prelu",
    "relu6",
    "selu",
    "softmin",
    "softshrink",
    "softsign",
    "tanhshrink",
    "threshold",
]

#: SELU's constants (Klambauer et al., 2017): y = λ x for x > 0, else λ α (eˣ − 1).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _tensor(op: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    return input


def _float(op: str, input: Any) -> Tensor:
    """``input`` if it is a floating-point Tensor (PyTorch has no integer kernel for ``op``)."""
    if not np.issubdtype(_tensor(op, input).dtype, np.floating):
        raise TinyLMError(f"{op}: input must be floating point, got {input.dtype}")
    return input


def _number(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TinyLMError(f"{op}: {name} must be a number, got {value!r:.60}")
    return float(value)


# ---------------------------------------------------------------------------------------
# log σ
# ---------------------------------------------------------------------------------------


class _LogSigmoid(Function):
    """y = log σ(x) = −log(1 + e^{−x}), computed as min(x, 0) − log(1 + e^{−|x|}): the
    exponent is never positive, so y is finite and exact for any x (y ≈ x for x ≪ 0,
    y ≈ −e^{−x} for x ≫ 0). dy/dx = 1 − σ(x) = σ(−x)."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = array_module(x)
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        return g * ops.sigmoid_array(-x)


def logsigmoid(input: Tensor) -> Tensor:
    """log σ(x), stable for large |x| (the log-likelihood term of DPO-style losses:
    ``-F.logsigmoid(beta * margin)``); dy/dx = σ(−x)."""
    return _LogSigmoid.apply(_float("logsigmoid", input))


# ---------------------------------------------------------------------------------------
# The piecewise-linear ones: hardtanh, relu6, threshold, hardsigmoid, hardswish
# ---------------------------------------------------------------------------------------


class _Hardtanh(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 for lo < x < hi, else 0 (0 at x = lo and at
    x = hi, as PyTorch)."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, lo: float, hi: float) -> Any:
        xp = array_module(x)
        ctx.inside = (x > lo) & (x < hi)
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).where(ctx.inside, g, g.dtype.type(0))


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """Hardtanh(x) = x clamped to [min_val, max_val]; gradient 1 strictly inside, else 0."""
    check_not_inplace("hardtanh", inplace)
    lo = _number("hardtanh", "min_val", min_val)
    hi = _number("hardtanh", "max_val", max_val)
    if lo > hi:
        raise TinyLMError(f"hardtanh: min_val ({lo}) cannot be greater than max_val ({hi})")
    return _Hardtanh.apply(_tensor("hardtanh", input), lo=lo, hi=hi)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """ReLU6(x) = min(max(x, 0), 6) = hardtanh(x, 0, 6) (MobileNet's); gradient 1 for
    0 < x < 6, else 0."""
    check_not_inplace("relu6", inplace)
    return _Hardtanh.apply(_tensor("relu6", input), lo=0.0, hi=6.0)


class _Threshold(Function):
    """y = x where x > t, else v;  dy/dx = 1 where x > t, else 0."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, threshold: float, value: float) -> Any:
        xp = array_module(x)
        ctx.above = x > threshold
        return xp.where(ctx.above, x, xp.asarray(value).astype(x.dtype))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).where(ctx.above, g, g.dtype.type(0))


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """Threshold(x) = x where x > ``threshold``, else ``value``."""
    check_not_inplace("threshold", inplace)
    t = _number("threshold", "threshold", threshold)
    v = _number("threshold", "value", value)
    return _Threshold.apply(_tensor("threshold", input), threshold=t, value=v)


class _Hardsigmoid(Function):
    """y = min(max(x + 3, 0), 6) / 6;  dy/dx = 1/6 for −3 < x < 3, else 0."""

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = array_module(x)
        ctx.inside = (x > -3) & (x < 3)
        return xp.clip(x + 3, 0, 6) / x.dtype.type(6)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).where(ctx.inside, g / g.dtype.type(6), g.dtype.type(0))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardsigmoid(x) = relu6(x + 3) / 6, a piecewise-linear σ (MobileNetV3's)."""
    check_not_inplace("hardsigmoid", inplace)
    return _Hardsigmoid.apply(_float("hardsigmoid", input))


class _Hardswish(Function):
    """y = x · min(max(x + 3, 0), 6) / 6;  dy/dx = 0 for x ≤ −3, x/3 + ½ for −3 < x < 3,
    1 for x ≥ 3 (PyTorch's one-sided values at ±3)."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = array_module(x)
        ctx.save_for_backward(x)
        return x * xp.clip(x + 3, 0, 6) / x.dtype.type(6)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        xp, t = array_module(x), x.dtype.type
        slope = xp.where(x <= -3, t(0), xp.where(x < 3, x / t(3) + t(0.5), t(1)))
        return g * slope


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardswish(x) = x · relu6(x + 3) / 6, a piecewise-polynomial SiLU (MobileNetV3's)."""
    check_not_inplace("hardswish", inplace)
    return _Hardswish.apply(_float("hardswish", input))


# ---------------------------------------------------------------------------------------
# SELU, CELU, Mish, and two compositions: softsign, tanhshrink
# ---------------------------------------------------------------------------------------


class _ScaledELU(Function):
    """PyTorch's general ELU, with scale s, α and input scale c:
        y = s x for x > 0,  else s α (e^{c x} − 1);
        dy/dx = s for x > 0, else s α c e^{c x}   (the second at x = 0, as PyTorch).
    SELU is s = λ, α = α_SELU, c = 1; CELU(α) is s = 1, c = 1/α."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, *, scale: float, alpha: float, input_scale: float) -> Any:
        xp, t = array_module(x), x.dtype.type
        positive = x > 0
        e = xp.exp(xp.minimum(x, 0) * t(input_scale))  # only x ≤ 0 is exponentiated
        ctx.save_for_backward(e)
        ctx.positive = positive
        ctx.slopes = (t(scale), t(scale * alpha * input_scale))
        return xp.where(positive, x * t(scale), t(scale * alpha) * (e - 1))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (e,) = ctx.saved_arrays
        pos_slope, neg_slope = ctx.slopes
        return array_module(g).where(ctx.positive, g * pos_slope, g * (neg_slope * e))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """SELU(x) = λ x for x > 0, else λ α (eˣ − 1), λ ≈ 1.0507, α ≈ 1.6733: the
    self-normalising activation (unit mean and variance are a fixed point)."""
    check_not_inplace("selu", inplace)
    return _ScaledELU.apply(
        _float("selu", input), scale=SELU_SCALE, alpha=SELU_ALPHA, input_scale=1.0
    )


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """CELU(x) = x for x > 0, else α (e^{x/α} − 1): an ELU whose slope at 0⁻ is 1 for any α."""
    check_not_inplace("celu", inplace)
    a = _number("celu", "alpha", alpha)
    if a == 0:
        raise TinyLMError("celu: alpha cannot be 0 (the function divides by it)")
    return _ScaledELU.apply(_float("celu", input), scale=1.0, alpha=a, input_scale=1.0 / a)


class _Mish(Function):
    """y = x tanh(sp(x)), sp(x) = log(1 + eˣ) (computed as max(x, 0) + log(1 + e^{−|x|}));
    dy/dx = tanh(sp) + x (1 − tanh²(sp)) σ(x), since sp'(x) = σ(x)."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any) -> Any:
        xp = array_module(x)
        t = xp.tanh(xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x))))
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, t = ctx.saved_arrays
        return g * (t + x * (1 - t * t) * ops.sigmoid_array(x))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """Mish(x) = x · tanh(softplus(x)) (YOLOv4's); smooth, ≈ x for large x, → 0⁻ for x ≪ 0."""
    check_not_inplace("mish", inplace)
    return _Mish.apply(_float("mish", input))


def softsign(input: Tensor) -> Tensor:
    """Softsign(x) = x / (1 + |x|), a slow-saturating tanh; dy/dx = 1 / (1 + |x|)². A
    composition of Tensor ops (as PyTorch's), so autograd derives the gradient."""
    input = _tensor("softsign", input)
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """Tanhshrink(x) = x − tanh(x); dy/dx = tanh²(x). A composition of Tensor ops."""
    input = _tensor("tanhshrink", input)
    return input - input.tanh()


# ---------------------------------------------------------------------------------------
# The shrinks
# ---------------------------------------------------------------------------------------


class _Shrink(Function):
    """With λ: y = 0 for −λ ≤ x ≤ λ, else x (hard) or x − sign(x) λ (soft);
    dy/dx = 0 for −λ ≤ x ≤ λ (both ends included, as PyTorch), else 1."""

    @staticmethod
    def forward(ctx: Context, x: Any, *, lambd: float, soft: bool) -> Any:
        xp, t = array_module(x), x.dtype.type
        inside = (x >= -lambd) & (x <= lambd)
        ctx.inside = inside
        outside = x - xp.sign(x) * t(lambd) if soft else x
        return xp.where(inside, t(0), outside)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return array_module(g).where(ctx.inside, g.dtype.type(0), g)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Softshrink(x) = x − λ for x > λ, x + λ for x < −λ, else 0 (soft thresholding, the
    proximal step of an L1 penalty). λ must be ≥ 0."""
    lam = _number("softshrink", "lambd", lambd)
    if lam < 0:
        raise TinyLMError(f"softshrink: lambd must be ≥ 0, got {lam}")
    return _Shrink.apply(_float("softshrink", input), lambd=lam, soft=True)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Hardshrink(x) = x for |x| > λ, else 0 (0 at x = ±λ)."""
    lam = _number("hardshrink", "lambd", lambd)
    return _Shrink.apply(_float("hardshrink", input), lambd=lam, soft=False)


# ---------------------------------------------------------------------------------------
# softmin, GLU, PReLU
# ---------------------------------------------------------------------------------------


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """softmin(x) = softmax(−x) along ``dim`` (which must be given, as ``F.softmax``'s);
    ``dtype`` converts the input first. Its gradient is softmax's, through the negation."""
    input = _tensor("softmin", input)
    if dim is None:
        raise TinyLMError("softmin: pass dim (PyTorch's implicit choice of axis is deprecated)")
    if dtype is None:
        _float("softmin", input)
    return (-input).softmax(dim, dtype)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """GLU(x) = a ⊗ σ(b), where a and b are the first and second halves of x along ``dim``.
    Shapes: (…, 2k, …) → (…, k, …). A composition of chunk, sigmoid and multiply:
    dL/da = g σ(b), dL/db = g a σ(b)(1 − σ(b))."""
    input = _float("glu", input)
    if input.ndim == 0:
        raise TinyLMError("glu: does not take a 0-d tensor (its halving dim must be even)")
    (axis,) = ops.normalize_axis(dim, input.ndim, "glu")
    if input.shape[axis] % 2:
        raise TinyLMError(
            f"glu: the halving dim must be even, but dim {dim} of {tuple(input.shape)} has size "
            f"{input.shape[axis]}"
        )
    a, b = input.chunk(2, axis)
    return a * b.sigmoid()


class _PReLU(Function):
    """y = x for x > 0, else w·x, with one slope w per channel (or one for all).

    Shapes: x (N, C, *) or any shape when w has one element; w (C,) or (1,) (or 0-d),
    broadcast along dim 1 of x. dL/dx = g for x > 0, else w g;
    dL/dw_c = Σ over x's elements of channel c with x ≤ 0 of x g.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, w: Any) -> Any:
        xp = array_module(x)
        if w.size == 1:
            wb = w.reshape(())
        else:
            wb = w.reshape((1, w.size) + (1,) * (x.ndim - 2))
        positive = x > 0
        ctx.save_for_backward(x, wb)
        ctx.positive, ctx.w_shape = positive, w.shape
        return xp.where(positive, x, wb * x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        x, wb = ctx.saved_arrays
        xp = array_module(g)
        zero = g.dtype.type(0)
        gx = xp.where(ctx.positive, g, wb * g) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            per_element = xp.where(ctx.positive, zero, x * g)
            if wb.ndim == 0:
                gw = per_element.sum().reshape(ctx.w_shape)
            else:
                axes = tuple(i for i in range(x.ndim) if i != 1)
                gw = per_element.sum(axis=axes).reshape(ctx.w_shape)
        return gx, gw


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """PReLU(x) = x for x > 0, else weight·x, with learned slopes: ``weight`` has one element
    (shared) or one per channel (dim 1 of ``input``; an input of fewer than 2 dims has
    one channel). See :class:`_PReLU`."""
    input = _float("prelu", input)
    if not isinstance(weight, Tensor):
        raise TinyLMError(f"prelu: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim > 1:
        raise TinyLMError(
            f"prelu: weight must be a scalar or 1-D tensor, got shape {tuple(weight.shape)}"
        )
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise TinyLMError(
            f"prelu: weight has {weight.numel()} slopes but the input {tuple(input.shape)} has "
            f"{channels} channels (dim 1); give 1 or {channels}"
        )
    check_same_dtype("prelu", input=input, weight=weight)
    return _PReLU.apply(input, weight)


# ---------------------------------------------------------------------------------------
# Gumbel-softmax
# ---------------------------------------------------------------------------------------


class _StraightThrough(Function):
    """Forward: the constant ``hard`` (here a one-hot); backward: the gradient passes to
    ``soft`` unchanged (dL/dsoft = g). The straight-through estimator, as PyTorch's
    ``hard - soft.detach() + soft`` but with ``hard`` exactly, not up to rounding."""

    @staticmethod
    def forward(ctx: Context, soft: Any, *, hard: Any) -> Any:
        return hard

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g


def gumbel_softmax(
    logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """A differentiable sample from the categorical distribution softmax(logits) along
    ``dim``: y = softmax((logits + G) / tau), G = −log(E), E ~ Exponential(1) (Gumbel(0, 1)
    noise, drawn from ``tinylm.default_generator``). argmax(y) is an exact sample; as
    tau → 0, y approaches that one-hot.

    ``hard=True`` returns the one-hot of argmax(y) in the forward pass while the gradient
    is the soft y's (straight-through). ``eps`` is deprecated in PyTorch and does nothing
    there: only its default is accepted. Shapes: any → the logits' shape.
    """
    logits = _float("gumbel_softmax", logits)
    if eps != 1e-10:
        raise TinyLMError("gumbel_softmax: eps is deprecated in PyTorch and has no effect; omit it")
    t = _number("gumbel_softmax", "tau", tau)
    if logits.ndim == 0:
        raise TinyLMError("gumbel_softmax: logits must have at least one dim, got 0-d")
    (axis,) = ops.normalize_axis(dim, logits.ndim, "gumbel_softmax")
    noise = -np.log(default_generator.numpy.exponential(size=logits.shape))
    gumbels = Tensor._wrap(to_device_array(noise.astype(logits.dtype), device_of(logits.data)))
    y_soft = ((logits + gumbels) / t).softmax(axis)
    if not hard:
        return y_soft
    xp = array_module(y_soft.data)
    index = xp.expand_dims(y_soft.data.argmax(axis=axis), axis)
    one_hot = xp.zeros(y_soft.shape, dtype=y_soft.dtype)
    xp.put_along_axis(one_hot, index, 1, axis=axis)
    return _StraightThrough.apply(y_soft, hard=one_hot)
