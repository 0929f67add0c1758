"""The functions of neural networks: activations, losses, normalisation, attention.

Each function is derived by hand. Where the composed backward (what autograd would build
from ``exp``, ``sum``, ``log`` …) is slower or less stable than the gradient written out
on paper, the function is its own :class:`~tinylm.autograd.Function` with the derivation in
its docstring: ``linear``, ``cross_entropy`` (fused ``(softmax − onehot)/N``),
``layer_norm``, ``gelu``, ``embedding``, ``dropout``, the binary cross-entropies, ``mse_loss``
and ``scaled_dot_product_attention``.

The heavy ones (``softmax``, ``layer_norm``, ``gelu``, ``cross_entropy``, attention without
a mask) call the kernel registry (:mod:`tinylm.kernels`), which hands out the Numba kernel
on the CPU, the CuPy kernel on a GPU, or the plain reference in ``kernels/reference.py``.
The rest is written against ``xp`` (numpy or cupy) right here.

Shapes: ``N`` rows (a batch, or batch × time flattened), ``C`` classes or channels,
``B`` batch, ``H`` heads, ``T`` time steps, ``D`` head size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm import ops
from tinylm.autograd import Context, Function, TinyLMError
from tinylm.device import array_module, device_of, to_device_array
from tinylm.kernels import registry
from tinylm.kernels.policy import attention_keeps_probs
from tinylm.tensor import Tensor, default_generator

__all__ = [
    "attention_weights",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "layer_norm",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "packed_self_attention",
    "relu",
    "scaled_dot_product_attention",
    "softmax",
]

_REDUCTIONS = ("mean", "sum", "none")


def _device(x: Any) -> str:
    return "cpu" if array_module(x) is np else "cuda"


def _kernel(name: str, x: Any) -> Any:
    """The fastest allowed implementation of kernel ``name`` for the device of array ``x``."""
    return registry.lookup(name, _device(x))


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise TinyLMError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss: Any, reduction: str) -> Any:
    """Apply ``reduction`` to elementwise losses (always returns an array, never a scalar)."""
    xp = array_module(loss)
    if reduction == "mean":
        return xp.asarray(loss.mean(), dtype=loss.dtype)
    if reduction == "sum":
        return xp.asarray(loss.sum(), dtype=loss.dtype)
    return loss


def _unreduce(g: Any, shape: tuple[int, ...], reduction: str) -> Any:
    """dL/d(elementwise loss) from dL/d(reduced loss): 1/n each for a mean, 1 for a sum."""
    if reduction == "none":
        return g
    xp = array_module(g)
    if reduction == "mean":
        g = g / max(math.prod(shape), 1)
    return xp.broadcast_to(g, shape)


def _same_dtype(op: str, **arrays: Any) -> None:
    present = {k: a for k, a in arrays.items() if a is not None}
    dtypes = {a.dtype for a in present.values()}
    if len(dtypes) > 1:
        listed = ", ".join(f"{k} {tuple(a.shape)} {a.dtype}" for k, a in present.items())
        raise TinyLMError(f"{op}: all inputs must have the same dtype, got {listed}")


def _as_array_like(op: str, value: Any, like: Any, what: str) -> Any:
    """A Tensor/array/list argument that gets no gradient, as an array on ``like``'s device."""
    raw = value.data if isinstance(value, Tensor) else value
    if not hasattr(raw, "shape"):
        raw = np.asarray(raw)
        if raw.dtype == object:
            raise TinyLMError(f"{op}: could not turn {what} into an array")
    return to_device_array(raw, device_of(like))


# ---------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------


def relu(input: Tensor) -> Tensor:
    """ReLU(x) = max(x, 0); its derivative is 1 for x > 0 and 0 otherwise."""
    return input.relu()


def softmax(input: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    """softmax(x)_i = e^{x_i − m} / Σ_j e^{x_j − m} along ``dim``, with m = max_j x_j.

    Subtracting m keeps every exponent ≤ 0 (no overflow) and cancels in the ratio.
    ``dtype`` converts the input first (as in PyTorch). Backward:
    dL/dx_i = p_i (g_i − Σ_j g_j p_j).
    """
    if dtype is not None:
        input = input.to(dtype)
    return ops.Softmax.apply(input, axis=dim)


def log_softmax(input: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    """log softmax(x)_i = x_i − m − log Σ_j e^{x_j − m} (the log-sum-exp trick).

    Unlike ``log(softmax(x))`` this never takes the log of an underflowed 0, so it stays
    finite for logits of any size. Backward: dL/dx_i = g_i − p_i Σ_j g_j.
    """
    if dtype is not None:
        input = input.to(dtype)
    return ops.LogSoftmax.apply(input, axis=dim)


class GELU(Function):
    """GELU, in one of two forms. Shapes: any; y has the shape of x.

    exact (``approximate="none"``), with Φ the standard normal CDF and φ = Φ' its density:
        y = x Φ(x) = ½ x (1 + erf(x/√2)),    dy/dx = Φ(x) + x φ(x),  φ(x) = e^(−x²/2)/√(2π).
    tanh (``approximate="tanh"``), with u = √(2/π) (x + 0.044715 x³):
        y = ½ x (1 + tanh u),
        dy/dx = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3·0.044715 x²).
    """

    KERNELS = {"none": "gelu_exact", "tanh": "gelu"}

    @staticmethod
    def forward(ctx: Context, x: Any, *, approximate: str) -> Any:
        ctx.save_for_backward(x)
        ctx.kernel = GELU.KERNELS[approximate]
        return _kernel(ctx.kernel + "_forward", x)(x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_arrays
        return _kernel(ctx.kernel + "_backward", x)(x, g)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Φ(x), Φ the standard normal CDF; as in PyTorch, ``approximate="tanh"``
    gives ½ x (1 + tanh(√(2/π)(x + 0.044715 x³))) instead, the form GPT-2 uses.

    The two differ by at most ~5e-4 (near x = ±2). The tanh form's kernel is the faster
    one (one vectorised exp per element, where the exact form calls erf per element).
    """
    if approximate not in GELU.KERNELS:
        raise TinyLMError(
            f"gelu: approximate must be 'none' or 'tanh', got approximate={approximate!r}"
        )
    return GELU.apply(input, approximate=approximate)


# ---------------------------------------------------------------------------------------
# Linear layer, embedding lookup, dropout
# ---------------------------------------------------------------------------------------


class Linear(Function):
    """y = x Wᵀ + b.

    Shapes: x (..., in), W (out, in), b (out,) → y (..., out).
    With the leading axes flattened into N rows (x₂ (N, in), g₂ = dL/dy as (N, out)):
        dL/dx = g₂ W            (N, out)(out, in) → (N, in)
        dL/dW = g₂ᵀ x₂          (out, N)(N, in) → (out, in), summed over all N rows at once
        dL/db = Σ_rows g₂       (out,)
    One matrix product each, instead of the batched products of a composed ``x @ W.T + b``.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, weight: Any, *bias: Any) -> Any:
        b = bias[0] if bias else None
        if x.ndim < 1 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
            raise TinyLMError(
                f"linear: input {x.shape} {x.dtype} and weight {weight.shape} {weight.dtype} "
                f"do not fit: need input (..., in_features) and weight (out_features, "
                f"in_features)"
            )
        if b is not None and b.shape != (weight.shape[0],):
            raise TinyLMError(
                f"linear: bias has shape {b.shape}, expected ({weight.shape[0]},) for weight "
                f"{weight.shape}"
            )
        _same_dtype("linear", input=x, weight=weight, bias=b)
        x2 = x.reshape(-1, x.shape[-1])
        y = x2 @ weight.T
        if b is not None:
            y += b
        ctx.save_for_backward(x, weight)
        ctx.has_bias = b is not None
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        x, weight = ctx.saved_arrays
        g2 = g.reshape(-1, weight.shape[0])
        gx = (g2 @ weight).reshape(x.shape) if ctx.needs_input_grad[0] else None
        gw = g2.T @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        if not ctx.has_bias:
            return gx, gw
        gb = g2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b; input (..., in), weight (out, in), bias (out,) → (..., out)."""
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)


# Below this many rows the embedding gradient is a one-hot matrix product (measured faster
# for character-level vocabularies); above it, a sort and a segmented sum.
_ONE_HOT_MAX_ROWS = 256


class Embedding(Function):
    """y = W[idx]: row idx[n] of the table W for every index n.

    Shapes: W (V, D), idx (...) integers in [0, V) → y (..., D).
    Backward: row v of dL/dW is the sum of the upstream gradients of every position that
    looked up v:  dL/dW_v = Σ_{n: idx_n = v} g_n.  (Plain ``gW[idx] += g`` would keep only
    one of several positions that share a token.) On the CPU we compute that sum as
    * a one-hot product, onehot(idx)ᵀ g, when V is small (≤ 256 rows), or else
    * sort the positions by token and sum each run of equal tokens with ``add.reduceat``;
    both are ≥ 3× faster than ``np.add.at`` (measured: V=65, 16k positions, D=384:
    add.at 107 ms, sort 32 ms, one-hot 10 ms). On a GPU ``cupy.add.at`` uses atomics.
    """

    @staticmethod
    def forward(ctx: Context, weight: Any, *, indices: Any, padding_idx: int | None) -> Any:
        ctx.meta = (weight.shape, indices, padding_idx)
        return array_module(weight).take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (num, dim), indices, padding_idx = ctx.meta
        xp = array_module(g)
        idx = indices.reshape(-1)
        g2 = g.reshape(-1, dim)
        if xp is not np:
            gw = xp.zeros((num, dim), dtype=g.dtype)
            xp.add.at(gw, idx, g2)
        elif num <= _ONE_HOT_MAX_ROWS:
            one_hot = np.zeros((num, idx.size), dtype=g.dtype)
            one_hot[idx, np.arange(idx.size)] = 1
            gw = one_hot @ g2
        else:
            order = np.argsort(idx, kind="stable")
            sorted_idx = idx[order]
            # each run of equal tokens starts where the sorted index changes
            starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
            gw = np.zeros((num, dim), dtype=g.dtype)
            if idx.size:
                gw[sorted_idx[starts]] = np.add.reduceat(g2[order], starts, axis=0)
        if padding_idx is not None:
            gw[padding_idx] = 0  # the padding row is a constant: it never learns
        return gw


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Look up rows of ``weight``: y[..., :] = weight[input[...], :].

    Args:
        input: integer indices (Tensor, array or list) of any shape, each in [0, V).
        weight: the table, shape (V, D).
        padding_idx: a row that gets no gradient (kept constant during training).
    Returns:
        (*input.shape, D).
    """
    if weight.ndim != 2:
        raise TinyLMError(f"embedding: weight must be 2-D (V, D), got shape {weight.shape}")
    idx = _as_array_like("embedding", input, weight.data, "the indices")
    xp = array_module(idx)
    if not xp.issubdtype(idx.dtype, xp.integer):
        raise TinyLMError(
            f"embedding: indices must be integers, got dtype {idx.dtype} (shape {idx.shape})"
        )
    num = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise TinyLMError(
            f"embedding: index {bad} is out of range for a table of {num} rows "
            f"(weight {weight.shape} {weight.dtype}, indices {idx.shape})"
        )
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise TinyLMError(f"embedding: padding_idx {padding_idx} out of range for {num} rows")
        padding_idx %= num
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx)


class Dropout(Function):
    """y = x · mask,  mask_i = keep_i / (1 − p),  keep_i ~ Bernoulli(1 − p).

    Dividing by 1 − p keeps E[y] = x, so nothing changes at evaluation time when dropout
    is switched off. Backward uses the same mask: dL/dx = g · mask.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *, mask: Any) -> Any:
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g * ctx.mask


def _dropout_mask(shape: tuple[int, ...], p: float, like: Any) -> Any:
    """keep/(1 − p) drawn from ``tinylm.default_generator`` (seed with ``tinylm.manual_seed``)."""
    dtype = like.dtype
    uniform = default_generator.numpy.random(shape, dtype=np.float32)
    mask = (uniform >= p).astype(dtype) * dtype.type(1.0 / (1.0 - p))
    return to_device_array(mask, device_of(like))


def _check_p(op: str, p: Any, name: str = "p") -> float:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise TinyLMError(f"{op}: {name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1 − p).

    The identity when ``p == 0`` or ``training`` is False. ``p == 1`` zeros everything.
    """
    p = _check_p("dropout", p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, mask=_dropout_mask(input.shape, p, input.data))


# ---------------------------------------------------------------------------------------
# Layer normalisation
# ---------------------------------------------------------------------------------------


class LayerNorm(Function):
    """y = (x − μ) / √(σ² + ε) · w + b over the last C features of each row.

    Shapes: x (..., C), w (C,), b (C,) → y (..., C); μ, σ² are the mean and the biased
    variance of each row. With x̂ = (x − μ)·r, r = 1/√(σ² + ε), and ĝ = g·w, the fused
    backward (derived by differentiating through μ and r; means over the C features) is
        dL/dx = r (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)),
        dL/dw = Σ_rows g x̂,   dL/db = Σ_rows g.
    It is one pass instead of the ~10 ops autograd would record, and it never forms the
    small difference of two large numbers that the composed graph does.
    """

    @staticmethod
    def forward(ctx: Context, x: Any, *affine: Any, n_features: int, eps: float) -> Any:
        xp = array_module(x)
        # no weight = weight 1, no bias = bias 0 (their gradients are simply not returned)
        weight = affine[0].reshape(-1) if affine else xp.ones(n_features, dtype=x.dtype)
        bias = affine[1].reshape(-1) if len(affine) > 1 else xp.zeros(n_features, x.dtype)
        rows = x.reshape(-1, n_features)  # the normalised axes flattened into one of C
        y, mean, rstd = _kernel("layer_norm_forward", x)(rows, weight, bias, eps)
        ctx.save_for_backward(rows, weight, mean, rstd)
        ctx.shapes = (x.shape, tuple(a.shape for a in affine))
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        rows, weight, mean, rstd = ctx.saved_arrays
        x_shape, affine_shapes = ctx.shapes
        gx, gw, gb = _kernel("layer_norm_backward", g)(
            g.reshape(rows.shape), rows, weight, mean, rstd
        )
        grads = [gx.reshape(x_shape), gw, gb][: 1 + len(affine_shapes)]
        return tuple(gr.reshape(s) for gr, s in zip(grads, (x_shape, *affine_shapes)))


def layer_norm(
    input: Tensor,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` axes, then scale and shift.

    y = (x − mean) / √(var + eps) · weight + bias, with mean and the biased variance taken
    over the last ``len(normalized_shape)`` axes. weight and bias have ``normalized_shape``.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape) :] != shape or len(shape) > input.ndim:
        raise TinyLMError(
            f"layer_norm: input {input.shape} {input.dtype} does not end with "
            f"normalized_shape {shape}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise TinyLMError(f"layer_norm: {name} has shape {t.shape}, expected {shape}")
    if bias is not None and weight is None:
        raise TinyLMError("layer_norm: a bias needs a weight (pass weight=ones)")
    _same_dtype("layer_norm", input=input, weight=weight, bias=bias)
    affine = [t for t in (weight, bias) if t is not None]
    return LayerNorm.apply(input, *affine, n_features=math.prod(shape), eps=float(eps))


# ---------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------


def _class_targets(op: str, target: Any, logits: Any, ignore_index: int) -> Any:
    """Check integer class targets (shape = logits.shape[:-1]); return them flat, int64."""
    t = _as_array_like(op, target, logits, "target")
    xp = array_module(t)
    if not xp.issubdtype(t.dtype, xp.integer):
        raise TinyLMError(
            f"{op}: target must hold integer class indices, got dtype {t.dtype} "
            f"(shape {t.shape}); class probabilities are not supported"
        )
    if t.shape != logits.shape[:-1]:
        raise TinyLMError(
            f"{op}: target shape {t.shape} does not match input {logits.shape} {logits.dtype}; "
            f"tinylm puts the class axis LAST, so target must have shape {logits.shape[:-1]}"
        )
    t = t.reshape(-1).astype(np.int64, copy=False)
    n_classes = logits.shape[-1]
    bad = ((t < 0) | (t >= n_classes)) & (t != ignore_index)
    if bool(bad.any()):
        value = int(t[xp.flatnonzero(bad)[0]])
        raise TinyLMError(
            f"{op}: target value {value} is out of range for {n_classes} classes "
            f"(valid: 0 … {n_classes - 1}, or ignore_index={ignore_index})"
        )
    return t


class CrossEntropy(Function):
    """Softmax cross-entropy of logits against integer targets, fused.

    For row i with logits x_i (C,) and target t_i:
        loss_i = −log softmax(x_i)[t_i] = lse_i − x_i[t_i],   lse_i = log Σ_j e^{x_ij}
    and, for the mean over the N non-ignored rows, the famous fused gradient
        dL/dx_i = (softmax(x_i) − onehot(t_i)) / N.
    With label smoothing ε the target is (1 − ε)·onehot + ε/C, so
        loss_i = (1 − ε)(lse_i − x_i[t_i]) + ε (lse_i − mean_j x_ij),
        dL/dx_i = softmax(x_i) − (1 − ε) onehot(t_i) − ε/C   (per row, before reduction).
    Only the (N,) vector lse is saved; softmax is recomputed from it in backward.
    """

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
        loss, lse = _kernel("cross_entropy_forward", x2)(x2, target, ignore_index)
        valid = target != ignore_index
        if label_smoothing:
            eps = label_smoothing
            smooth = xp.where(valid, lse - x2.mean(axis=-1), x2.dtype.type(0))
            loss = (1 - eps) * loss + eps * smooth
        n_valid = int(valid.sum())
        ctx.save_for_backward(x2, lse)
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
        x2, lse = ctx.saved_arrays
        shape, target, ignore_index, reduction, eps, n_valid = ctx.meta
        xp = array_module(g)
        n = x2.shape[0]
        if reduction == "none":
            grad_rows = g.reshape(-1)
        else:
            scale = g / max(n_valid, 1) if reduction == "mean" else g
            grad_rows = xp.broadcast_to(scale.astype(x2.dtype), (n,))
        if not eps:
            d = _kernel("cross_entropy_backward", x2)(x2, target, lse, grad_rows, ignore_index)
            return d.reshape(shape)
        # label smoothing: the reference formula, written out in numpy/cupy
        valid = target != ignore_index
        d = xp.exp(x2 - lse[:, None])
        d[xp.arange(n), xp.where(valid, target, 0)] -= x2.dtype.type(1 - eps) * valid
        d -= x2.dtype.type(eps / x2.shape[1])
        d *= xp.where(valid, grad_rows, x2.dtype.type(0))[:, None]
        return d.reshape(shape)


def cross_entropy(
    input: Tensor,
    target: Any,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits and integer class targets (softmax + NLL, fused).

    loss_i = −log softmax(x_i)[t_i] = log Σ_j e^{x_ij} − x_i[t_i], reduced over the rows.

    Args:
        input: logits (N, C), or (B, T, C) / any (..., C). **The class axis is the last
            one** — what language models produce. (PyTorch expects (N, C, d1, …) with the
            class axis second; ``torch_logits.movedim(1, -1)`` converts.)
        target: integer class indices of shape ``input.shape[:-1]``.
        ignore_index: targets equal to it contribute nothing (no loss, no gradient).
        reduction: "mean" (over the non-ignored targets), "sum" or "none" (shape of target).
        label_smoothing: ε in [0, 1]: the target distribution is (1 − ε)·onehot + ε/C.
    """
    _check_reduction("cross_entropy", reduction)
    eps = _check_p("cross_entropy", label_smoothing, "label_smoothing")
    if input.ndim < 1 or input.shape[-1] == 0:
        raise TinyLMError(f"cross_entropy: input must be (..., C) logits, got {input.shape}")
    t = _class_targets("cross_entropy", target, input.data, ignore_index)
    return CrossEntropy.apply(
        input, target=t, ignore_index=ignore_index, reduction=reduction, label_smoothing=eps
    )


class NLLLoss(Function):
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
        n_valid = int(valid.sum())
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
    input: Tensor, target: Any, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood: loss_i = −input_i[t_i] for log-probabilities ``input``.

    ``cross_entropy(x, t) == nll_loss(log_softmax(x), t)``. Class axis last, as there.
    """
    _check_reduction("nll_loss", reduction)
    if input.ndim < 1:
        raise TinyLMError(f"nll_loss: input must be (..., C) log-probabilities, got {input.shape}")
    t = _class_targets("nll_loss", target, input.data, ignore_index)
    return NLLLoss.apply(input, target=t, ignore_index=ignore_index, reduction=reduction)


class BinaryCrossEntropy(Function):
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
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(p, y)
        ctx.meta = (log_p, log_1mp, weight, reduction, loss.shape)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        p, y = ctx.saved_arrays
        log_p, log_1mp, weight, reduction, shape = ctx.meta
        xp = array_module(p)
        g = _unreduce(g, shape, reduction)
        if weight is not None:
            g = g * weight
        gp = g * (p - y) / xp.maximum(p * (1 - p), p.dtype.type(1e-12))
        gy = -g * (log_p - log_1mp) if ctx.needs_input_grad[1] else None
        return gp, gy


def _check_same_shape(op: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise TinyLMError(
            f"{op}: input {a.shape} {a.dtype} and target {b.shape} {b.dtype} must have the "
            "same shape"
        )


def _float_target(op: str, target: Any, input: Tensor) -> Tensor:
    if not isinstance(target, Tensor):
        target = Tensor(_as_array_like(op, target, input.data, "target"))
    if not np.issubdtype(target.dtype, np.floating):
        target = target.to(input.dtype)
    _check_same_shape(op, input, target)
    _same_dtype(op, input=input.data, target=target.data)
    return target


def binary_cross_entropy(
    input: Tensor, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of probabilities ``input`` ∈ [0, 1] against ``target`` ∈ [0, 1].

    loss = −w [y log p + (1 − y) log(1 − p)]. Prefer :func:`binary_cross_entropy_with_logits`
    on raw scores: it never computes σ(x) and then the log of a rounded-off 0 or 1.
    """
    _check_reduction("binary_cross_entropy", reduction)
    target = _float_target("binary_cross_entropy", target, input)
    xp = input._xp
    if input.size and (bool((input.data < 0).any()) or bool((input.data > 1).any())):
        raise TinyLMError(
            f"binary_cross_entropy: input must be probabilities in [0, 1] (shape {input.shape}, "
            f"min {float(xp.min(input.data))}, max {float(xp.max(input.data))}); "
            "for raw scores use binary_cross_entropy_with_logits"
        )
    w = None if weight is None else _as_array_like("bce", weight, input.data, "weight")
    return BinaryCrossEntropy.apply(input, target, weight=w, reduction=reduction)


class BinaryCrossEntropyWithLogits(Function):
    """Binary cross-entropy on logits x, stable for any |x|.

        loss = max(x, 0) − x y + log(1 + e^{−|x|})
    equals −[y log σ(x) + (1 − y) log(1 − σ(x))], but e^{−|x|} ≤ 1 never overflows and
    log(1 + ·) of it never sees a 0. The fused gradient is simply
        dL/dx = σ(x) − y,        dL/dy = −x.
    With a positive-class weight q (``pos_weight``), loss = (1 − y) x + (1 + (q − 1) y)·sp
    with sp = log(1 + e^{−x}) = log(1 + e^{−|x|}) + max(−x, 0), and
        dL/dx = (1 − y) − (1 + (q − 1) y)(1 − σ(x)),  dL/dy = −x + (q − 1) sp,  dL/dq = y sp.
    """

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
        if weight is not None:
            loss = loss * weight
        ctx.meta = (weight, reduction, loss.shape)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        weight, reduction, shape = ctx.meta
        g = _unreduce(g, shape, reduction)
        if weight is not None:
            g = g * weight
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
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    target = _float_target("binary_cross_entropy_with_logits", target, input)
    w = None if weight is None else _as_array_like("bce", weight, input.data, "weight")
    fn = BinaryCrossEntropyWithLogits
    if pos_weight is None:
        return fn.apply(input, target, weight=w, reduction=reduction)
    if not isinstance(pos_weight, Tensor):
        pos_weight = Tensor(_as_array_like("bce", pos_weight, input.data, "pos_weight"))
    pos_weight = pos_weight.to(input.dtype)
    return fn.apply(input, target, pos_weight, weight=w, reduction=reduction)


class MSELoss(Function):
    """Mean squared error  L = (1/n) Σ (x − y)²;  dL/dx = 2 (x − y) / n,  dL/dy = −dL/dx."""

    @staticmethod
    def forward(ctx: Context, x: Any, y: Any, *, reduction: str) -> Any:
        diff = x - y
        ctx.save_for_backward(diff)
        ctx.meta = (reduction, diff.shape)
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        (diff,) = ctx.saved_arrays
        reduction, shape = ctx.meta
        gx = 2 * _unreduce(g, shape, reduction) * diff
        return gx, (-gx if ctx.needs_input_grad[1] else None)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error, PyTorch's convention:  L = (1/n) Σ_i (ŷ_i − y_i)².

    Its gradient is dL/dŷ_i = 2 (ŷ_i − y_i) / n.

    The source document (001_9e37b42bf89a0dc3.txt, §4.2) writes the per-sample loss with a
    ½ instead: ℓ = ½ (y − ŷ)², chosen so that the 2 from the square cancels and the
    gradient is just dℓ/dŷ = ŷ − y. The two conventions differ only by a constant factor:
        mse_loss(ŷ, y, reduction="sum") = 2 · Σ_i ½ (y_i − ŷ_i)²
        mse_loss(ŷ, y)                   = (2/n) · Σ_i ½ (y_i − ŷ_i)²
    so the minimiser is the same; only the effective learning rate changes (by 2/n).
    ``reduction="sum"`` gives Σ (ŷ − y)², and "none" the elementwise (ŷ − y)².
    """
    _check_reduction("mse_loss", reduction)
    target = _float_target("mse_loss", target, input)
    return MSELoss.apply(input, target, reduction=reduction)


# ---------------------------------------------------------------------------------------
# Scaled dot-product attention
# ---------------------------------------------------------------------------------------


def _causal_keep(xp: Any, tq: int, tk: int) -> Any:
    """(Tq, Tk) bool, True where query i may see key j: j ≤ i (PyTorch's top-left rule)."""
    return xp.arange(tk)[None, :] <= xp.arange(tq)[:, None]


def _masked_softmax(s: Any, keep: Any) -> Any:
    """Softmax over the last axis where only ``keep`` entries take part (keep=None: all).

    A row with no allowed key would be 0/0 = NaN; we define its probabilities as all 0, so
    its output is 0 and no gradient flows through it.
    """
    xp = array_module(s)
    if keep is not None:
        s = xp.where(keep, s, s.dtype.type(-np.inf))
    m = s.max(axis=-1, keepdims=True)
    m = xp.where(xp.isfinite(m), m, s.dtype.type(0))  # fully masked row: shift by 0
    e = xp.exp(s - m)  # exp(−inf) = 0 for masked keys
    z = e.sum(axis=-1, keepdims=True)
    return e / xp.where(z == 0, s.dtype.type(1), z)


class Attention(Function):
    """out = softmax(Q Kᵀ / √d_k + M) V, as four steps with their own backward.

    Forward (shapes: Q (..., Tq, D), K (..., Tk, D), V (..., Tk, Dv)):
        1. S = Q Kᵀ                           (..., Tq, Tk)
        2. S = S · scale  (+ M, an additive float mask; masked-out keys set to −∞)
        3. P = softmax(S) over keys, then P̃ = P ⊙ dropout-mask
        4. out = P̃ V                          (..., Tq, Dv)
    Backward, step by step in reverse (G = dL/d out):
        4. dV = P̃ᵀ G,   dP̃ = G Vᵀ,   dP = dP̃ ⊙ dropout-mask
        3. dS = P ⊙ (dP − rowsum(dP ⊙ P))      (softmax's Jacobian-vector product)
        2. dM = dS,   dS ← dS · scale
        1. dQ = dS K,   dK = dSᵀ Q
    """

    @staticmethod
    def forward(
        ctx: Context, q: Any, k: Any, v: Any, *float_mask: Any, keep: Any, scale: float, drop: Any
    ) -> Any:
        xp = array_module(q)
        s = (q @ xp.swapaxes(k, -1, -2)) * q.dtype.type(scale)  # steps 1 and 2
        if float_mask:
            s = s + float_mask[0]
        p = _masked_softmax(s, keep)  # step 3
        p_dropped = p if drop is None else p * drop
        ctx.save_for_backward(q, k, v, p)
        ctx.meta = (scale, drop, bool(float_mask))
        return p_dropped @ v  # step 4

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        q, k, v, p = ctx.saved_arrays
        scale, drop, has_float_mask = ctx.meta
        xp = array_module(g)
        p_dropped = p if drop is None else p * drop
        gv = xp.swapaxes(p_dropped, -1, -2) @ g  # step 4
        gp = g @ xp.swapaxes(v, -1, -2)
        if drop is not None:
            gp = gp * drop
        gs = p * (gp - (gp * p).sum(axis=-1, keepdims=True))  # step 3
        g_mask = gs if has_float_mask else None  # step 2
        gs = gs * g.dtype.type(scale)
        gq = gs @ k  # step 1
        gk = xp.swapaxes(gs, -1, -2) @ q
        return (gq, gk, gv, g_mask) if has_float_mask else (gq, gk, gv)


def _probs_buffer(ctx: Context, like: Any, b: int, h: int, tq: int, tk: int) -> Any:
    """An array for the forward to save P in, or None: no backward will run (no input needs
    a gradient), or P is too large (or on the GPU) and will be recomputed."""
    if not any(ctx.needs_input_grad) or not attention_keeps_probs(like, b, h, tq, tk):
        return None
    return np.empty((b, h, tq, tk), dtype=like.dtype)


class FusedAttention(Function):
    """The same attention without a mask (optionally causal) and without dropout, by the
    registry's fused kernel: it saves the log-sum-exp of each score row and recomputes the
    (Tq, Tk) matrix P from it in backward, except on the CPU when P is small enough to keep
    (see ``tinylm.kernels.policy.attention_keeps_probs``). Shapes (B, H, T, D)."""

    @staticmethod
    def forward(ctx: Context, q: Any, k: Any, v: Any, *, scale: float, is_causal: bool) -> Any:
        probs = _probs_buffer(ctx, q, *q.shape[:3], k.shape[2])
        out, lse = _kernel("attention_forward", q)(q, k, v, scale, is_causal, probs=probs)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.meta = (scale, is_causal, probs)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any, Any]:
        q, k, v, out, lse = ctx.saved_arrays
        scale, is_causal, probs = ctx.meta
        return _kernel("attention_backward", q)(q, k, v, out, lse, g, scale, is_causal, probs=probs)


def _heads_of(packed: Any, n_parts: int, num_heads: int) -> tuple[Any, ...]:
    """Views (B, H, T, D) of the heads inside a packed (B, T, n_parts·H·D) array, no copy.

    Column c of the packed array is part c // (H·D), head (c // D) % H, feature c % D, which
    is how one Linear(C, 3C) lays out q | k | v with the heads side by side in each.
    """
    b, t, width = packed.shape
    d = width // (n_parts * num_heads)
    parts = packed.reshape(b, t, n_parts, num_heads, d).transpose(2, 0, 3, 1, 4)
    return tuple(parts[i] for i in range(n_parts))


class PackedSelfAttention(Function):
    """Multi-head self-attention from the packed projection qkv (B, T, 3C) to y (B, T, C).

    The same numbers as splitting qkv into q, k, v, moving the heads forward
    ((B, T, C) → (B, H, T, D)), running :class:`FusedAttention` and moving them back. Here
    the kernels read q, k, v *in place* as strided views of qkv, write y straight in the
    (B, T, C) layout, and write dq, dk, dv straight into one (B, T, 3C) gradient. That
    saves the four layout copies forward, the three backward, and the (B, T, 3C) zero-filled
    gradient that each of the three split slices would otherwise scatter into.
    """

    @staticmethod
    def forward(ctx: Context, qkv: Any, *, num_heads: int, scale: float, is_causal: bool) -> Any:
        xp = array_module(qkv)
        b, t, width = qkv.shape
        q, k, v = _heads_of(qkv, 3, num_heads)
        y = xp.empty((b, t, width // 3), dtype=qkv.dtype)
        (y_heads,) = _heads_of(y, 1, num_heads)
        probs = _probs_buffer(ctx, qkv, b, num_heads, t, t)
        attention = _kernel("attention_forward", qkv)
        _, lse = attention(q, k, v, scale, is_causal, out=y_heads, probs=probs)
        ctx.save_for_backward(qkv, y, lse)
        ctx.meta = (num_heads, scale, is_causal, probs)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        qkv, y, lse = ctx.saved_arrays
        num_heads, scale, is_causal, probs = ctx.meta
        gqkv = array_module(qkv).empty_like(qkv)  # every element is written by the kernel
        (y_heads,) = _heads_of(y, 1, num_heads)
        (g_heads,) = _heads_of(g, 1, num_heads)
        _kernel("attention_backward", qkv)(
            *_heads_of(qkv, 3, num_heads), y_heads, lse, g_heads, scale, is_causal,
            grads=_heads_of(gqkv, 3, num_heads), probs=probs,
        )  # fmt: skip
        return gqkv


def packed_self_attention(
    qkv: Tensor, num_heads: int, is_causal: bool = False, scale: float | None = None
) -> Tensor:
    """Multi-head self-attention softmax(Q Kᵀ/√d_k) V from a packed q | k | v projection.

    Args:
        qkv: (B, T, 3C), the output of one ``Linear(C, 3C)``: columns [0, C) are the
            queries, [C, 2C) the keys, [2C, 3C) the values, each with ``num_heads`` heads
            of width D = C / num_heads side by side.
        num_heads: H.
        is_causal: position t attends to positions ≤ t only.
        scale: defaults to 1/√D.
    Returns:
        (B, T, C): the heads' outputs side by side, ready for the output projection.

    Equal to this composition, which is easier to read and is what it computes::

        q, k, v = qkv.split(C, dim=2)
        q, k, v = (x.reshape(B, T, H, D).transpose(1, 2) for x in (q, k, v))
        y = scaled_dot_product_attention(q, k, v, is_causal=is_causal)
        y = y.transpose(1, 2).reshape(B, T, C)

    but without the copies between layouts (see :class:`PackedSelfAttention`).
    """
    op = "packed_self_attention"
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads <= 0:
        raise TinyLMError(f"{op}: num_heads must be a positive int, got {num_heads!r}")
    if qkv.ndim != 3 or qkv.shape[-1] % (3 * num_heads):
        raise TinyLMError(
            f"{op}: qkv must be (B, T, 3C) with C divisible by num_heads={num_heads}, got "
            f"{qkv.shape} {qkv.dtype}"
        )
    if not np.issubdtype(qkv.dtype, np.floating):
        raise TinyLMError(f"{op}: qkv must be floating point, got {qkv.shape} {qkv.dtype}")
    d = qkv.shape[-1] // (3 * num_heads)
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    return PackedSelfAttention.apply(
        qkv, num_heads=num_heads, scale=scale, is_causal=bool(is_causal)
    )


def _attention_keep(attn_mask: Any, is_causal: bool, q: Tensor, k: Tensor) -> tuple[Any, Any]:
    """Split a mask argument into (bool keep-array or None, additive float Tensor or None)."""
    xp = q._xp
    tq, tk = q.shape[-2], k.shape[-2]
    keep = _causal_keep(xp, tq, tk) if is_causal else None
    float_mask = None
    if attn_mask is not None:
        raw = attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask
        raw = _as_array_like("scaled_dot_product_attention", raw, q.data, "attn_mask")
        try:
            np.broadcast_shapes(raw.shape, q.shape[:-2] + (tq, tk))
        except ValueError:
            raise TinyLMError(
                f"scaled_dot_product_attention: attn_mask of shape {raw.shape} does not "
                f"broadcast to the scores' shape {q.shape[:-2] + (tq, tk)}"
            ) from None
        if raw.dtype == bool:
            keep = raw if keep is None else keep & raw
        elif isinstance(attn_mask, Tensor) and np.issubdtype(attn_mask.dtype, np.floating):
            float_mask = attn_mask.to(q.dtype)
        else:
            float_mask = Tensor(raw.astype(q.dtype))
    return keep, float_mask


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V  ("Attention is all you need", eq. 1).

    Args:
        query: (..., Tq, D); key: (..., Tk, D); value: (..., Tk, Dv). Usually (B, H, T, D).
        attn_mask: broadcastable to (..., Tq, Tk). A **bool** mask says which keys each
            query may attend to (True = attend, as in ``torch.nn.functional``); a **float**
            mask is added to the scores (use −inf to block; it receives a gradient).
        dropout_p: dropout on the attention probabilities (always applied when > 0, as in
            PyTorch's functional form; modules pass 0 in eval mode).
        is_causal: query i sees only keys j ≤ i (top-left aligned when Tq ≠ Tk). It may
            be combined with ``attn_mask`` (both must allow a key).
        scale: defaults to 1/√D.
    Returns:
        (..., Tq, Dv). A query row whose keys are all masked out gets zeros (not NaN).

    Without a mask and dropout this runs the fused kernel (:class:`FusedAttention`);
    otherwise the four-step :class:`Attention`, which stores the (Tq, Tk) probabilities.
    """
    op = "scaled_dot_product_attention"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise TinyLMError(f"{op}: query, key and value need ≥ 2 dims (..., T, D)")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise TinyLMError(
            f"{op}: shapes do not fit: query {query.shape}, key {key.shape}, value "
            f"{value.shape}; need query (..., Tq, D), key (..., Tk, D), value (..., Tk, Dv)"
        )
    _same_dtype(op, query=query.data, key=key.data, value=value.data)
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, int | float):
        raise TinyLMError(
            f"{op}: dropout_p must be a number in [0, 1), got {dropout_p!r} "
            "(the argument order is query, key, value, attn_mask, dropout_p, is_causal; "
            "pass is_causal=True by keyword)"
        )
    p = _check_p(op, dropout_p, "dropout_p")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    same_batch = query.shape[:-2] == key.shape[:-2] == value.shape[:-2]
    if attn_mask is None and p == 0.0 and same_batch and query.ndim <= 4:
        lead = (1,) * (4 - query.ndim)  # the kernels take (B, H, T, D)
        q4, k4, v4 = (t.reshape(lead + t.shape) for t in (query, key, value))
        out = FusedAttention.apply(q4, k4, v4, scale=scale, is_causal=bool(is_causal))
        return out.reshape(query.shape[:-1] + (value.shape[-1],)) if lead else out
    keep, float_mask = _attention_keep(attn_mask, bool(is_causal), query, key)
    drop = None
    if p > 0.0:
        scores_shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (
            query.shape[-2],
            key.shape[-2],
        )
        drop = _dropout_mask(scores_shape, p, query.data)
    masks = (float_mask,) if float_mask is not None else ()
    return Attention.apply(query, key, value, *masks, keep=keep, scale=scale, drop=drop)


def attention_weights(
    query: Tensor,
    key: Tensor,
    attn_mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """The attention probabilities P = softmax(Q Kᵀ · scale + mask), (..., Tq, Tk).

    For inspection and plots (no dropout, no gradient); rows with every key masked are 0.
    """
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    keep, float_mask = _attention_keep(attn_mask, bool(is_causal), query, key)
    xp = query._xp
    s = (query.data @ xp.swapaxes(key.data, -1, -2)) * query.dtype.type(scale)
    if float_mask is not None:
        s = s + float_mask.data
    return Tensor._wrap(_masked_softmax(s, keep))
