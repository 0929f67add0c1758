"""Muon (Jordan et al., 2024) as PyTorch 2.13's ``torch.optim.Muon``: momentum SGD for the
weight matrices of hidden layers whose update is orthogonalised (its singular values pushed
towards 1) by a few Newton–Schulz iterations before it is applied.

State per parameter: ``momentum_buffer`` (the parameter's shape and dtype), as PyTorch's.

PyTorch runs the Newton–Schulz iteration in bfloat16 whatever the parameter's dtype. NumPy
has no bfloat16, so it is emulated: values are held in float32/float64 arrays and every
intermediate is rounded to the nearest bfloat16 value (:func:`round_to_bfloat16`; a matrix
product is computed in float64 and rounded once, :func:`round_once_to_bfloat16`). The
orthogonalised update therefore has bfloat16's 8 significant bits, as in PyTorch. PyTorch's
kernels accumulate the products in float32 in their own order, so an entry whose exact
value lies within float32's error of a halfway point between two bfloat16 values can round
the other way (one bfloat16 unit, 2⁻⁸ relative): rare for small matrices, a few entries
per step for ones of 32 × 64. The momentum and the update of θ use PyTorch's fused
multiply-adds (:func:`tinylm.ops.fused_multiply_add.fma`), so that they agree to the bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import array_module
from tinylm.ops.fused_multiply_add import fma, fma_lerp
from tinylm.optim.optimizer import Optimizer
from tinylm.tensor import Tensor

__all__ = [
    "Muon",
    "adjusted_muon_lr",
    "fused_lerp",
    "newton_schulz_orthogonalize",
    "round_once_to_bfloat16",
    "round_to_bfloat16",
]

ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def round_to_bfloat16(x: Any) -> Any:
    """``x`` rounded to bfloat16 (1 sign, 8 exponent, 7 stored mantissa bits), as a float32
    array of the same shape. A float64 input is first rounded to float32 (to nearest), as
    PyTorch's ``.bfloat16()`` does; then the low 16 bits of each float32 are rounded off, to
    the nearest value with ties to an even last kept bit (adding 0x7FFF plus that bit
    carries into the kept bits exactly when the dropped half is above, or at and odd).
    NaN stays NaN."""
    xp = array_module(x)
    x32 = xp.asarray(x, dtype=xp.float32)
    bits = x32.view(xp.uint32).astype(xp.uint64)
    kept_lsb = (bits >> 16) & 1
    rounded = (((bits + 0x7FFF + kept_lsb) >> 16) << 16).astype(xp.uint32).view(xp.float32)
    return xp.where(xp.isnan(x32), x32, rounded)


def round_once_to_bfloat16(x: Any) -> Any:
    """A float64 ``x`` rounded to bfloat16 in one rounding (to nearest, ties to even): first
    to float32 by rounding to *odd* (an inexact result gets an odd last bit), which keeps
    enough information for the second rounding to be as if the first had not happened
    (Boldo & Melquiond, 2008). The result of a product computed in float64 then equals a
    correctly rounded bfloat16 product, as PyTorch's float32-accumulating kernels give (but
    for sums that land within float32's error of a tie). Returns a float32 array."""
    xp = array_module(x)
    x64 = xp.asarray(x, dtype=xp.float64)
    x32 = x64.astype(xp.float32)
    inexact = x32.astype(xp.float64) != x64
    even = (x32.view(xp.uint32) & 1) == 0
    toward = xp.where(x64 > x32, xp.float32(xp.inf), xp.float32(-xp.inf))
    return round_to_bfloat16(xp.where(inexact & even, xp.nextafter(x32, toward), x32))


def fused_lerp(start: Any, end: Any, weight: float) -> Any:
    """start + weight (end − start), as a new array, to PyTorch's last bit: from the nearer
    end as one fused multiply-add (:func:`tinylm.ops.fused_multiply_add.fma`),
    fma(w, end − start, start) for w < ½ and fma(w − 1, end − start, end) otherwise."""
    xp = array_module(start)
    if xp is not np:  # no emulated fma for CuPy: two roundings
        diff = end - start
        return start + weight * diff if weight < 0.5 else end - diff * (1.0 - weight)
    return fma_lerp(start, end, weight)  # the weight rounded to the arrays' dtype first


def newton_schulz_orthogonalize(
    update: Any, coefficients: tuple[float, float, float], steps: int, eps: float
) -> Any:
    """An approximately orthogonal matrix with ``update``'s singular vectors, in bfloat16.

    ``update``: (m, n). With X = update / max(‖update‖_F, ε) (transposed when m > n, so that
    X X^T is the smaller Gram matrix) and (a, b, c) = ``coefficients``, each of ``steps``
    iterations is

        A = X X^T,   B = b A + c A A,   X ← a X + B X

    which maps every singular value σ of X to a σ + b σ³ + c σ⁵ and leaves the singular
    vectors alone. PyTorch's coefficients (3.4445, −4.775, 2.0315) make that quintic steep
    at 0, so that 5 steps carry every σ in (0, 1] into roughly [0.7, 1.2]: U S' V^T with
    S' ≈ I, where U S V^T is the SVD of ``update``. Every intermediate is rounded to
    bfloat16 (see :func:`round_to_bfloat16`) as in PyTorch. Returns (m, n), float32.
    """
    xp = array_module(update)
    a, b, c = coefficients
    x = round_to_bfloat16(update)
    tall = update.shape[0] > update.shape[1]
    if tall:
        x = x.T
    # the norm and the division in float32, then rounded, as PyTorch's bfloat16 kernels
    norm = round_to_bfloat16(xp.sqrt(xp.sum(x * x, dtype=xp.float32)))
    norm = xp.maximum(norm, round_to_bfloat16(eps))
    x = round_to_bfloat16(x / norm).astype(xp.float64)
    for _ in range(steps):  # products of bfloat16 values, each rounded once to bfloat16
        gram = round_once_to_bfloat16(x @ x.T).astype(xp.float64)
        poly = round_once_to_bfloat16(b * gram + c * (gram @ gram)).astype(xp.float64)
        x = round_once_to_bfloat16(a * x + poly @ x).astype(xp.float64)
    x = x.astype(xp.float32)
    return x.T if tall else x


def adjusted_muon_lr(lr: float, adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    """The learning rate Muon applies to an (A, B) matrix's orthogonalised update:
    ``"original"`` (or None; Keller Jordan's) lr · √max(1, A/B), so that tall matrices get
    the same per-entry RMS as square ones; ``"match_rms_adamw"`` (Moonshot's) lr · 0.2 ·
    √max(A, B), which makes the update's RMS about AdamW's, so AdamW's lr can be reused."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    return lr * (0.2 * math.sqrt(max(rows, cols)))


class Muon(Optimizer):
    """Muon, as PyTorch's, for 2-D parameters only (the weights of hidden layers: optimize
    biases, embeddings and the output layer with AdamW, as PyTorch's docs say). For each
    parameter θ (A × B) with gradient g, momentum μ, lr η, weight decay λ:

        b ← b + (1 − μ)(g − b)                         (``momentum_buffer``, from zeros)
        u = g + μ (b − g)   (``nesterov``)   or   u = b
        O = NS(u)                               (:func:`newton_schulz_orthogonalize`)
        θ ← θ (1 − η λ)                         (decoupled weight decay, with the plain η)
        θ ← θ − adjust(η, A, B) · O             (:func:`adjusted_muon_lr`)

    (PyTorch's docstring writes the buffer as μ b + g; its code, followed here, keeps the
    average μ b + (1 − μ) g.) A parameter that is not a matrix is refused, as PyTorch does.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315),
        eps: float = 1e-07,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = None,
    ) -> None:
        defaults = dict(
            lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
            ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
        )  # fmt: skip
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["momentum"] < 0 or group["weight_decay"] < 0:
            raise TinyLMError(
                f"Muon: momentum ({group['momentum']}) and weight_decay "
                f"({group['weight_decay']}) must be ≥ 0"
            )
        if group["adjust_lr_fn"] not in ADJUST_LR_FNS:
            raise TinyLMError(
                f"Muon: adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got "
                f"{group['adjust_lr_fn']!r}"
            )
        if len(group["ns_coefficients"]) != 3:
            raise TinyLMError(
                "Muon: ns_coefficients must be three numbers (a, b, c), got "
                f"{group['ns_coefficients']!r}"
            )
        if group["ns_steps"] >= 100:
            raise TinyLMError(f"Muon: ns_steps must be less than 100, got {group['ns_steps']}")
        for p in group["params"]:
            if p.ndim != 2:
                raise TinyLMError(
                    f"Muon: only 2-D parameters (matrices) are supported, got one of shape "
                    f"{p.shape}; optimize it with another optimizer (e.g. AdamW)"
                )
            if p.dtype.kind == "c":
                raise TinyLMError("Muon: complex parameters are not supported")

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        xp, param = array_module(p.data), p.data
        lr, momentum = float(group["lr"]), group["momentum"]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = xp.zeros_like(grad)
        buf = state["momentum_buffer"]
        buf[...] = fused_lerp(buf, grad, 1 - momentum)
        update = fused_lerp(grad, buf, momentum) if group["nesterov"] else buf
        ortho = newton_schulz_orthogonalize(
            update, tuple(group["ns_coefficients"]), group["ns_steps"], group["eps"]
        )
        param *= 1 - lr * group["weight_decay"]
        step = -adjusted_muon_lr(lr, group["adjust_lr_fn"], param.shape)
        ortho = ortho.astype(param.dtype, copy=False)
        if xp is np and param.dtype in (np.float32, np.float64):
            param[...] = fma(step, ortho, param)  # one rounding, as PyTorch's add_(alpha=)
        else:
            param += step * ortho
