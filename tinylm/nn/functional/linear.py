"""The linear layer y = x Wᵀ + b and the embedding lookup y = W[idx]."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.determinism import alert_if_nondeterministic
from tinylm.devices import array_module
from tinylm.kernels.parallel import note_blas_product
from tinylm.nn.functional.common import as_array, check_same_dtype
from tinylm.tensor import Tensor

__all__ = ["embedding", "linear"]


class _Linear(Function):
    """y = x Wᵀ + b.

    Shapes: x (..., in), W (out, in), b (out,) → y (..., out).
    With the leading axes flattened into N rows (x₂ (N, in), g₂ = dL/dy as (N, out)):
        dL/dx = g₂ W            (N, out)(out, in) → (N, in)
        dL/dW = g₂ᵀ x₂          (out, N)(N, in) → (out, in), summed over all N rows at once
        dL/db = Σ_rows g₂ = 1ᵀ g₂  (out,)
    One matrix product each, instead of the batched products of a composed ``x @ W.T + b``;
    the bias's row sum too, as a product with a vector of ones (BLAS's gemv: 2.5x faster
    than NumPy's ``g₂.sum(axis=0)`` at the GPT's shapes, and summed more accurately).
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

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
        if x.dtype != weight.dtype or (b is not None and b.dtype != x.dtype):
            check_same_dtype("linear", input=x, weight=weight, bias=b)  # raises, naming them
        x2 = x.reshape(-1, x.shape[-1])
        # matmul, not x2.dot(weight.T): same on one thread, but dot was 25–40 % slower on
        # OpenBLAS's two threads at a GPT layer's shapes (kernels/README.md, "dot or matmul")
        y = x2 @ weight.T
        note_blas_product()  # BLAS's threads spin for a while now (kernels/parallel.py)
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
        gb = None
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = array_module(g2).ones(g2.shape[0], dtype=g2.dtype) @ g2
        note_blas_product()
        return (gx, gw, gb) if ctx.has_bias else (gx, gw)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b; input (..., in), weight (out, in), bias (out,) → (..., out)."""
    if bias is None:
        return _Linear.apply(input, weight)
    return _Linear.apply(input, weight, bias)


# Up to this many rows (character-level vocabularies) the embedding gradient is a one-hot
# matrix product, faster there; above it, a sort and a segmented sum.
_ONE_HOT_MAX_ROWS = 256


class _Embedding(Function):
    """y = W[idx]: row idx[n] of the table W for every index n.

    Shapes: W (V, D), idx (...) integers in [0, V) → y (..., D).
    Backward: row v of dL/dW is the sum of the upstream gradients of every position that
    looked up v:  dL/dW_v = Σ_{n: idx_n = v} g_n.  (Plain ``gW[idx] += g`` would keep only
    one of several positions that share a token.) On the CPU we compute that sum as
    * a one-hot product, onehot(idx)ᵀ g, when V is small (≤ 256 rows), or else
    * sort the positions by token and sum each run of equal tokens with ``add.reduceat``;
    both much faster than ``np.add.at`` (figures in kernels/README.md). On a GPU
    ``cupy.add.at`` uses atomics.
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
            alert_if_nondeterministic("embedding backward", gw)
            xp.add.at(gw, idx, g2)
        elif num <= _ONE_HOT_MAX_ROWS:
            one_hot = np.zeros((num, idx.size), dtype=g.dtype)
            one_hot[idx, np.arange(idx.size)] = 1
            gw = one_hot @ g2
            note_blas_product()
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
    idx = as_array("embedding", input, weight.data, "the indices")
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
    return _Embedding.apply(weight, indices=idx, padding_idx=padding_idx)
