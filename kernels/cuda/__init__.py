"""The ``"cupy"`` backend: CUDA C kernels (the ``*.cu`` files in this folder) behind the
signatures of ``kernels/reference.py``, which each op here implements under the same name.

Each ``.cu`` file is compiled by CuPy's NVRTC the first time one of its kernels is needed
(:class:`cupy.RawModule`, cached by CuPy on disk afterwards). The wrappers below take CuPy
arrays with the shapes of :mod:`tinylm.kernels.reference`, make them contiguous, allocate the
outputs, pick a launch configuration and call the kernel.

The kernels are float32 only. Any other dtype (float64, float16), or an attention head size
without a compiled variant, runs the reference instead (it is array-module generic, so it
runs on the GPU through CuPy too). The registry imports this package only when CuPy is
installed and sees a GPU. It also imports without CuPy, for ``flash_emulation`` (a NumPy
replay of ``attention.cu`` that runs anywhere); every op here is then the reference.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import reference

try:
    import cupy
except ImportError:  # no CuPy: flash_emulation still imports, and every op is the reference
    cupy = None

KERNEL_DIR = Path(__file__).resolve().parent  # the .cu files and common.cuh
WARPS_PER_BLOCK = 4  # must match common.cuh: one warp per row, 4 rows per block
ATTENTION_HEAD_DIMS = (32, 64)  # the instantiated template variants of attention.cu
FWD_BR, BWD_BK = 64, 64  # threads per block of the attention kernels (see attention.cu)

_ATTENTION_NAMES = tuple(
    f"{kernel}<{d}>"
    for d in ATTENTION_HEAD_DIMS
    for kernel in (
        "attention_forward",
        "attention_backward_delta",
        "attention_backward_dkdv",
        "attention_backward_dq",
    )
)


@functools.cache
def _module(stem: str) -> Any:
    """Compile ``<stem>.cu`` once (lazily) and return the cupy.RawModule."""
    code = (KERNEL_DIR / f"{stem}.cu").read_text()
    names = _ATTENTION_NAMES if stem == "attention" else ()
    return cupy.RawModule(
        code=code, options=("-std=c++17", f"-I{KERNEL_DIR}"), name_expressions=names
    )


def _kernel(stem: str, name: str) -> Any:
    return _module(stem).get_function(name)


def _float32_only(fallback):
    """Decorator: run the CUDA kernel for float32 CuPy arrays; everything else takes
    ``fallback``, the reference op of the same signature."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(first, *args, **kwargs):
            if cupy is None or not isinstance(first, cupy.ndarray) or first.dtype != np.float32:
                return fallback(first, *args, **kwargs)
            return fn(first, *args, **kwargs)

        return wrapper

    return decorate


def _rows(x: Any) -> Any:
    return cupy.ascontiguousarray(x).reshape(-1, x.shape[-1])


def _row_grid(n_rows: int) -> tuple[tuple[int], tuple[int]]:
    return (max(1, -(-n_rows // WARPS_PER_BLOCK)),), (32 * WARPS_PER_BLOCK,)


def _flat_grid(n: int, threads: int = 256) -> tuple[tuple[int], tuple[int]]:
    return (max(1, min(-(-n // threads), 65535)),), (threads,)


# ---------------------------------------------------------------- softmax / log-softmax


def _row_op(stem: str, name: str, *arrays: Any) -> Any:
    rows = [_rows(a) for a in arrays]
    out = cupy.empty_like(rows[0])
    n, c = rows[0].shape
    grid, block = _row_grid(n)
    _kernel(stem, name)(grid, block, (*rows, out, np.int64(n), np.int32(c)))
    return out.reshape(arrays[0].shape)


@_float32_only(reference.softmax_forward)
def softmax_forward(x: Any) -> Any:
    """See :func:`reference.softmax_forward`."""
    return _row_op("softmax", "softmax_forward", x)


@_float32_only(reference.softmax_backward)
def softmax_backward(y: Any, gy: Any) -> Any:
    """See :func:`reference.softmax_backward`."""
    return _row_op("softmax", "softmax_backward", y, gy)


@_float32_only(reference.log_softmax_forward)
def log_softmax_forward(x: Any) -> Any:
    """See :func:`reference.log_softmax_forward`."""
    return _row_op("softmax", "log_softmax_forward", x)


@_float32_only(reference.log_softmax_backward)
def log_softmax_backward(y: Any, gy: Any) -> Any:
    """See :func:`reference.log_softmax_backward`."""
    return _row_op("softmax", "log_softmax_backward", y, gy)


# ---------------------------------------------------------------- cross-entropy


@_float32_only(reference.cross_entropy_forward)
def cross_entropy_forward(logits: Any, target: Any, ignore_index: int = -100) -> tuple[Any, Any]:
    """See :func:`reference.cross_entropy_forward`."""
    logits2 = cupy.ascontiguousarray(logits)
    target2 = cupy.ascontiguousarray(target, dtype=cupy.int64)
    n, v = logits2.shape
    loss = cupy.empty(n, dtype=cupy.float32)
    lse = cupy.empty_like(loss)
    grid, block = _row_grid(n)
    _kernel("cross_entropy", "cross_entropy_forward")(
        grid, block, (logits2, target2, np.int64(ignore_index), loss, lse, np.int64(n), np.int32(v))
    )
    return loss, lse


@_float32_only(reference.cross_entropy_backward)
def cross_entropy_backward(
    logits: Any, target: Any, lse: Any, grad_rows: Any, ignore_index: int = -100
) -> Any:
    """See :func:`reference.cross_entropy_backward`."""
    logits2 = cupy.ascontiguousarray(logits)
    n, v = logits2.shape
    d = cupy.empty_like(logits2)
    grid, block = _row_grid(n)
    _kernel("cross_entropy", "cross_entropy_backward")(
        grid,
        block,
        (
            logits2,
            cupy.ascontiguousarray(target, dtype=cupy.int64),
            cupy.ascontiguousarray(lse, dtype=cupy.float32),
            cupy.ascontiguousarray(grad_rows, dtype=cupy.float32),
            np.int64(ignore_index),
            d,
            np.int64(n),
            np.int32(v),
        ),
    )
    return d


# ---------------------------------------------------------------- LayerNorm


@_float32_only(reference.layer_norm_forward)
def layer_norm_forward(x: Any, weight: Any, bias: Any, eps: float = 1e-5) -> tuple[Any, Any, Any]:
    """See :func:`reference.layer_norm_forward`."""
    x2 = _rows(x)
    n, c = x2.shape
    y = cupy.empty_like(x2)
    mean = cupy.empty(n, dtype=cupy.float32)
    rstd = cupy.empty_like(mean)
    grid, block = _row_grid(n)
    w = cupy.ascontiguousarray(weight, dtype=cupy.float32)
    b = cupy.ascontiguousarray(bias, dtype=cupy.float32)
    _kernel("layer_norm", "layer_norm_forward")(
        grid, block, (x2, w, b, np.float32(eps), y, mean, rstd, np.int64(n), np.int32(c))
    )
    return y.reshape(x.shape), mean.reshape(x.shape[:-1]), rstd.reshape(x.shape[:-1])


@_float32_only(reference.layer_norm_backward)
def layer_norm_backward(gy: Any, x: Any, weight: Any, mean: Any, rstd: Any) -> tuple[Any, Any, Any]:
    """See :func:`reference.layer_norm_backward`."""
    gy2, x2 = _rows(gy), _rows(x)
    n, c = x2.shape
    mean1 = cupy.ascontiguousarray(mean, dtype=cupy.float32).reshape(-1)
    rstd1 = cupy.ascontiguousarray(rstd, dtype=cupy.float32).reshape(-1)
    w = cupy.ascontiguousarray(weight, dtype=cupy.float32)
    gx = cupy.empty_like(x2)
    gweight = cupy.empty(c, dtype=cupy.float32)
    gbias = cupy.empty_like(gweight)
    grid, block = _row_grid(n)
    _kernel("layer_norm", "layer_norm_backward_input")(
        grid, block, (gy2, x2, w, mean1, rstd1, gx, np.int64(n), np.int32(c))
    )
    threads = 128
    _kernel("layer_norm", "layer_norm_backward_params")(
        (-(-c // threads),),
        (threads,),
        (gy2, x2, mean1, rstd1, gweight, gbias, np.int64(n), np.int32(c)),
    )
    return gx.reshape(x.shape), gweight, gbias


# ---------------------------------------------------------------- GELU


def _gelu_launch(name: str, x: Any, *others: Any) -> Any:
    """Kernel ``name`` of gelu.cu over the flattened arrays: (x, *others, out, n)."""
    x1 = cupy.ascontiguousarray(x).reshape(-1)
    rest = [cupy.ascontiguousarray(a, dtype=cupy.float32).reshape(-1) for a in others]
    out = cupy.empty_like(x1)
    grid, block = _flat_grid(x1.size)
    _kernel("gelu", name)(grid, block, (x1, *rest, out, np.int64(x1.size)))
    return out.reshape(x.shape)


@_float32_only(reference.gelu_forward)
def gelu_forward(x: Any) -> Any:
    """See :func:`reference.gelu_forward`."""
    return _gelu_launch("gelu_forward", x)


@_float32_only(reference.gelu_backward)
def gelu_backward(x: Any, gy: Any) -> Any:
    """See :func:`reference.gelu_backward`."""
    return _gelu_launch("gelu_backward", x, gy)


@_float32_only(reference.gelu_exact_forward)
def gelu_exact_forward(x: Any) -> Any:
    """See :func:`reference.gelu_exact_forward`."""
    return _gelu_launch("gelu_exact_forward", x)


@_float32_only(reference.gelu_exact_backward)
def gelu_exact_backward(x: Any, gy: Any) -> Any:
    """See :func:`reference.gelu_exact_backward`."""
    return _gelu_launch("gelu_exact_backward", x, gy)


# ---------------------------------------------------------------- attention


def _heads(x: Any) -> Any:
    return cupy.ascontiguousarray(x, dtype=cupy.float32).reshape(-1, x.shape[-2], x.shape[-1])


def _attention_supported(q: Any, v: Any) -> bool:
    return q.shape[-1] in ATTENTION_HEAD_DIMS and v.shape[-1] == q.shape[-1]


@_float32_only(reference.attention_forward)
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
    if probs is not None or not _attention_supported(q, v):
        return reference.attention_forward(q, k, v, scale, is_causal, out=out, probs=probs)
    b, h, tq, d = q.shape
    tk = k.shape[-2]
    q3, k3, v3 = _heads(q), _heads(k), _heads(v)
    o3 = cupy.empty_like(q3)
    lse = cupy.empty((b * h, tq), dtype=cupy.float32)
    _kernel("attention", f"attention_forward<{d}>")(
        (-(-tq // FWD_BR), b * h),
        (FWD_BR,),
        (q3, k3, v3, o3, lse, np.int32(tq), np.int32(tk), np.float32(scale), np.int32(is_causal)),
    )
    return reference.write_into(out, o3.reshape(b, h, tq, d)), lse.reshape(b, h, tq)


@_float32_only(reference.attention_backward)
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
    if probs is not None or not _attention_supported(q, v):
        return reference.attention_backward(
            q, k, v, out, lse, gout, scale, is_causal, grads=grads, probs=probs
        )
    b, h, tq, d = q.shape
    tk = k.shape[-2]
    q3, k3, v3, o3, g3 = _heads(q), _heads(k), _heads(v), _heads(out), _heads(gout)
    lse2 = cupy.ascontiguousarray(lse, dtype=cupy.float32).reshape(b * h, tq)
    delta = cupy.empty((b * h, tq), dtype=cupy.float32)
    rows = b * h * tq
    _kernel("attention", f"attention_backward_delta<{d}>")(
        (-(-rows // 256),), (256,), (o3, g3, delta, np.int64(rows))
    )
    gq, gk, gv = cupy.empty_like(q3), cupy.empty_like(k3), cupy.empty_like(v3)
    common = (np.int32(tq), np.int32(tk), np.float32(scale), np.int32(is_causal))
    _kernel("attention", f"attention_backward_dkdv<{d}>")(
        (-(-tk // BWD_BK), b * h), (BWD_BK,), (q3, k3, v3, g3, lse2, delta, gk, gv, *common)
    )
    _kernel("attention", f"attention_backward_dq<{d}>")(
        (-(-tq // FWD_BR), b * h), (FWD_BR,), (q3, k3, v3, g3, lse2, delta, gq, *common)
    )
    results = (gq.reshape(q.shape), gk.reshape(k.shape), gv.reshape(v.shape))
    dests = grads if grads is not None else (None, None, None)
    return tuple(
        reference.write_into(dest, result) for dest, result in zip(dests, results, strict=True)
    )


# ---------------------------------------------------------------- Adam / AdamW


@_float32_only(reference.adam_update)
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
    """One Adam/AdamW step in place; see :func:`reference.adam_update`."""
    arrays = (param, grad, exp_avg, exp_avg_sq)
    if not all(a.flags.c_contiguous and a.dtype == cupy.float32 for a in arrays):
        reference.adam_update(
            param, grad, exp_avg, exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
            weight_decay=weight_decay, step=step, decoupled=decoupled,
        )  # fmt: skip
        return
    step_size = lr / (1.0 - beta1**step)
    bc2_sqrt = math.sqrt(1.0 - beta2**step)
    f = np.float32
    grid, block = _flat_grid(param.size)
    _kernel("adam", "adam_update")(
        grid,
        block,
        (
            *(a.reshape(-1) for a in arrays),
            f(lr), f(beta1), f(beta2), f(eps), f(weight_decay), f(step_size), f(bc2_sqrt),
            np.int32(bool(decoupled)),
            np.int64(param.size),
        ),
    )  # fmt: skip
