"""Element-wise Numba kernels: GELU, tanh form and exact (erf) form, forward and backward.

Implements (same names, signatures and results up to rounding) ``kernels/reference.py``:
gelu_forward/gelu_backward, gelu_exact_forward/gelu_exact_backward.

Each op is one flat loop over a range of the flattened arrays (``<op>_kernel(start, end,
...)``, public so that lessons can print it), which LLVM vectorises when its body has no
library call; ``parallel.parallel_ranges`` runs it on tinylm's threads, a range each.

A forward given a ``derivative`` array (training on the CPU: ``policy.gelu_keeps_derivative``)
writes dy/dx there in the same pass, from the exp it computes anyway, and the backward given
it is one multiply, gx = gy * dy/dx, instead of a second pass of exps and erfs.
"""

from __future__ import annotations

import numpy as np

from .. import reference
from ..parallel import parallel_ranges
from .jit import fast_erf, fast_erf_gauss, fast_exp, fast_exp_nonpositive, rjit
from .threads import float32_or_64, kernel_input

__all__ = [
    "gelu_exact_forward_derivative_kernel",
    "gelu_forward_derivative_kernel",
    "multiply_kernel",
    "gelu_backward",
    "gelu_backward_kernel",
    "gelu_exact_backward",
    "gelu_exact_backward_kernel",
    "gelu_exact_forward",
    "gelu_exact_forward_kernel",
    "gelu_forward",
    "gelu_forward_kernel",
]


# --------------------------------------------------------------------------------------------
# GELU (tanh form) as x * sigmoid(2u): one exp instead of a tanh
# --------------------------------------------------------------------------------------------
# 0.5 (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u)), so y = x * s with s = sigmoid(2u).
# Derivative: dy/dx = s + x * s' = s + x * 2 s (1 - s) * du/dx, du/dx = c (1 + 3 a x^2).


@rjit
def gelu_forward_kernel(start, end, x, y):
    x, y = x[start:end], y[start:end]
    c, a = x.dtype.type(reference.GELU_C), x.dtype.type(reference.GELU_A)
    one, minus_two = x.dtype.type(1), x.dtype.type(-2)
    for i in range(x.shape[0]):  # one flat loop with no branch: LLVM vectorises it
        xi = x[i]
        u = c * (xi + a * xi * xi * xi)
        # exp(-2u) -> inf for very negative x gives x / inf = -0: the correct limit
        y[i] = xi / (one + fast_exp(minus_two * u))


@rjit
def gelu_backward_kernel(start, end, x, gy, gx):
    x, gy, gx = x[start:end], gy[start:end], gx[start:end]
    c, a = x.dtype.type(reference.GELU_C), x.dtype.type(reference.GELU_A)
    a3 = x.dtype.type(3 * reference.GELU_A)
    one, two, minus_two = x.dtype.type(1), x.dtype.type(2), x.dtype.type(-2)
    for i in range(x.shape[0]):
        xi = x[i]
        u = c * (xi + a * xi * xi * xi)
        s = one / (one + fast_exp(minus_two * u))
        du = c * (one + a3 * xi * xi)
        gx[i] = gy[i] * (s + two * xi * s * (one - s) * du)


@rjit
def gelu_forward_derivative_kernel(start, end, x, y, d):
    x, y, d = x[start:end], y[start:end], d[start:end]
    c, a = x.dtype.type(reference.GELU_C), x.dtype.type(reference.GELU_A)
    a3 = x.dtype.type(3 * reference.GELU_A)
    one, two, minus_two = x.dtype.type(1), x.dtype.type(2), x.dtype.type(-2)
    for i in range(x.shape[0]):  # y and dy/dx from one sigmoid
        xi = x[i]
        u = c * (xi + a * xi * xi * xi)
        s = one / (one + fast_exp(minus_two * u))
        y[i] = xi * s
        d[i] = s + two * xi * s * (one - s) * c * (one + a3 * xi * xi)


@rjit
def multiply_kernel(start, end, a, b, out):
    a, b, out = a[start:end], b[start:end], out[start:end]
    for i in range(a.shape[0]):  # the backward when the forward kept dy/dx: gx = gy * dy/dx
        out[i] = a[i] * b[i]


def _elementwise(kernel, x: np.ndarray, *others: np.ndarray) -> np.ndarray:
    """``kernel(x, *others, out)`` on the flattened arrays (contiguous, in x's dtype); the
    result has x's shape. Each GELU op below is this call with its own kernel."""
    x1, *rest = (kernel_input(a, x.dtype).reshape(-1) for a in (x, *others))
    out = np.empty_like(x1)
    parallel_ranges(kernel, x1.shape[0], x1, *rest, out)
    return out.reshape(x.shape)


def _with_derivative(kernel, x: np.ndarray, derivative: np.ndarray) -> np.ndarray:
    """``kernel(x, y, derivative)`` on the flattened arrays: y, and dy/dx into
    ``derivative`` (C-contiguous, x's shape and dtype: the caller's buffer, written in place)."""
    if (
        derivative.shape != x.shape
        or derivative.dtype != x.dtype
        or not derivative.flags.c_contiguous
    ):
        raise ValueError(f"derivative must be C-contiguous {x.shape} {x.dtype}")
    x1 = kernel_input(x, x.dtype).reshape(-1)
    y = np.empty_like(x1)
    parallel_ranges(kernel, x1.shape[0], x1, y, derivative.reshape(-1))
    return y.reshape(x.shape)


@float32_or_64(reference.gelu_forward)
def gelu_forward(x: np.ndarray, derivative: np.ndarray | None = None) -> np.ndarray:
    """GELU (tanh form), any shape, and dy/dx into ``derivative`` when given; see
    :func:`reference.gelu_forward`."""
    if derivative is not None:
        return _with_derivative(gelu_forward_derivative_kernel, x, derivative)
    return _elementwise(gelu_forward_kernel, x)


@float32_or_64(reference.gelu_backward)
def gelu_backward(
    x: np.ndarray, gy: np.ndarray, derivative: np.ndarray | None = None
) -> np.ndarray:
    """gx = gy * GELU'(x), or gy * ``derivative`` when the forward kept it; see
    :func:`reference.gelu_backward`."""
    if derivative is not None:
        return _elementwise(multiply_kernel, derivative, gy)
    return _elementwise(gelu_backward_kernel, x, gy)


# --------------------------------------------------------------------------------------------
# GELU, exact: x Φ(x) = 0.5 x (1 + erf(x / sqrt 2)); derivative Φ(x) + x φ(x)
# --------------------------------------------------------------------------------------------
# fast_erf (numba/jit.py) is a branch-free polynomial erf for float32 (≤ 2 ulp from math.erf),
# so these loops vectorise like the tanh form; float64 keeps libm's erf, one call per element.
# Its tail form needs e^{-t²} at t = x/√2, which is e^{-x²/2}, the Gaussian in φ(x): the
# backward computes it once for both (one exp per element instead of two; with the new tail
# form of erf the backward went from 256 to 142 µs at 768×512 on one thread).


@rjit
def gelu_exact_forward_kernel(start, end, x, y):
    x, y = x[start:end], y[start:end]
    half, one, r = x.dtype.type(0.5), x.dtype.type(1), x.dtype.type(reference.SQRT1_2)
    for i in range(x.shape[0]):
        xi = x[i]
        y[i] = half * xi * (one + fast_erf(xi * r))


@rjit
def gelu_exact_backward_kernel(start, end, x, gy, gx):
    x, gy, gx = x[start:end], gy[start:end], gx[start:end]
    half, one, r = x.dtype.type(0.5), x.dtype.type(1), x.dtype.type(reference.SQRT1_2)
    c = x.dtype.type(reference.INV_SQRT_2PI)
    for i in range(x.shape[0]):
        xi = x[i]
        t = xi * r
        gauss = fast_exp_nonpositive(-(t * t))  # e^{-x²/2}
        cdf = half * (one + fast_erf_gauss(t, gauss))
        pdf = c * gauss
        gx[i] = gy[i] * (cdf + xi * pdf)


@rjit
def gelu_exact_forward_derivative_kernel(start, end, x, y, d):
    x, y, d = x[start:end], y[start:end], d[start:end]
    half, one, r = x.dtype.type(0.5), x.dtype.type(1), x.dtype.type(reference.SQRT1_2)
    c = x.dtype.type(reference.INV_SQRT_2PI)
    for i in range(x.shape[0]):  # y = x Φ(x) and dy/dx = Φ(x) + x φ(x) from one exp
        xi = x[i]
        t = xi * r
        gauss = fast_exp_nonpositive(-(t * t))  # e^{-x²/2}
        cdf = half * (one + fast_erf_gauss(t, gauss))
        y[i] = xi * cdf
        d[i] = cdf + xi * (c * gauss)


@float32_or_64(reference.gelu_exact_forward)
def gelu_exact_forward(x: np.ndarray, derivative: np.ndarray | None = None) -> np.ndarray:
    """GELU (exact, erf form), any shape, and dy/dx into ``derivative`` when given; see
    :func:`reference.gelu_exact_forward`."""
    if derivative is not None:
        return _with_derivative(gelu_exact_forward_derivative_kernel, x, derivative)
    return _elementwise(gelu_exact_forward_kernel, x)


@float32_or_64(reference.gelu_exact_backward)
def gelu_exact_backward(
    x: np.ndarray, gy: np.ndarray, derivative: np.ndarray | None = None
) -> np.ndarray:
    """gx = gy * (Φ(x) + x φ(x)), or gy * ``derivative`` when the forward kept it; see
    :func:`reference.gelu_exact_backward`."""
    if derivative is not None:
        return _elementwise(multiply_kernel, derivative, gy)
    return _elementwise(gelu_exact_backward_kernel, x, gy)
