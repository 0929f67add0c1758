"""Cross-entropy and NLL with per-class weights, and cross-entropy against class
probabilities (soft labels, mixup, distillation), as PyTorch computes them.

``F.cross_entropy`` and ``F.nll_loss`` (in :mod:`tinylm.nn.functional.losses`) hand their
call to this module when a ``weight`` is given or the target is floating point; the plain
integer-target cross-entropy keeps its fused kernel there.

Layouts, as PyTorch's: scores (C,), (N, C) or (N, C, d1, d2, …) with the class axis second.
Each Function moves the class axis last and works on M rows of C scores (M = N·d1·d2·…),
then puts the gradient back in the input's layout.

Notation, for row i: x_i the scores (C,), s_i = softmax(x_i), ℓ_i = log s_i = x_i − lse_i,
w (C,) the class weights (all 1 when none are given), ε the label smoothing, r_i the
gradient that reaches the loss of row i (g_i for "none", g for "sum", g / W or g / M for
"mean"); δ_jt is 1 where j = t, else 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.dtypes import promote_types
from tinylm.nn.functional.common import as_array, check_probability
from tinylm.tensor import Tensor

__all__ = [
    "class_weight",
    "is_float_target",
    "soft_or_weighted_cross_entropy",
    "weighted_nll_loss",
]


def _rows(a: Any) -> Any:
    """(C,) → (1, C); (N, C, d1, …) → (N·d1·…, C): the class axis (dim 1) moved last."""
    xp = array_module(a)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _unrows(d: Any, shape: tuple[int, ...]) -> Any:
    """The inverse of :func:`_rows`: (M, C) back to the layout ``shape``, contiguous."""
    xp = array_module(d)
    if len(shape) == 1:
        return d.reshape(shape)
    lead = (shape[0], *shape[2:], shape[1])
    return xp.ascontiguousarray(xp.moveaxis(d.reshape(lead), -1, 1))


def _loss_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of the unreduced loss: the input's without its class axis."""
    return () if len(shape) == 1 else (shape[0], *shape[2:])


def _log_softmax_rows(x2: Any) -> Any:
    """ℓ = x − lse per row (M, C), with the row maximum subtracted first (no overflow)."""
    xp = array_module(x2)
    m = x2.max(axis=1, keepdims=True) if x2.shape[0] else xp.zeros((0, 1), x2.dtype)
    m = xp.where(xp.isfinite(m), m, x2.dtype.type(0))
    shifted = x2 - m
    return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))


def _row_grads(g: Any, m: int, reduction: str, denominator: Any) -> Any:
    """r (M,): the gradient reaching each row's loss, from the output's gradient ``g``."""
    xp = array_module(g)
    if reduction == "none":
        return g.reshape(-1)
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            g = g / denominator
    return xp.broadcast_to(g, (m,))


def _reduce(loss: Any, reduction: str, denominator: Any, shape: tuple[int, ...]) -> Any:
    """The loss reduced: "none" keeps it in the input's layout less the class axis; "sum";
    "mean", the sum divided by ``denominator`` (0/0 gives NaN, as PyTorch's)."""
    xp = array_module(loss)
    if reduction == "none":
        return loss.reshape(_loss_shape(shape))
    total = loss.sum()
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            total = total / denominator
    return xp.asarray(total, dtype=loss.dtype)


class _WeightedCrossEntropy(Function):
    """Cross-entropy of scores against class indices t with class weights w (C,), as
    PyTorch's (its ``nll_loss(log_softmax(x), t, weight)`` plus the label-smoothing term):

        loss_i = (1 − ε) w_t (−ℓ_it) + (ε/C) Σ_c w_c (−ℓ_ic),    t = t_i,
    0 for a row whose target is ``ignore_index``. "mean" divides the sum by
    W = Σ_i w_{t_i} over the rows not ignored (NaN when W = 0, as PyTorch's).

    With dℓ_ic/dx_ij = δ_jc − s_ij:
        dloss_i/dx_ij = (1 − ε) w_t (s_ij − δ_jt) + (ε/C) (s_ij Σ_c w_c − w_j),
    times r_i (0 for ignored rows). Shapes: x (C,) / (N, C, d1, …); target (M,) int64 in
    the rows' order; weight (C,) of x's dtype, no gradient (PyTorch gives it none).
    """

    fresh_grads = True

    @staticmethod
    def forward(
        ctx: Context,
        x: Any,
        *,
        target: Any,
        weight: Any,
        ignore_index: int,
        reduction: str,
        label_smoothing: float,
    ) -> Any:
        xp = array_module(x)
        one = x.dtype.type
        logp = _log_softmax_rows(_rows(x))  # (M, C)
        m, c = logp.shape
        valid = target != ignore_index
        t = xp.where(valid, target, 0)
        w_t = xp.where(valid, weight[t], one(0))  # (M,)
        picked = logp[xp.arange(m), t]
        loss = xp.where(valid, -w_t * picked, one(0))
        eps = label_smoothing
        if eps:
            smooth = xp.where(valid, -(logp * weight).sum(axis=1), one(0))
            loss = one(1 - eps) * loss + one(eps / c) * smooth
        total_weight = w_t.sum()
        ctx.save_for_backward(logp)
        ctx.meta = (x.shape, t, valid, weight, w_t, total_weight, reduction, eps)
        return _reduce(loss, reduction, total_weight, x.shape)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (logp,) = ctx.saved_arrays
        shape, t, valid, weight, w_t, total_weight, reduction, eps = ctx.meta
        xp = array_module(g)
        one = logp.dtype.type
        m, c = logp.shape
        r = xp.where(valid, _row_grads(g, m, reduction, total_weight), one(0))
        s = xp.exp(logp)
        d = s * (one(1 - eps) * w_t)[:, None]
        d[xp.arange(m), t] -= one(1 - eps) * w_t
        if eps:
            d += one(eps / c) * (s * weight.sum() - weight)
        with np.errstate(invalid="ignore"):  # W = 0: ∞·0 = NaN, as PyTorch's
            d *= r[:, None]
        return _unrows(d, shape)


class _WeightedNLLLoss(Function):
    """Negative log-likelihood with class weights: loss_i = −w_t ℓ_it (t = t_i; 0 where t
    is ``ignore_index``); "mean" divides the sum by W = Σ_i w_{t_i} over the rows kept.

        dloss_i/dℓ_ij = −w_t δ_jt,   times r_i.
    Shapes: ℓ (C,) / (N, C, d1, …) log-probabilities; target (M,) int64; weight (C,).
    """

    fresh_grads = True

    @staticmethod
    def forward(
        ctx: Context, logp: Any, *, target: Any, weight: Any, ignore_index: int, reduction: str
    ) -> Any:
        xp = array_module(logp)
        one = logp.dtype.type
        rows = _rows(logp)
        m = rows.shape[0]
        valid = target != ignore_index
        t = xp.where(valid, target, 0)
        w_t = xp.where(valid, weight[t], one(0))
        loss = xp.where(valid, -w_t * rows[xp.arange(m), t], one(0))
        total_weight = w_t.sum()
        ctx.meta = (logp.shape, rows.shape, t, valid, w_t, total_weight, reduction)
        return _reduce(loss, reduction, total_weight, logp.shape)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        shape, rows_shape, t, valid, w_t, total_weight, reduction = ctx.meta
        xp = array_module(g)
        m = rows_shape[0]
        r = xp.where(valid, _row_grads(g, m, reduction, total_weight), g.dtype.type(0))
        d = xp.zeros(rows_shape, dtype=g.dtype)
        with np.errstate(invalid="ignore"):  # W = 0: ∞·0 = NaN, as PyTorch's
            d[xp.arange(m), t] = -r * w_t
        return _unrows(d, shape)


class _SoftTargetCrossEntropy(Function):
    """Cross-entropy of scores x against class probabilities p (same shape), as PyTorch's:
    with q = (1 − ε) p + ε/C (label smoothing mixes p with the uniform distribution),

        loss_i = −Σ_c w_c q_ic ℓ_ic;   "mean" divides the sum by M, the number of rows
    (N·d1·…, whatever the weights). p is not checked to be a distribution (nor by PyTorch).

    With u_i = w ⊙ q_i and dℓ_ic/dx_ij = δ_jc − s_ij:
        dloss_i/dx_i = s_i Σ_c u_ic − u_i   (softmax · Σ_c w_c q_c − w ⊙ q),
        dloss_i/dp_ic = −(1 − ε) w_c ℓ_ic,
        dloss/dw_c = −Σ_i r_i q_ic ℓ_ic,
    each times r_i. Shapes: x, p (C,) / (N, C, d1, …) of one float dtype; w (C,) of it too.
    """

    silences_fp_warnings = True

    fresh_grads = True

    @staticmethod
    def forward(
        ctx: Context, x: Any, p: Any, *weight: Any, label_smoothing: float, reduction: str
    ) -> Any:
        one = x.dtype.type
        logp = _log_softmax_rows(_rows(x))
        m, c = logp.shape
        q = _rows(p)
        eps = label_smoothing
        if eps:
            q = one(1 - eps) * q + one(eps / c)
        u = q * weight[0] if weight else q
        loss = -(logp * u).sum(axis=1)
        ctx.save_for_backward(logp, q, *weight)
        ctx.meta = (x.shape, reduction, eps)
        return _reduce(loss, reduction, m, x.shape)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        logp, q, *weight = ctx.saved_arrays
        shape, reduction, eps = ctx.meta
        one = logp.dtype.type
        m = logp.shape[0]
        r = _row_grads(g, m, reduction, m)[:, None]
        u = q * weight[0] if weight else q
        gx = _unrows(r * (array_module(logp).exp(logp) * u.sum(axis=1, keepdims=True) - u), shape)
        gp = None
        if ctx.needs_input_grad[1]:
            dp = -r * logp * one(1 - eps)
            gp = _unrows(dp * weight[0] if weight else dp, shape)
        if not weight:
            return gx, gp
        gw = -(r * q * logp).sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gp, gw


def _dtype_of(value: Any) -> Any:
    if hasattr(value, "dtype"):
        return np.dtype(value.dtype)
    return np.asarray(value).dtype


def is_float_target(target: Any) -> bool:
    """A floating-point target (Tensor, array or list of floats): PyTorch's class
    probabilities rather than class indices."""
    return _dtype_of(target).kind == "f"


def class_weight(op: str, weight: Any, input: Tensor, same_dtype: bool = True) -> Any:
    """``weight`` checked as PyTorch checks it: a float (C,) for the C classes of ``input``
    (its dim 1, or dim 0 when 1-d), of the input's dtype when ``same_dtype``; as an array,
    or the Tensor itself when it may get a gradient (``same_dtype=False``)."""
    c = input.shape[1 if input.ndim > 1 else 0]
    if tuple(weight.shape if hasattr(weight, "shape") else np.shape(weight)) != (c,):
        shown = list(weight.shape if hasattr(weight, "shape") else np.shape(weight))
        raise TinyLMError(
            f"{op}: weight tensor should be defined either for all {c} classes or no classes "
            f"but got weight tensor of shape: {shown}"
        )
    kind = _dtype_of(weight).kind
    if kind != "f":
        raise TinyLMError(f"{op}: weight must be floating point, got {_dtype_of(weight)}")
    if same_dtype and _dtype_of(weight) != np.dtype(input.dtype):
        raise TinyLMError(
            f"{op}: weight dtype {_dtype_of(weight)} must be the input's {input.dtype} with class "
            "index targets (as in PyTorch); cast it with weight.to(input.dtype)"
        )
    if same_dtype and isinstance(weight, Tensor) and weight.requires_grad:
        raise TinyLMError(
            f"{op}: weight gets no gradient with class index targets (as in PyTorch); pass "
            "weight.detach()"
        )
    if not same_dtype and isinstance(weight, Tensor):
        return weight
    return as_array(op, weight, input.data, "weight")


def _check_input(op: str, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TinyLMError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 1 or input.shape[1 if input.ndim > 1 else 0] == 0:
        raise TinyLMError(
            f"{op}: input must be class scores (C,), (N, C) or (N, C, d1, …), got shape "
            f"{tuple(input.shape)} {input.dtype}"
        )
    if np.dtype(input.dtype).kind != "f":
        raise TinyLMError(f"{op}: input must be floating point, got {input.dtype}")


def _index_targets(op: str, target: Any, input: Tensor, ignore_index: int) -> Any:
    """Class indices checked as PyTorch checks them (int64 or uint8, the input's shape less
    its class axis, each in [0, C) or ``ignore_index``); flat int64 in the rows' order."""
    t = as_array(op, target, input.data, "target")
    xp = array_module(t)
    if t.dtype not in (np.int64, np.uint8):
        raise TinyLMError(
            f"{op}: expected target dtype to be int64 (Long) or uint8 (Byte), as in PyTorch, "
            f"got {t.dtype}; convert with target.long()"
        )
    expected = _loss_shape(tuple(input.shape))
    if tuple(t.shape) != expected:
        raise TinyLMError(
            f"{op}: target shape {tuple(t.shape)} does not match input {tuple(input.shape)}: "
            f"the class axis is dim 1, so class indices must have shape {expected}"
        )
    t = t.reshape(-1).astype(np.int64, copy=False)
    c = input.shape[1 if input.ndim > 1 else 0]
    bad = ((t < 0) | (t >= c)) & (t != ignore_index)
    if bool(bad.any()):
        value = int(t[xp.flatnonzero(bad)[0]])
        raise TinyLMError(f"{op}: target {value} is out of bounds for {c} classes")
    return t


def soft_or_weighted_cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    """``F.cross_entropy`` with class weights or probability targets (its reduction already
    checked): class-index targets with ``weight`` go to :class:`_WeightedCrossEntropy`,
    floating-point targets of the input's shape to :class:`_SoftTargetCrossEntropy`."""
    op = "cross_entropy"
    _check_input(op, input)
    eps = check_probability(op, label_smoothing, "label_smoothing")
    if not is_float_target(target):
        w = class_weight(op, weight, input)
        t = _index_targets(op, target, input, ignore_index)
        return _WeightedCrossEntropy.apply(
            input,
            target=t,
            weight=w,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=eps,
        )
    if not isinstance(target, Tensor):
        target = Tensor(as_array(op, target, input.data, "target"))
    if tuple(target.shape) != tuple(input.shape):
        raise TinyLMError(
            f"{op}: target {tuple(target.shape)} {target.dtype} is neither integer class "
            f"indices (int64, shape {_loss_shape(tuple(input.shape))}) nor class probabilities "
            f"(floating point, the input's shape {tuple(input.shape)})"
        )
    if ignore_index != -100:
        raise TinyLMError(
            f"{op}: ignore_index is not supported for floating point target (class "
            f"probabilities), as in PyTorch; got ignore_index={ignore_index}"
        )
    common = promote_types(input.dtype, target.dtype)
    inputs = [input.to(common), target.to(common)]
    if weight is not None:
        w = class_weight(op, weight, input, same_dtype=False)
        w = w if isinstance(w, Tensor) else Tensor(w)
        common = promote_types(common, w.dtype)
        inputs = [inputs[0].to(common), inputs[1].to(common), w.to(common)]
    return _SoftTargetCrossEntropy.apply(*inputs, label_smoothing=eps, reduction=reduction)


def weighted_nll_loss(
    input: Tensor, target: Any, weight: Any, ignore_index: int, reduction: str
) -> Tensor:
    """``F.nll_loss`` with class weights (its reduction already checked): see
    :class:`_WeightedNLLLoss`."""
    op = "nll_loss"
    _check_input(op, input)
    if is_float_target(target):
        raise TinyLMError(
            f"{op}: target must hold int64 class indices, got {_dtype_of(target)} (nll_loss "
            "takes no class probabilities, as in PyTorch; see cross_entropy)"
        )
    w = class_weight(op, weight, input)
    t = _index_targets(op, target, input, ignore_index)
    return _WeightedNLLLoss.apply(
        input, target=t, weight=w, ignore_index=ignore_index, reduction=reduction
    )
