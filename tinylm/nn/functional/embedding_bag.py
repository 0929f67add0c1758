"""``embedding_bag``: the sum, mean or max of the embeddings of each bag of indices, without
the (bags, bag length, D) tensor a lookup followed by a reduction would make.
``bilinear``: y = x₁ᵀ W x₂ + b per output feature."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.determinism import alert_if_nondeterministic
from tinylm.devices import array_module
from tinylm.nn.functional.common import as_array, check_same_dtype
from tinylm.tensor import Tensor

__all__ = ["EMBEDDING_BAG_MODES", "bilinear", "embedding_bag"]

EMBEDDING_BAG_MODES = ("sum", "mean", "max")


class _EmbeddingBag(Function):
    """y[b] = reduce over the indices i of bag b (those ≠ padding_idx) of a_i · W[idx_i],
    with a_i the per-sample weight (1 without), reduce one of sum, mean (sum / the count
    of bag b), max (per feature; an empty bag gives zeros).

    Shapes: W (V, D), per-sample weights a (M,); ``indices`` (M,), ``bag_of`` (M,) the bag of
    each index → y (B, D).
    Backward, g = dL/dy (B, D):
        sum/mean: dL/dW[v] = Σ_{i: idx_i = v} g[bag_i] · a_i (/ count of bag_i for mean);
                  dL/da_i = g[bag_i] · W[idx_i]
        max:      dL/dW[v, d] = Σ_{b: the max of feature d in bag b came from row v} g[b, d]
                  (PyTorch's choice at a tie: the first index of the bag holding it)
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)

    @staticmethod
    def forward(
        ctx: Context,
        weight: Any,
        *per_sample: Any,
        indices: Any,
        bag_of: Any,
        num_bags: int,
        mode: str,
    ) -> Any:
        xp = array_module(weight)
        dim = weight.shape[1]
        rows = weight[indices]  # (M, D), only the indices that count
        if per_sample:
            rows = rows * per_sample[0][:, None]
        counts = xp.bincount(bag_of, minlength=num_bags)
        if mode == "max":
            y = xp.full((num_bags, dim), -xp.inf, dtype=weight.dtype)
            xp.maximum.at(y, bag_of, rows)
            # the first index of each bag holding the maximum of each feature
            first = xp.full((num_bags, dim), len(indices), dtype=np.int64)
            hit = xp.where(rows == y[bag_of], xp.arange(len(indices))[:, None], len(indices))
            xp.minimum.at(first, bag_of, hit)
            full = counts > 0
            y[~full] = 0
            ctx.argmax = (indices[first[full]], full)  # rows of W, (bags with any, D)
        else:
            y = xp.zeros((num_bags, dim), dtype=weight.dtype)
            alert_if_nondeterministic("embedding_bag", y)
            xp.add.at(y, bag_of, rows)
            if mode == "mean":
                y /= xp.maximum(counts, 1)[:, None].astype(weight.dtype)
        ctx.save_for_backward(weight, *per_sample)
        ctx.meta = (indices, bag_of, counts, mode)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        weight, *per_sample = ctx.saved_arrays
        indices, bag_of, counts, mode = ctx.meta
        xp = array_module(g)
        gw = xp.zeros(weight.shape, dtype=g.dtype)
        alert_if_nondeterministic("embedding_bag backward", gw)
        if mode == "max":
            rows, full = ctx.argmax
            xp.add.at(gw, (rows, xp.arange(weight.shape[1])[None, :]), g[full])
            return (gw, None) if per_sample else gw
        share = g[bag_of]  # (M, D): each index's bag's gradient
        if mode == "mean":
            share = share / xp.maximum(counts, 1)[bag_of][:, None].astype(g.dtype)
        if not per_sample:
            xp.add.at(gw, indices, share)
            return gw
        xp.add.at(gw, indices, share * per_sample[0][:, None])
        ga = (share * weight[indices]).sum(axis=1) if ctx.needs_input_grad[1] else None
        return gw, ga


def _index_array(op: str, value: Any, like: Any, what: str) -> Any:
    idx = as_array(op, value, like, what)
    if not array_module(idx).issubdtype(idx.dtype, np.integer) or idx.dtype == np.uint8:
        raise TinyLMError(f"{op}: {what} must be int64 or int32, got dtype {idx.dtype}")
    return idx.astype(np.int64)


def embedding_bag(
    input: Any,
    weight: Tensor,
    offsets: Any = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """The sum, mean or max of the rows of ``weight`` that each bag of indices looks up, as
    ``torch.nn.functional.embedding_bag``.

    Args:
        input: indices in [0, V): 2-D (B, L), B bags of L indices each (then no
            ``offsets``), or 1-D (M,) with ``offsets``.
        weight: the table (V, D).
        offsets: 1-D, where each bag starts in ``input``: 0 first, not decreasing, at
            most M; the last bag runs to the end (with ``include_last_offset`` the last
            offset must be M, and there is one bag fewer). An empty bag gives zeros.
        mode: "sum", "mean" or "max".
        per_sample_weights: a weight per index (input's shape, weight's dtype), "sum" only.
        padding_idx: indices equal to it are left out of their bag (not counted in a mean).
        max_norm, scale_grad_by_freq, sparse: refused (no renormalising lookups, no
            frequency scaling, no sparse gradients).
    Returns:
        (B, D).
    """
    op = "embedding_bag"
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise TinyLMError(
            f"{op}: max_norm, scale_grad_by_freq and sparse=True are not supported; leave "
            "them at their defaults"
        )
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise TinyLMError(f"{op}: weight must be a 2-D Tensor (V, D), got {weight!r:.60}")
    if mode not in EMBEDDING_BAG_MODES:
        raise TinyLMError(f"{op}: mode must be one of {EMBEDDING_BAG_MODES}, got {mode!r}")
    idx = _index_array(op, input, weight.data, "input")
    xp = array_module(idx)
    num = weight.shape[0]
    if idx.ndim == 2:
        if offsets is not None:
            raise TinyLMError(
                f"{op}: input {idx.shape} is 2-D (bags of equal length), so offsets must be None"
            )
        num_bags, length = idx.shape
        starts = np.arange(num_bags) * length
    elif idx.ndim == 1:
        if offsets is None:
            raise TinyLMError(f"{op}: a 1-D input {idx.shape} needs 1-D offsets (where bags start)")
        starts = np.asarray(_index_array(op, offsets, np.zeros(0), "offsets"))
        if starts.ndim != 1:
            raise TinyLMError(f"{op}: offsets must be 1-D, got shape {starts.shape}")
        if starts.size and starts[0] != 0:
            raise TinyLMError(
                f"{op}: offsets[0] must be 0 (the first bag starts there), got {starts[0]}"
            )
        if (np.diff(starts) < 0).any() or (starts.size and starts[-1] > idx.size):
            raise TinyLMError(
                f"{op}: offsets must not decrease nor exceed the input's length {idx.size}, "
                f"got {starts.tolist()}"[:200]
            )
        if include_last_offset:
            if starts.size == 0 or starts[-1] != idx.size:
                # PyTorch's CPU kernel then ends the last bag at the input's end anyway
                raise TinyLMError(
                    f"{op}: with include_last_offset the last offset must be the input's "
                    f"length {idx.size} (CSR form), got {starts.tolist()}"[:200]
                )
            num_bags = starts.size - 1
        else:
            num_bags = starts.size
    else:
        raise TinyLMError(f"{op}: input must be 1-D or 2-D, got shape {idx.shape}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise TinyLMError(f"{op}: index {bad} is out of range for a table of {num} rows")
    flat = idx.reshape(-1)
    # bag of each index: the number of bag starts at or before its position, minus one
    bag_of = np.searchsorted(starts, np.arange(flat.size), side="right") - 1
    keep = bag_of >= 0
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise TinyLMError(f"{op}: padding_idx {padding_idx} out of range for {num} rows")
        keep &= np.asarray(flat.get() if hasattr(flat, "get") else flat) != padding_idx % num
    tensors = [weight]
    if per_sample_weights is not None:
        if mode != "sum":
            raise TinyLMError(f"{op}: per_sample_weights is only supported for mode='sum'")
        if (
            not isinstance(per_sample_weights, Tensor)
            or tuple(per_sample_weights.shape) != idx.shape
        ):
            raise TinyLMError(
                f"{op}: per_sample_weights must be a Tensor of the input's shape {idx.shape}, "
                f"got {getattr(per_sample_weights, 'shape', per_sample_weights)!r:.60}"
            )
        check_same_dtype(op, weight=weight, per_sample_weights=per_sample_weights)
        kept = xp.asarray(np.flatnonzero(keep))
        tensors.append(per_sample_weights.reshape(-1)[Tensor._wrap(kept)])
    return _EmbeddingBag.apply(
        *tensors,
        indices=flat[xp.asarray(keep)],
        bag_of=xp.asarray(bag_of[keep]),
        num_bags=int(num_bags),
        mode=mode,
    )


class _Bilinear(Function):
    """y[n, o] = Σ_i Σ_j x₁[n, i] W[o, i, j] x₂[n, j] + b[o].

    Shapes: x₁ (N, I), x₂ (N, J), W (O, I, J), b (O,) → y (N, O).
    Backward, g = dL/dy (N, O):
        dL/dx₁[n, i] = Σ_o Σ_j g[n, o] W[o, i, j] x₂[n, j]
        dL/dx₂[n, j] = Σ_o Σ_i g[n, o] W[o, i, j] x₁[n, i]
        dL/dW[o, i, j] = Σ_n g[n, o] x₁[n, i] x₂[n, j],      dL/db[o] = Σ_n g[n, o]
    """

    fresh_grads = True  # backward returns new arrays only (autograd.Function)
    silences_fp_warnings = True  # inf/nan inputs: BLAS's products warn, PyTorch's do not

    @staticmethod
    def forward(ctx: Context, x1: Any, x2: Any, weight: Any, *bias: Any) -> Any:
        xp = array_module(x1)
        y = xp.einsum("ni,oij,nj->no", x1, weight, x2, optimize=True)
        if bias:
            y += bias[0]
        ctx.save_for_backward(x1, x2, weight)
        ctx.has_bias = bool(bias)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, ...]:
        x1, x2, weight = ctx.saved_arrays
        xp = array_module(g)
        needs = ctx.needs_input_grad
        g1 = xp.einsum("no,oij,nj->ni", g, weight, x2, optimize=True) if needs[0] else None
        g2 = xp.einsum("no,oij,ni->nj", g, weight, x1, optimize=True) if needs[1] else None
        gw = xp.einsum("no,ni,nj->oij", g, x1, x2, optimize=True) if needs[2] else None
        if not ctx.has_bias:
            return g1, g2, gw
        return g1, g2, gw, (g.sum(axis=0) if needs[3] else None)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x₁ᵀ W_o x₂ + b_o for every output feature o, as ``torch.nn.functional.bilinear``.

    Shapes: input1 (*, I), input2 (*, J) with the same leading dims *, weight (O, I, J),
    bias (O,) → (*, O).
    """
    op = "bilinear"
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TinyLMError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if weight.ndim != 3:
        raise TinyLMError(f"{op}: weight must be 3-D (O, I, J), got shape {tuple(weight.shape)}")
    out, i, j = weight.shape
    if input1.ndim < 1 or input1.shape[-1] != i or input2.ndim < 1 or input2.shape[-1] != j:
        raise TinyLMError(
            f"{op}: inputs {tuple(input1.shape)} and {tuple(input2.shape)} do not fit weight "
            f"{tuple(weight.shape)}: need (*, {i}) and (*, {j})"
        )
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise TinyLMError(
            f"{op}: the leading dims of input1 {tuple(input1.shape)} and input2 "
            f"{tuple(input2.shape)} must be equal"
        )
    if bias is not None and tuple(bias.shape) != (out,):
        raise TinyLMError(f"{op}: bias has shape {tuple(bias.shape)}, expected ({out},)")
    if input1.dtype.kind != "f":
        raise TinyLMError(f"{op}: inputs must be float tensors, got {input1.dtype}")
    check_same_dtype(op, input1=input1, input2=input2, weight=weight, bias=bias)
    lead = tuple(input1.shape[:-1])
    tensors = [input1.reshape(-1, i), input2.reshape(-1, j), weight]
    if bias is not None:
        tensors.append(bias)
    return _Bilinear.apply(*tensors).reshape(*lead, out)
