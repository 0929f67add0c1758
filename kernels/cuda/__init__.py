"""The ``"cupy"`` backend: CUDA C kernels (the ``*.cu`` files in this folder) behind the
signatures of ``kernels/reference.py``, which each op here implements under the same name.

Each ``.cu`` file is compiled by CuPy's NVRTC the first time one of its kernels is needed
(:class:`cupy.RawModule`, cached by CuPy on disk afterwards), from the text that
:mod:`.build` assembles (``common.cuh`` spliced in). The wrappers below take CuPy arrays with
the shapes of :mod:`tinylm.kernels.reference`, bring every array argument to the layout and
dtype its kernel reads (contiguous; float32, or int64 for targets), allocate the outputs,
pick a launch configuration and call the kernel.

The kernels are float32 only. Any other dtype of the first array (float64, float16), an
empty input, or an attention head size without a compiled variant runs the reference
instead (it is array-module generic, so it runs on the GPU through CuPy too). The registry
imports this package only when CuPy is installed and sees a GPU. It also imports without
CuPy, for ``flash_emulation`` (a NumPy replay of ``attention.cu`` that runs anywhere); every
op here is then the reference.

The launch arithmetic (``*_launch``) is plain Python on integers, and the wrappers reach
CuPy only through the module name ``cupy`` and :func:`get_kernel`: the tests replace those two
with NumPy and a recorder to check every launch (grid limits, argument dtypes and layouts)
on a machine without a GPU.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .. import reference
from . import build

try:
    import cupy
except ImportError:  # no CuPy: flash_emulation still imports, and every op is the reference
    cupy = None

KERNEL_DIR = build.KERNEL_DIR
WARPS_PER_BLOCK = build.defines("common.cuh")["WARPS_PER_BLOCK"]  # rows per row-wise block
ATTENTION_HEAD_DIMS = build.attention_head_dims()  # the instantiated variants of attention.cu
ATTENTION_TILES = build.defines("attention.cu")  # FWD_BR, FWD_BC, BWD_BK, BWD_BQ, ...
FLAT_THREADS = 256  # threads per block of the element-wise (grid-stride) kernels
LN_PARAMS_THREADS = 128  # columns per block of layer_norm_backward_params
LN_PARAMS_ROWS = 64  # rows summed by one thread of layer_norm_backward_params, at least

# CUDA's limits on a launch (every GPU since compute capability 3.0)
MAX_GRID_X = 2**31 - 1
MAX_GRID_YZ = 65535
MAX_BLOCK_THREADS = 1024

Launch = tuple[tuple[int, ...], tuple[int, ...]]  # (grid, block), as RawKernel takes them


# ---------------------------------------------------------------- launch arithmetic


def blocks_for(n: int, per_block: int) -> int:
    """ceil(n / per_block), and at least 1: a grid dimension of 0 is a launch error, and a
    kernel's bounds checks already make a block past the end do nothing."""
    return max(1, -(-n // per_block))


def check_launch(grid: tuple[int, ...], block: tuple[int, ...]) -> Launch:
    """``(grid, block)`` unchanged, or ValueError naming the CUDA limit it breaks."""
    limits = (MAX_GRID_X, MAX_GRID_YZ, MAX_GRID_YZ)
    for axis, (size, limit) in enumerate(zip(grid, limits)):
        if not 1 <= size <= limit:
            raise ValueError(f"grid dimension {'xyz'[axis]} = {size} is outside 1..{limit}")
    if not 1 <= math.prod(block) <= MAX_BLOCK_THREADS:
        raise ValueError(f"block {block} is outside 1..{MAX_BLOCK_THREADS} threads")
    return grid, block


def row_launch(n_rows: int) -> Launch:
    """One warp per row, ``WARPS_PER_BLOCK`` rows per block (softmax, cross-entropy, LayerNorm)."""
    return check_launch((blocks_for(n_rows, WARPS_PER_BLOCK),), (32 * WARPS_PER_BLOCK,))


def flat_launch(n: int, threads: int = FLAT_THREADS) -> Launch:
    """A grid-stride loop over ``n`` elements: at most ``MAX_GRID_YZ`` blocks, each thread
    then takes every (blocks * threads)-th element."""
    return check_launch((min(blocks_for(n, threads), MAX_GRID_YZ),), (threads,))


def attention_launch(bh: int, t: int, rows_per_block: int, d: int) -> Launch:
    """(batch x head) in grid.x, blocks of ``rows_per_block`` of the ``t`` rows in grid.y, and
    ``d / COLS_PER_THREAD`` threads per row (attention.cu splits a row of 64 over 2 threads).

    grid.x allows 2^31 - 1 blocks and grid.y only 65 535: B*H is the axis that grows (a batch
    of 2048 sequences of 32 heads is 65 536), T / rows_per_block stays small."""
    threads_per_row = d // ATTENTION_TILES["COLS_PER_THREAD"]
    grid = (max(1, bh), blocks_for(t, rows_per_block))
    return check_launch(grid, (rows_per_block * threads_per_row,))


def layer_norm_params_launch(n_rows: int, n_cols: int) -> tuple[Launch, int]:
    """Launch of ``layer_norm_backward_params`` and its rows per part.

    Each block sums a part of the rows for ``LN_PARAMS_THREADS`` columns (a thread per
    column); grid.y is the number of parts, whose partial sums the host adds."""
    rows_per_part = max(LN_PARAMS_ROWS, -(-n_rows // MAX_GRID_YZ))
    grid = (blocks_for(n_cols, LN_PARAMS_THREADS), blocks_for(n_rows, rows_per_part))
    return check_launch(grid, (LN_PARAMS_THREADS,)), rows_per_part


# ---------------------------------------------------------------- compiling and arguments


@functools.cache
def _module(stem: str) -> Any:
    """Compile ``<stem>.cu`` once (lazily) and return the cupy.RawModule."""
    return cupy.RawModule(
        code=build.source(stem),
        options=build.COMPILE_OPTIONS,
        name_expressions=build.name_expressions(stem) or None,
    )


def get_kernel(stem: str, name: str) -> Any:
    """Kernel ``name`` of ``<stem>.cu`` (a template one as ``"attention_forward<64>"``)."""
    return _module(stem).get_function(name)


def _gpu_kernel_for(fallback):
    """Decorator: run the CUDA kernel for a non-empty float32 CuPy first array; everything
    else takes ``fallback``, the reference op of the same signature."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(first, *args, **kwargs):
            if (
                cupy is None
                or not isinstance(first, cupy.ndarray)
                or first.dtype != np.float32
                or first.size == 0
            ):
                return fallback(first, *args, **kwargs)
            return fn(first, *args, **kwargs)

        return wrapper

    return decorate


#: contiguous()'s copy: CuPy's own copy kernel reads a transpose fast enough (the reference)
c_order_copy = reference.c_order_copy


def _f32(a: Any) -> Any:
    """``a`` as the kernels read it: a contiguous float32 CuPy array (a copy only if needed:
    a float64, broadcast, transposed or strided upstream gradient arrives here too)."""
    return cupy.ascontiguousarray(a, dtype=cupy.float32)


def _rows(a: Any, n_cols: int) -> Any:
    """``a`` as contiguous float32 (rows, n_cols)."""
    return _f32(a).reshape(-1, n_cols)


# ---------------------------------------------------------------- softmax / log-softmax


def _row_op(stem: str, name: str, *arrays: Any) -> Any:
    """Kernel ``name`` over rows of the last axis: (*inputs, out, rows, C)."""
    c = arrays[0].shape[-1]
    rows = [_rows(a, c) for a in arrays]
    out = cupy.empty_like(rows[0])
    n = rows[0].shape[0]
    grid, block = row_launch(n)
    get_kernel(stem, name)(grid, block, (*rows, out, np.int64(n), np.int32(c)))
    return out.reshape(arrays[0].shape)


@_gpu_kernel_for(reference.softmax_forward)
def softmax_forward(x: Any) -> Any:
    """See :func:`reference.softmax_forward`."""
    return _row_op("softmax", "softmax_forward", x)


@_gpu_kernel_for(reference.softmax_backward)
def softmax_backward(y: Any, gy: Any) -> Any:
    """See :func:`reference.softmax_backward`."""
    return _row_op("softmax", "softmax_backward", y, gy)


@_gpu_kernel_for(reference.log_softmax_forward)
def log_softmax_forward(x: Any) -> Any:
    """See :func:`reference.log_softmax_forward`."""
    return _row_op("softmax", "log_softmax_forward", x)


@_gpu_kernel_for(reference.log_softmax_backward)
def log_softmax_backward(y: Any, gy: Any) -> Any:
    """See :func:`reference.log_softmax_backward`."""
    return _row_op("softmax", "log_softmax_backward", y, gy)


# ---------------------------------------------------------------- cross-entropy


def _targets(target: Any, n_classes: int, ignore_index: int) -> Any:
    """``target`` as contiguous int64, after the range check the CPU kernels make (the kernel
    would read logits[t] out of bounds). ``bad.any()`` waits for the GPU: one bool per call."""
    t = cupy.ascontiguousarray(target, dtype=cupy.int64)
    bad = ((t < 0) | (t >= n_classes)) & (t != ignore_index)
    if bool(bad.any()):
        raise IndexError(f"target {int(t[bad][0])} out of range for {n_classes} classes")
    return t


@_gpu_kernel_for(reference.cross_entropy_forward)
def cross_entropy_forward(
    logits: Any,
    target: Any,
    ignore_index: int = -100,
    probs: Any = None,
    dlogits: Any = None,
    grad_scale: float = 1.0,
) -> tuple[Any, Any]:
    """See :func:`reference.cross_entropy_forward`. The kernel keeps no softmax and writes no
    gradient: a request for either (``probs``, ``dlogits``, which the CPU policy alone makes)
    takes the reference."""
    if probs is not None or dlogits is not None:
        return reference.cross_entropy_forward(
            logits, target, ignore_index, probs=probs, dlogits=dlogits, grad_scale=grad_scale
        )
    n, v = logits.shape
    logits2 = _f32(logits)
    target2 = _targets(target, v, ignore_index)
    loss = cupy.empty(n, dtype=cupy.float32)
    lse = cupy.empty_like(loss)
    grid, block = row_launch(n)
    get_kernel("cross_entropy", "cross_entropy_forward")(
        grid, block, (logits2, target2, np.int64(ignore_index), loss, lse, np.int64(n), np.int32(v))
    )
    return loss, lse


@_gpu_kernel_for(reference.cross_entropy_backward)
def cross_entropy_backward(
    logits: Any,
    target: Any,
    lse: Any,
    grad_rows: Any,
    ignore_index: int = -100,
    probs: Any = None,
) -> Any:
    """See :func:`reference.cross_entropy_backward` (``probs`` given: the reference)."""
    if probs is not None:
        return reference.cross_entropy_backward(
            logits, target, lse, grad_rows, ignore_index, probs=probs
        )
    n, v = logits.shape
    logits2 = _f32(logits)
    d = cupy.empty_like(logits2)
    grid, block = row_launch(n)
    get_kernel("cross_entropy", "cross_entropy_backward")(
        grid,
        block,
        (
            logits2,
            _targets(target, v, ignore_index),
            _f32(lse),
            _f32(grad_rows),
            np.int64(ignore_index),
            d,
            np.int64(n),
            np.int32(v),
        ),
    )
    return d


# ---------------------------------------------------------------- LayerNorm


@_gpu_kernel_for(reference.layer_norm_forward)
def layer_norm_forward(x: Any, weight: Any, bias: Any, eps: float = 1e-5) -> tuple[Any, Any, Any]:
    """See :func:`reference.layer_norm_forward`."""
    c = x.shape[-1]
    x2 = _rows(x, c)
    n = x2.shape[0]
    y = cupy.empty_like(x2)
    mean = cupy.empty(n, dtype=cupy.float32)
    rstd = cupy.empty_like(mean)
    grid, block = row_launch(n)
    get_kernel("layer_norm", "layer_norm_forward")(
        grid,
        block,
        (x2, _f32(weight), _f32(bias), np.float32(eps), y, mean, rstd, np.int64(n), np.int32(c)),
    )
    return y.reshape(x.shape), mean.reshape(x.shape[:-1]), rstd.reshape(x.shape[:-1])


@_gpu_kernel_for(reference.layer_norm_backward)
def layer_norm_backward(gy: Any, x: Any, weight: Any, mean: Any, rstd: Any) -> tuple[Any, Any, Any]:
    """See :func:`reference.layer_norm_backward`.

    gweight and gbias are sums over all rows: each block of ``layer_norm_backward_params``
    sums one part of the rows into a (parts, C) buffer, and the host adds the parts (no
    atomics, so the result does not depend on the order blocks finish in)."""
    c = x.shape[-1]
    gy2, x2 = _rows(gy, c), _rows(x, c)
    n = x2.shape[0]
    mean1, rstd1, w = _f32(mean).reshape(-1), _f32(rstd).reshape(-1), _f32(weight)
    gx = cupy.empty_like(x2)
    grid, block = row_launch(n)
    get_kernel("layer_norm", "layer_norm_backward_input")(
        grid, block, (gy2, x2, w, mean1, rstd1, gx, np.int64(n), np.int32(c))
    )
    (grid, block), rows_per_part = layer_norm_params_launch(n, c)
    parts = grid[1]
    gweight_parts = cupy.empty((parts, c), dtype=cupy.float32)
    gbias_parts = cupy.empty_like(gweight_parts)
    get_kernel("layer_norm", "layer_norm_backward_params")(
        grid,
        block,
        (
            gy2, x2, mean1, rstd1, gweight_parts, gbias_parts,
            np.int64(n), np.int32(c), np.int64(rows_per_part),
        ),
    )  # fmt: skip
    return gx.reshape(x.shape), gweight_parts.sum(axis=0), gbias_parts.sum(axis=0)


# ---------------------------------------------------------------- GELU


def _gelu_launch(name: str, *arrays: Any) -> Any:
    """Kernel ``name`` of gelu.cu over the flattened arrays: (x, [gy,] out, n)."""
    flat = [_f32(a).reshape(-1) for a in arrays]
    out = cupy.empty_like(flat[0])
    grid, block = flat_launch(flat[0].size)
    get_kernel("gelu", name)(grid, block, (*flat, out, np.int64(flat[0].size)))
    return out.reshape(arrays[0].shape)


@_gpu_kernel_for(reference.gelu_forward)
def gelu_forward(x: Any, derivative: Any = None) -> Any:
    """See :func:`reference.gelu_forward`; the GPU keeps no derivative (a request for it takes
    the reference)."""
    if derivative is not None:
        return reference.gelu_forward(x, derivative)
    return _gelu_launch("gelu_forward", x)


@_gpu_kernel_for(reference.gelu_backward)
def gelu_backward(x: Any, gy: Any, derivative: Any = None) -> Any:
    """See :func:`reference.gelu_backward` (``derivative`` given: the reference)."""
    if derivative is not None:
        return reference.gelu_backward(x, gy, derivative)
    return _gelu_launch("gelu_backward", x, gy)


@_gpu_kernel_for(reference.gelu_exact_forward)
def gelu_exact_forward(x: Any, derivative: Any = None) -> Any:
    """See :func:`reference.gelu_exact_forward`; the GPU keeps no derivative (a request for it takes
    the reference)."""
    if derivative is not None:
        return reference.gelu_exact_forward(x, derivative)
    return _gelu_launch("gelu_exact_forward", x)


@_gpu_kernel_for(reference.gelu_exact_backward)
def gelu_exact_backward(x: Any, gy: Any, derivative: Any = None) -> Any:
    """See :func:`reference.gelu_exact_backward` (``derivative`` given: the reference)."""
    if derivative is not None:
        return reference.gelu_exact_backward(x, gy, derivative)
    return _gelu_launch("gelu_exact_backward", x, gy)


# ---------------------------------------------------------------- attention


def _heads(a: Any) -> Any:
    """(..., T, D) as contiguous float32 (B*H, T, D)."""
    return _f32(a).reshape(-1, a.shape[-2], a.shape[-1])


def _attention_supported(q: Any, k: Any, v: Any) -> bool:
    d = q.shape[-1]
    return d in ATTENTION_HEAD_DIMS and v.shape[-1] == d and k.size > 0


@_gpu_kernel_for(reference.attention_forward)
def attention_forward(
    q: Any,
    k: Any,
    v: Any,
    scale: float,
    is_causal: bool = False,
    out: Any = None,
    probs: Any = None,
) -> tuple[Any, Any]:
    """Flash-attention forward; see :func:`reference.attention_forward`.

    The flash kernel never forms P, so a request to save it (``probs``) takes the reference."""
    if probs is not None or not _attention_supported(q, k, v):
        return reference.attention_forward(q, k, v, scale, is_causal, out=out, probs=probs)
    b, h, tq, d = q.shape
    tk = k.shape[-2]
    q3, k3, v3 = _heads(q), _heads(k), _heads(v)
    o3 = cupy.empty_like(q3)
    lse = cupy.empty((b * h, tq), dtype=cupy.float32)
    grid, block = attention_launch(b * h, tq, ATTENTION_TILES["FWD_BR"], d)
    get_kernel("attention", f"attention_forward<{d}>")(
        grid,
        block,
        (q3, k3, v3, o3, lse, np.int32(tq), np.int32(tk), np.float32(scale), np.int32(is_causal)),
    )
    return reference.write_into(out, o3.reshape(b, h, tq, d)), lse.reshape(b, h, tq)


@_gpu_kernel_for(reference.attention_backward)
def attention_backward(
    q: Any,
    k: Any,
    v: Any,
    out: Any,
    lse: Any,
    gout: Any,
    scale: float,
    is_causal: bool = False,
    grads: tuple[Any, Any, Any] | None = None,
    probs: Any = None,
) -> tuple[Any, Any, Any]:
    """Flash-attention backward (no atomics); see :func:`reference.attention_backward`."""
    if probs is not None or not _attention_supported(q, k, v):
        return reference.attention_backward(
            q, k, v, out, lse, gout, scale, is_causal, grads=grads, probs=probs
        )
    b, h, tq, d = q.shape
    tk = k.shape[-2]
    q3, k3, v3, o3, g3 = _heads(q), _heads(k), _heads(v), _heads(out), _heads(gout)
    lse2 = _f32(lse).reshape(b * h, tq)
    delta = cupy.empty((b * h, tq), dtype=cupy.float32)
    rows = b * h * tq
    grid, block = flat_launch(rows)
    get_kernel("attention", f"attention_backward_delta<{d}>")(
        grid, block, (o3, g3, delta, np.int64(rows))
    )
    gq, gk, gv = cupy.empty_like(q3), cupy.empty_like(k3), cupy.empty_like(v3)
    common = (np.int32(tq), np.int32(tk), np.float32(scale), np.int32(is_causal))
    grid, block = attention_launch(b * h, tk, ATTENTION_TILES["BWD_BK"], d)
    get_kernel("attention", f"attention_backward_dkdv<{d}>")(
        grid, block, (q3, k3, v3, g3, lse2, delta, gk, gv, *common)
    )
    grid, block = attention_launch(b * h, tq, ATTENTION_TILES["FWD_BR"], d)
    get_kernel("attention", f"attention_backward_dq<{d}>")(
        grid, block, (q3, k3, v3, g3, lse2, delta, gq, *common)
    )
    results = (gq.reshape(q.shape), gk.reshape(k.shape), gv.reshape(v.shape))
    dests = grads if grads is not None else (None, None, None)
    return tuple(
        reference.write_into(dest, result) for dest, result in zip(dests, results, strict=True)
    )


# ---------------------------------------------------------------- Adam / AdamW


def adam_scalars(
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    decoupled: bool,
) -> tuple[np.float32, ...]:
    """The scalar arguments of adam.cu's kernel, computed on the host in float64 and rounded
    once to float32, as the reference's ``param *= 1.0 - lr * weight_decay`` rounds its
    Python floats: (beta1, 1 - beta1, beta2, 1 - beta2, eps, decay, l2, step_size, bc2_sqrt).

    decay = 1 - lr * weight_decay (AdamW) or 1 (Adam); l2 = weight_decay (Adam) or 0 (AdamW);
    step_size = lr / (1 - beta1^step); bc2_sqrt = sqrt(1 - beta2^step)."""
    decay = 1.0 - lr * weight_decay if decoupled else 1.0
    l2 = 0.0 if decoupled else weight_decay
    step_size = lr / (1.0 - beta1**step)
    bc2_sqrt = math.sqrt(1.0 - beta2**step)
    values = (beta1, 1.0 - beta1, beta2, 1.0 - beta2, eps, decay, l2, step_size, bc2_sqrt)
    return tuple(np.float32(value) for value in values)


@_gpu_kernel_for(reference.adam_update)
def adam_update(
    param: Any,
    grad: Any,
    exp_avg: Any,
    exp_avg_sq: Any,
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    step: int,
    decoupled: bool,
) -> None:
    """One Adam/AdamW step in place; see :func:`reference.adam_update`.

    ``param``, ``exp_avg`` and ``exp_avg_sq`` are updated where they are, so they must be
    contiguous float32 for the kernel (else the reference runs); ``grad`` is only read and
    may come in any layout or float dtype."""
    hyper = dict(
        lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, step=step,
        decoupled=decoupled,
    )  # fmt: skip
    state = (param, exp_avg, exp_avg_sq)
    if not all(
        isinstance(a, cupy.ndarray) and a.flags.c_contiguous and a.dtype == cupy.float32
        for a in state
    ):
        reference.adam_update(param, grad, exp_avg, exp_avg_sq, **hyper)
        return
    grid, block = flat_launch(param.size)
    get_kernel("adam", "adam_update")(
        grid,
        block,
        (
            param.reshape(-1),
            _f32(grad).reshape(-1),
            exp_avg.reshape(-1),
            exp_avg_sq.reshape(-1),
            *adam_scalars(**hyper),
            np.int64(param.size),
        ),
    )


# ---------------------------------------------------------------- int8 linear (inference)


@_gpu_kernel_for(reference.int8_linear)
def int8_linear(x: Any, qweight: Any, scale: Any, bias: Any = None) -> Any:
    """x (..., K) @ dequant(qweight (N, K) int8, scale (N,))ᵀ + bias → (..., N); see
    :func:`reference.int8_linear`. One warp per output entry (``row_launch`` over M·N)."""
    n_out, k = qweight.shape
    x2 = _rows(x, k)
    m = x2.shape[0]
    q = cupy.ascontiguousarray(qweight, dtype=cupy.int8)
    b = cupy.zeros(n_out, dtype=cupy.float32) if bias is None else _f32(bias)
    y = cupy.empty((m, n_out), dtype=cupy.float32)
    grid, block = row_launch(m * n_out)
    get_kernel("int8_linear", "int8_linear")(
        grid, block, (x2, q, _f32(scale), b, y, np.int64(m), np.int32(n_out), np.int32(k))
    )
    return y.reshape(*x.shape[:-1], n_out)


# ---------------------------------------------------------------- LSTM cell


@_gpu_kernel_for(reference.lstm_cell_forward)
def lstm_cell_forward(gates: Any, c_prev: Any) -> tuple[Any, Any, Any]:
    """h, c, act of one LSTM step; see :func:`reference.lstm_cell_forward`."""
    hs = reference.lstm_hidden_size(gates, c_prev)
    g2, c2 = _rows(gates, 4 * hs), _rows(c_prev, hs)
    h, c, act = cupy.empty_like(c2), cupy.empty_like(c2), cupy.empty_like(g2)
    n = c2.size
    grid, block = flat_launch(n)
    get_kernel("lstm", "lstm_cell_forward")(
        grid, block, (g2, c2, h, c, act, np.int64(n), np.int32(hs))
    )
    return h.reshape(c_prev.shape), c.reshape(c_prev.shape), act.reshape(gates.shape)


@_gpu_kernel_for(reference.lstm_cell_backward)
def lstm_cell_backward(act: Any, c_prev: Any, c: Any, dh: Any, dc: Any) -> tuple[Any, Any]:
    """dgates, dc_prev of one LSTM step; see :func:`reference.lstm_cell_backward`."""
    hs = reference.lstm_hidden_size(act, c_prev)
    a2 = _rows(act, 4 * hs)
    rest = [_rows(a, hs) for a in (c_prev, c, dh, dc)]
    dgates, dc_prev = cupy.empty_like(a2), cupy.empty_like(rest[0])
    n = rest[0].size
    grid, block = flat_launch(n)
    get_kernel("lstm", "lstm_cell_backward")(
        grid, block, (a2, *rest, dgates, dc_prev, np.int64(n), np.int32(hs))
    )
    return dgates.reshape(act.shape), dc_prev.reshape(c_prev.shape)


# ---------------------------------------------------------------- LSTM recurrence


def lstm_recurrence_forward(
    xproj: Any, w_hh: Any, h0: Any, c0: Any, mask: Any = None
) -> tuple[Any, Any, Any, Any]:
    """One LSTM layer over T steps; see :func:`reference.lstm_recurrence_forward`. The steps
    are launched from the host: per step a cuBLAS product and the fused cell kernel above."""
    return reference.lstm_recurrence_forward(xproj, w_hh, h0, c0, mask, cell=lstm_cell_forward)


def lstm_recurrence_backward(
    g: Any, act: Any, states_h: Any, states_c: Any, w_hh: Any, mask: Any = None
) -> tuple[Any, Any, Any, Any]:
    """Backpropagation through time; see :func:`reference.lstm_recurrence_backward`, with the
    fused cell backward kernel above at each step."""
    return reference.lstm_recurrence_backward(
        g, act, states_h, states_c, w_hh, mask, cell=lstm_cell_backward
    )


# ---------------------------------------------------------------- a block's decoding step


def transformer_block_decode(x: Any, cache_k: Any, cache_v: Any, pos: int, *rest: Any) -> Any:
    """One decoding step of a transformer block; see
    :func:`reference.transformer_block_decode`. On the GPU the reference's composition (its
    ops run through CuPy): ``nn.TransformerBlock`` takes this fused path on the CPU only, where
    the Python around each op, not the arithmetic, is what a step costs."""
    return reference.transformer_block_decode(x, cache_k, cache_v, pos, *rest)
