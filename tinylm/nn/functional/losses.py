"""Losses: cross-entropy, negative log-likelihood, the binary cross-entropies, MSE, L1,
smooth L1 and Huber, KL divergence.

Each loss is a Function whose backward is the gradient derived on paper (e.g. the fused
(softmax − onehot)/N of the cross-entropy), right above its public wrapper.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm import ops
from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.kernels.policy import cross_entropy_keeps_probs
from tinylm.nn.functional.common import (
    as_array,
    check_probability,
    check_reduction,
    check_same_dtype,
    kernel,
    reduce_loss_array,
)
from tinylm.nn.functional.mixed_dtype_losses import (
    bce_with_logits_in_target_dtype,
    mixed_floats,
    promoted_pair,
    reduced,
)
from tinylm.nn.functional.weighted_losses import (
    is_float_target,
    soft_or_weighted_cross_entropy,
    weighted_nll_loss,
)
from tinylm.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]


def _unreduce(g: Any, shape: tuple[int, ...], reduction: str) -> Any:
    """dL/d(elementwise loss) from dL/d(reduced loss): 1/n each for a mean, 1 for a sum."""
    if reduction == "none":
        return g
    xp = array_module(g)
    if reduction == "mean":
        g = g / max(math.prod(shape), 1)
    return xp.broadcast_to(g, shape)


def _classes_last(op: str, input: Tensor) -> Tensor:
    """PyTorch's layouts of class scores — (C,), (N, C), or (N, C, d1, d2, …) with the class
    axis second — as (…, C): the class axis moved last, where the kernels want it."""
    if input.ndim < 1 or input.shape[1 if input.ndim > 1 else 0] == 0:
        raise TinyLMError(
            f"{op}: input must be class scores (C,), (N, C) or (N, C, d1, …), got shape "
            f"{input.shape} {input.dtype}"
        )
    if input.ndim <= 2:
        return input
    return input.permute(0, *range(2, input.ndim), 1)


def _class_targets(op: str, target: Any, logits: Any, ignore_index: int, shape: Any) -> Any:
    """Check integer class targets against the class-last ``logits`` (their shape is
    logits.shape[:-1]); return them flat, int64. ``shape`` is the input's own shape."""
    t = as_array(op, target, logits, "target")
    xp = array_module(t)
    if t.dtype.kind not in "iu":  # (the dtype's kind: cheaper than np.issubdtype)
        raise TinyLMError(
            f"{op}: target must hold integer class indices, got dtype {t.dtype} "
            f"(shape {t.shape}); class probabilities are not supported"
        )
    if t.dtype not in (np.int64, np.uint8):  # PyTorch's two: Long or Byte
        raise TinyLMError(
            f"{op}: target dtype must be int64 or uint8, as in PyTorch, got {t.dtype} (shape "
            f"{t.shape}); convert with target.long()"
        )
    if t.shape != logits.shape[:-1]:
        raise TinyLMError(
            f"{op}: target shape {t.shape} does not match input {tuple(shape)} {logits.dtype}: "
            f"the class axis is dim 1 (as in PyTorch), so target must have shape "
            f"{logits.shape[:-1]}; for scores with the classes last, pass "
            f"input.reshape(-1, C) and target.reshape(-1)"
        )
    t = t.reshape(-1).astype(np.int64, copy=False)
    n_classes = logits.shape[-1]
    # the common case, in one comparison: read as uint64, a negative int64 is ≥ 2^63
    if bool((t.view(np.uint64) < n_classes).all()):
        return t
    bad = ((t < 0) | (t >= n_classes)) & (t != ignore_index)
    if bool(bad.any()):
        value = int(t[xp.flatnonzero(bad)[0]])
        raise TinyLMError(
            f"{op}: target value {value} is out of range for {n_classes} classes "
            f"(valid: 0 … {n_classes - 1}, or ignore_index={ignore_index})"
        )
    return t


class _CrossEntropy(Function):
    """Softmax cross-entropy of logits against integer targets, fused.

    For row i with logits x_i (C,) and target t_i:
        loss_i = −log softmax(x_i)[t_i] = lse_i − x_i[t_i],   lse_i = log Σ_j e^{x_ij}
    and, for the mean over the N non-ignored rows, the famous fused gradient
        dL/dx_i = (softmax(x_i) − onehot(t_i)) / N.
    With label smoothing ε the target is (1 − ε)·onehot + ε/C, so
        loss_i = (1 − ε)(lse_i − x_i[t_i]) + ε (lse_i − mean_j x_ij),
        dL/dx_i = softmax(x_i) − (1 − ε) onehot(t_i) − ε/C   (per row, before reduction).
    The (N,) vector lse is saved, and softmax(x) itself while it is small
    (``policy.cross_entropy_keeps_probs``); otherwise backward recomputes it from lse. A
    mean or a sum without label smoothing needs no softmax at all: the forward writes the
    whole gradient for an upstream g = 1, (softmax(x) − onehot)·s with s = 1/N (mean) or 1
    (sum), and backward returns it (times g when g ≠ 1: dL/dx = g·that, by the chain rule).

    Readable: ``kernels/reference.py: cross_entropy_forward/backward``; fast:
    ``kernels/numba/rowwise.py`` (CPU), ``kernels/cuda/cross_entropy.cu`` (GPU). Label
    smoothing's extra terms are written out here.
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(
        ctx: Context,
        logits: Any,
        *,
        target: Any,
        ignore_index: int,
        reduction: str,
        label_smoothing: float,
    ) -> Any:
        xp = array_module(logits)
        x2 = logits.reshape(-1, logits.shape[-1])
        valid = target != ignore_index
        n_valid = int(xp.count_nonzero(valid))
        # the forward's by-product for the backward, while it is small
        # (policy.cross_entropy_keeps_probs): the unit gradient, else softmax(x), else nothing
        probs = dlogits = None
        if ctx.needs_input_grad[0] and cross_entropy_keeps_probs(x2):
            buffer = xp.empty(x2.shape, x2.dtype)
            if reduction == "none" or label_smoothing:
                probs = buffer
            else:
                dlogits = buffer
        # s rounded to the logits' dtype, as the backward's g / n_valid would be
        one = x2.dtype.type(1)
        scale = one / x2.dtype.type(max(n_valid, 1)) if reduction == "mean" else one
        loss, lse = kernel("cross_entropy_forward", x2)(
            x2, target, ignore_index, probs=probs, dlogits=dlogits, grad_scale=scale
        )
        if label_smoothing:
            eps = label_smoothing
            smooth = xp.where(valid, lse - x2.mean(axis=-1), x2.dtype.type(0))
            loss = (1 - eps) * loss + eps * smooth
        ctx.save_for_backward(x2, lse, probs)
        ctx.unit_grad, ctx.unit_kept, ctx.scale = dlogits, dlogits is not None, scale
        ctx.meta = (logits.shape, target, ignore_index, reduction, label_smoothing, n_valid)
        if reduction == "none":
            return loss.reshape(logits.shape[:-1])
        total = loss.sum()
        if reduction == "mean":
            # PyTorch's convention: 0 targets → NaN (0/0), rather than a silent 0
            total = total / n_valid if n_valid else xp.nan
        return xp.asarray(total, dtype=logits.dtype)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x2, lse, probs = ctx.saved_arrays
        shape, target, ignore_index, reduction, eps, n_valid = ctx.meta
        if ctx.unit_kept:
            return _CrossEntropy._scaled_unit_grad(ctx, g).reshape(shape)
        xp = array_module(g)
        n = x2.shape[0]
        if reduction == "none":
            grad_rows = g.reshape(-1)
        else:
            scale = g / max(n_valid, 1) if reduction == "mean" else g
            # a filled row rather than a broadcast view: the kernel would copy the view anyway
            grad_rows = xp.empty((n,), dtype=x2.dtype)
            grad_rows[...] = scale  # (scale is a 0-d array, on the GPU a CuPy one)
        if not eps:
            backward = kernel("cross_entropy_backward", x2)
            d = backward(x2, target, lse, grad_rows, ignore_index, probs=probs)
            return d.reshape(shape)
        # label smoothing: the reference formula, written out in numpy/cupy
        valid = target != ignore_index
        d = xp.exp(x2 - lse[:, None]) if probs is None else probs.copy()
        d[xp.arange(n), xp.where(valid, target, 0)] -= x2.dtype.type(1 - eps) * valid
        d -= x2.dtype.type(eps / x2.shape[1])
        d *= xp.where(valid, grad_rows, x2.dtype.type(0))[:, None]
        return d.reshape(shape)

    @staticmethod
    def _scaled_unit_grad(ctx: Context, g: Any) -> Any:
        """g · (the forward's unit gradient (softmax − onehot)·s): taken from ctx, so that the
        engine may keep it or add into it (``fresh_grads``); a second backward through a
        retained graph has the forward kernel write it again, the same numbers."""
        d, ctx.unit_grad = ctx.unit_grad, None
        if d is None:
            x2, target, ignore_index = ctx.saved_arrays[0], ctx.meta[1], ctx.meta[2]
            d = array_module(x2).empty(x2.shape, x2.dtype)
            kernel("cross_entropy_forward", x2)(
                x2, target, ignore_index, dlogits=d, grad_scale=ctx.scale
            )
        if g != 1:
            d *= g
        return d


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits and integer class targets (softmax + NLL, fused).

    loss_i = −log softmax(x_i)[t_i] = log Σ_j e^{x_ij} − x_i[t_i], reduced over the rows.

    Args:
        input: logits (C,), (N, C), or (N, C, d1, d2, …) with the class axis second, as in
            PyTorch. A language model's (B, T, V) logits go in as ``logits.reshape(-1, V)``
            with ``targets.reshape(-1)``.
        target: integer class indices: (), (N,) or (N, d1, d2, …); or class probabilities,
            floating point, of the input's shape (see ``weighted_losses.py``).
        weight: per-class weights (C,), as PyTorch's; weighted or probability targets are
            computed in ``weighted_losses.py``, the plain case by the fused kernel here.
        ignore_index: targets equal to it contribute nothing (no loss, no gradient).
        reduction: "mean" (over the non-ignored targets), "sum" or "none" (shape of target).
        label_smoothing: ε in [0, 1]: the target distribution is (1 − ε)·onehot + ε/C.
        size_average, reduce: PyTorch's deprecated reduction flags, in PyTorch's places so
            that positional arguments line up; not supported (a clear error when given).
    """
    check_reduction("cross_entropy", reduction, size_average, reduce)
    if weight is not None or is_float_target(target):  # class weights or probabilities
        return soft_or_weighted_cross_entropy(
            input, target, weight, ignore_index, reduction, label_smoothing
        )
    eps = check_probability("cross_entropy", label_smoothing, "label_smoothing")
    logits = _classes_last("cross_entropy", input)
    t = _class_targets("cross_entropy", target, logits.data, ignore_index, input.shape)
    return _CrossEntropy.apply(
        logits, target=t, ignore_index=ignore_index, reduction=reduction, label_smoothing=eps
    )


class _NLLLoss(Function):
    """Negative log-likelihood of log-probabilities:  loss_i = −logp_i[t_i].

    dL/dlogp_ij = −grad_i where j = t_i, else 0 (a scatter of −g into the target columns).
    Shapes: logp (..., C), targets (...). Reduction as in cross_entropy.
    """

    @staticmethod
    def forward(ctx: Context, logp: Any, *, target: Any, ignore_index: int, reduction: str):
        xp = array_module(logp)
        x2 = logp.reshape(-1, logp.shape[-1])
        valid = target != ignore_index
        picked = x2[xp.arange(x2.shape[0]), xp.where(valid, target, 0)]
        loss = xp.where(valid, -picked, x2.dtype.type(0))
        n_valid = int(xp.count_nonzero(valid))
        ctx.meta = (logp.shape, target, valid, reduction, n_valid)
        if reduction == "none":
            return loss.reshape(logp.shape[:-1])
        total = loss.sum()
        if reduction == "mean":
            total = total / n_valid if n_valid else xp.nan
        return xp.asarray(total, dtype=logp.dtype)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, target, valid, reduction, n_valid = ctx.meta
        xp = array_module(g)
        n = valid.shape[0]
        if reduction == "none":
            grad_rows = g.reshape(-1)
        else:
            grad_rows = xp.broadcast_to(g / max(n_valid, 1) if reduction == "mean" else g, (n,))
        d = xp.zeros((n, shape[-1]), dtype=g.dtype)
        d[xp.arange(n), xp.where(valid, target, 0)] = xp.where(valid, -grad_rows, 0)
        return d.reshape(shape)


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: loss_i = −input_i[t_i] for log-probabilities ``input``.

    ``cross_entropy(x, t) == nll_loss(log_softmax(x, dim=1), t)``: the same layouts, class
    axis second for (N, C, d1, …). With ``weight`` (C,), loss_i = −w[t_i]·input_i[t_i] and
    "mean" divides by Σ w[t_i] (``weighted_losses.py``).
    """
    check_reduction("nll_loss", reduction, size_average, reduce)
    if weight is not None:  # per-class weights: weighted_losses.py
        return weighted_nll_loss(input, target, weight, ignore_index, reduction)
    logp = _classes_last("nll_loss", input)
    t = _class_targets("nll_loss", target, logp.data, ignore_index, input.shape)
    return _NLLLoss.apply(logp, target=t, ignore_index=ignore_index, reduction=reduction)


class _BinaryCrossEntropy(Function):
    """loss = −w [y log p + (1 − y) log(1 − p)] for probabilities p ∈ [0, 1].

    Each log is clamped at −100 (as PyTorch does) so p = 0 or 1 gives a large, finite loss.
        dL/dp = w (p − y) / (p (1 − p))   (denominator kept ≥ 1e-12)
        dL/dy = −w (log p − log(1 − p))
    """

    @staticmethod
    def forward(ctx: Context, p: Any, y: Any, *, weight: Any, reduction: str) -> Any:
        xp = array_module(p)
        with np.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(p), p.dtype.type(-100))
            log_1mp = xp.maximum(xp.log1p(-p), p.dtype.type(-100))
        loss = -(y * log_p + (1 - y) * log_1mp)
        if weight is not None:  # a weight of another float dtype: PyTorch's in-place mul_
            loss = (loss * weight).astype(p.dtype, copy=False)
        ctx.save_for_backward(p, y)
        ctx.meta = (log_p, log_1mp, weight, reduction, loss.shape)
        return reduce_loss_array(loss, reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        p, y = ctx.saved_arrays
        log_p, log_1mp, weight, reduction, shape = ctx.meta
        xp = array_module(p)
        g = _unreduce(g, shape, reduction)
        if weight is not None:
            g = (g * weight).astype(p.dtype, copy=False)
        gp = g * (p - y) / xp.maximum(p * (1 - p), p.dtype.type(1e-12))
        gy = -g * (log_p - log_1mp) if ctx.needs_input_grad[1] else None
        return gp, gy


def _check_same_shape(op: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise TinyLMError(
            f"{op}: input {a.shape} {a.dtype} and target {b.shape} {b.dtype} must have the "
            "same shape"
        )


def _float_target(op: str, target: Any, input: Tensor, mixed_ok: bool = False) -> Tensor:
    """``target`` as a float Tensor of input's shape; of input's dtype unless ``mixed_ok``
    (then a float target of another dtype passes: see ``mixed_dtype_losses``)."""
    if not isinstance(target, Tensor):
        target = Tensor(as_array(op, target, input.data, "target"))
    if not np.issubdtype(target.dtype, np.floating):
        target = target.to(input.dtype)
    _check_same_shape(op, input, target)
    if not (mixed_ok and mixed_floats(input, target)):
        check_same_dtype(op, input=input.data, target=target.data)
    return target


def binary_cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy of probabilities ``input`` ∈ [0, 1] against ``target`` ∈ [0, 1].

    loss = −w [y log p + (1 − y) log(1 − p)]. Prefer :func:`binary_cross_entropy_with_logits`
    on raw scores: it never computes σ(x) and then the log of a rounded-off 0 or 1.
    """
    check_reduction("binary_cross_entropy", reduction, size_average, reduce)
    target = _float_target("binary_cross_entropy", target, input)
    xp = input._xp
    if input.numel() and (bool((input.data < 0).any()) or bool((input.data > 1).any())):
        raise TinyLMError(
            f"binary_cross_entropy: input must be probabilities in [0, 1] (shape {input.shape}, "
            f"min {float(xp.min(input.data))}, max {float(xp.max(input.data))}); "
            "for raw scores use binary_cross_entropy_with_logits"
        )
    w = None if weight is None else as_array("bce", weight, input.data, "weight")
    return _BinaryCrossEntropy.apply(input, target, weight=w, reduction=reduction)


class _BinaryCrossEntropyWithLogits(Function):
    """Binary cross-entropy on logits x, stable for any |x|.

        loss = max(x, 0) − x y + log(1 + e^{−|x|})
    equals −[y log σ(x) + (1 − y) log(1 − σ(x))], but e^{−|x|} ≤ 1 never overflows and
    log(1 + ·) of it never sees a 0. The fused gradient is simply
        dL/dx = σ(x) − y,        dL/dy = −x.
    With a positive-class weight q (``pos_weight``), loss = (1 − y) x + (1 + (q − 1) y)·sp
    with sp = log(1 + e^{−x}) = log(1 + e^{−|x|}) + max(−x, 0), and
        dL/dx = (1 − y) − (1 + (q − 1) y)(1 − σ(x)),  dL/dy = −x + (q − 1) sp,  dL/dq = y sp.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any, *pos_weight: Any, weight: Any, reduction: str):
        xp = array_module(x)
        softplus_neg = xp.log1p(xp.exp(-xp.abs(x)))  # log(1 + e^{−|x|}) ∈ (0, log 2]
        if pos_weight:
            (q,) = pos_weight
            sp = softplus_neg + xp.maximum(-x, 0)  # log(1 + e^{−x})
            loss = (1 - y) * x + (1 + (q - 1) * y) * sp
            ctx.save_for_backward(x, y, q, sp)
        else:
            loss = xp.maximum(x, 0) - x * y + softplus_neg
            ctx.save_for_backward(x, y)
        if weight is not None:  # a weight of another float dtype: PyTorch's in-place mul_
            loss = (loss * weight).astype(x.dtype, copy=False)
        ctx.meta = (weight, reduction, loss.shape)
        return reduce_loss_array(loss, reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        weight, reduction, shape = ctx.meta
        g = _unreduce(g, shape, reduction)
        if weight is not None:
            g = (g * weight).astype(ctx.saved_arrays[0].dtype, copy=False)
        saved = ctx.saved_arrays
        x, y = saved[0], saved[1]
        sig = ops.sigmoid_array(x)
        if len(saved) == 2:
            return g * (sig - y), (-g * x if ctx.needs_input_grad[1] else None)
        q, sp = saved[2], saved[3]
        gx = g * ((1 - y) - (1 + (q - 1) * y) * (1 - sig))
        gy = g * (-x + (q - 1) * sp) if ctx.needs_input_grad[1] else None
        gq = g * y * sp if ctx.needs_input_grad[2] else None
        return gx, gy, gq


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy on logits: max(x, 0) − x y + log(1 + e^{−|x|}), reduced.

    Args:
        input: logits x, any shape. target: y ∈ [0, 1], same shape.
        weight: optional per-element rescaling (broadcast), no gradient.
        pos_weight: optional weight q of positive examples, broadcast against the last
            axis (one per class), as in PyTorch; it receives a gradient.
    """
    check_reduction("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    target = _float_target("binary_cross_entropy_with_logits", target, input, mixed_ok=True)
    w = None if weight is None else as_array("bce", weight, input.data, "weight")
    if mixed_floats(input, target):  # PyTorch's result then has the target's dtype
        q = pos_weight
        if q is not None and not isinstance(q, Tensor):
            q = Tensor(as_array("bce", q, input.data, "pos_weight"))
        return bce_with_logits_in_target_dtype(input, target, w, q, reduction)
    fn = _BinaryCrossEntropyWithLogits
    if pos_weight is None:
        return fn.apply(input, target, weight=w, reduction=reduction)
    if not isinstance(pos_weight, Tensor):
        pos_weight = Tensor(as_array("bce", pos_weight, input.data, "pos_weight"))
    pos_weight = pos_weight.to(input.dtype)
    return fn.apply(input, target, pos_weight, weight=w, reduction=reduction)


class _MSELoss(Function):
    """Mean squared error  L = (1/n) Σ (x − y)²;  dL/dx = 2 (x − y) / n,  dL/dy = −dL/dx."""

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any, *, reduction: str) -> Any:
        diff = x - y
        ctx.save_for_backward(diff)
        ctx.meta = (reduction, diff.shape)
        return reduce_loss_array(diff * diff, reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        (diff,) = ctx.saved_arrays
        reduction, shape = ctx.meta
        gx = 2 * _unreduce(g, shape, reduction) * diff
        return gx, (-gx if ctx.needs_input_grad[1] else None)


def mse_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Tensor:
    """Mean squared error, PyTorch's convention:  L = (1/n) Σ_i (ŷ_i − y_i)².

    Its gradient is dL/dŷ_i = 2 (ŷ_i − y_i) / n.

    The course's source documents (see lesson 02) write the per-sample loss with a ½
    instead: ℓ = ½ (y − ŷ)², chosen so that the 2 from the square cancels and the
    gradient is just dℓ/dŷ = ŷ − y. The two conventions differ only by a constant factor:
        mse_loss(ŷ, y, reduction="sum") = 2 · Σ_i ½ (y_i − ŷ_i)²
        mse_loss(ŷ, y)                   = (2/n) · Σ_i ½ (y_i − ŷ_i)²
    so the minimiser is the same; only the effective learning rate changes (by 2/n).
    ``reduction="sum"`` gives Σ (ŷ − y)², and "none" the elementwise (ŷ − y)².
    """
    check_reduction("mse_loss", reduction, size_average, reduce)
    _no_weight("mse_loss", weight)
    target_dtype = target.dtype if hasattr(target, "dtype") else np.asarray(target).dtype
    if input.dtype.kind != "f" and np.dtype(target_dtype).kind != "f":
        raise TinyLMError(  # PyTorch has no integer kernel; one float side is enough there
            f"mse_loss: needs floating-point input or target, got {input.dtype} and {target_dtype}"
        )
    target = _float_target("mse_loss", target, input, mixed_ok=True)
    return _MSELoss.apply(*promoted_pair(input, target), reduction=reduction)


def _no_weight(op: str, weight: Any) -> None:
    if weight is not None:
        raise TinyLMError(
            f"{op}: weight is not supported; use reduction='none' and weight the elementwise "
            "losses yourself"
        )


class _L1Loss(Function):
    """L = (1/n) Σ |x − y|;  dL/dx = sign(x − y) / n (0 where x = y, as PyTorch),
    dL/dy = −dL/dx."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any, *, reduction: str) -> Any:
        diff = x - y
        ctx.save_for_backward(diff)
        ctx.meta = (reduction, diff.shape)
        return reduce_loss_array(array_module(diff).abs(diff), reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        (diff,) = ctx.saved_arrays
        reduction, shape = ctx.meta
        gx = _unreduce(g, shape, reduction) * array_module(diff).sign(diff)
        return gx, (-gx if ctx.needs_input_grad[1] else None)


def l1_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Tensor:
    """Mean absolute error: L = (1/n) Σ_i |ŷ_i − y_i| (``reduction="sum"``: the sum,
    "none": the elementwise |ŷ − y|). Its gradient sign(ŷ − y)/n does not shrink near the
    target, unlike the MSE's."""
    check_reduction("l1_loss", reduction, size_average, reduce)
    _no_weight("l1_loss", weight)
    target = _float_target("l1_loss", target, input, mixed_ok=True)
    return _L1Loss.apply(*promoted_pair(input, target), reduction=reduction)


class _Huber(Function):
    """The Huber loss, scaled: with d = x − y and a threshold δ > 0,
        ℓ = ½ d² / δ           for |d| < δ,      dℓ/dd = d / δ
        ℓ = |d| − ½ δ          otherwise,        dℓ/dd = sign(d)
    times ``scale``: scale 1 is ``smooth_l1_loss`` with beta δ, scale δ is ``huber_loss``
    with delta δ. δ = 0 is the L1 loss. dℓ/dy = −dℓ/dx.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any, *, delta: float, scale: float, reduction: str):
        xp = array_module(x)
        d = x - y
        a = xp.abs(d)
        t = x.dtype.type
        if delta == 0:
            loss = a
            inner = xp.zeros(d.shape, dtype=bool)
        else:
            inner = a < delta
            loss = xp.where(inner, t(0.5 / delta) * d * d, a - t(0.5 * delta))
        if scale != 1:
            loss = loss * t(scale)
        ctx.save_for_backward(d)
        ctx.meta = (inner, delta, scale, reduction)
        return reduce_loss_array(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        (d,) = ctx.saved_arrays
        inner, delta, scale, reduction = ctx.meta
        xp, t = array_module(d), d.dtype.type
        slope = xp.sign(d) if delta == 0 else xp.where(inner, d / t(delta), xp.sign(d))
        gx = _unreduce(g, d.shape, reduction) * (slope * t(scale))
        return gx, (-gx if ctx.needs_input_grad[1] else None)


def _threshold(op: str, name: str, value: Any, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TinyLMError(f"{op}: {name} must be a non-negative number, got {value!r:.60}")
    if value == 0 and not allow_zero:
        raise TinyLMError(f"{op}: {name} must be positive, got {value!r}")
    return float(value)


def smooth_l1_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """Smooth L1 loss (Fast R-CNN's): with d = ŷ − y, ½ d²/beta where |d| < beta, else
    |d| − ½ beta; reduced by ``reduction``. Quadratic near the target, linear (robust to
    outliers) far from it; beta = 0 is the L1 loss. See :class:`_Huber`."""
    check_reduction("smooth_l1_loss", reduction, size_average, reduce)
    beta = _threshold("smooth_l1_loss", "beta", beta, allow_zero=True)
    target = _float_target("smooth_l1_loss", target, input, mixed_ok=True)
    x, y = promoted_pair(input, target)
    return _Huber.apply(x, y, delta=beta, scale=1.0, reduction=reduction)


def huber_loss(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Any = None,
) -> Tensor:
    """Huber loss: with d = ŷ − y, ½ d² where |d| < delta, else delta·(|d| − ½ delta);
    reduced by ``reduction``. It equals delta · smooth_l1_loss(beta=delta), so its gradient
    is d inside and ±delta outside. See :class:`_Huber`."""
    check_reduction("huber_loss", reduction)
    _no_weight("huber_loss", weight)
    delta = _threshold("huber_loss", "delta", delta, allow_zero=False)
    target = _float_target("huber_loss", target, input, mixed_ok=True)
    if mixed_floats(input, target):  # the common dtype's losses, kept in input's dtype
        x, y = promoted_pair(input, target)
        loss = _Huber.apply(x, y, delta=delta, scale=delta, reduction="none")
        return reduced(loss.to(input.dtype), reduction)
    return _Huber.apply(input, target, delta=delta, scale=delta, reduction=reduction)


class _KLDiv(Function):
    """KL divergence, pointwise, with x = log q (the input) and the target p:
        ℓ = p (log p − x)   (0 where p = 0),   dℓ/dx = −p,  dℓ/dp = log p + 1 − x (NaN at p = 0)
    or, with ``log_target`` (the target given as t = log p),
        ℓ = eᵗ (t − x),                       dℓ/dx = −eᵗ, dℓ/dt = eᵗ (t − x + 1).
    Reductions: "mean" over all elements, "batchmean" the sum divided by the batch size
    (x.shape[0]; the mathematically right KL per sample), "sum", "none".
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, x: Any, t: Any, *, log_target: bool, reduction: str) -> Any:
        xp = array_module(x)
        zero = x.dtype.type(0)
        if log_target:
            p, log_p = xp.exp(t), t
            with np.errstate(invalid="ignore"):  # t = −inf: 0·inf = NaN, as in PyTorch
                loss = p * (t - x)
        else:  # xlogy(p, p) − p x, as PyTorch: 0 log 0 = 0, a negative p gives NaN
            p = t
            with np.errstate(divide="ignore", invalid="ignore"):
                log_p = xp.log(t)
                loss = xp.where(t == 0, zero, t * log_p) - t * x
        ctx.save_for_backward(x, p, log_p)
        ctx.meta = (log_target, reduction, loss.shape)
        if reduction == "batchmean":
            n = x.shape[0] if x.ndim else 1
            return xp.asarray(loss.sum() / max(n, 1), dtype=x.dtype)
        return reduce_loss_array(loss, reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        x, p, log_p = ctx.saved_arrays
        log_target, reduction, shape = ctx.meta
        xp = array_module(g)
        if reduction == "batchmean":
            n = shape[0] if shape else 1
            g = xp.broadcast_to(g / max(n, 1), shape)
        else:
            g = _unreduce(g, shape, reduction)
        gx = -g * p
        gt = None
        if ctx.needs_input_grad[1]:
            if log_target:
                with np.errstate(invalid="ignore"):
                    gt = g * (p * (log_p - x + 1))
            else:  # at p = 0 the derivative of p log p is undefined: NaN, as in PyTorch
                with np.errstate(invalid="ignore"):
                    gt = g * (xp.where(p == 0, x.dtype.type(np.nan), log_p + 1) - x)
        return gx, gt


KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback–Leibler divergence KL(p ‖ q) with ``input`` = log q (log-probabilities, e.g.
    ``log_softmax``) and ``target`` = p (or log p with ``log_target=True``), as PyTorch:
    pointwise p (log p − log q), reduced by ``reduction``.

    ``reduction="batchmean"`` (sum / batch size) is the KL divergence per sample; "mean" (the
    default, as in PyTorch) divides by the number of elements instead, which is not a KL
    divergence. Shapes: input and target the same shape; "none" keeps it.
    """
    if size_average is not None or reduce is not None:
        check_reduction("kl_div", "mean", size_average, reduce)  # raises
    if reduction not in KL_REDUCTIONS:
        raise TinyLMError(f"kl_div: reduction must be one of {KL_REDUCTIONS}, got {reduction!r}")
    target = _float_target("kl_div", target, input, mixed_ok=True)
    x, t = promoted_pair(input, target)
    return _KLDiv.apply(x, t, log_target=bool(log_target), reduction=reduction)
