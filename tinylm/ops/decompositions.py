"""Numerical linear algebra with gradients: inverses, solves, determinants and the
decompositions (Cholesky, QR, symmetric eigen, SVD), the pseudo-inverse and the matrix
exponential, as ``torch.linalg``'s. ``tinylm/linalg_decompositions.py`` holds the public
functions (``tinylm.linalg.inv`` …) that apply these.

Each forward is ``numpy.linalg`` (``cupy.linalg`` on a GPU, through ``array_module``) on a
batch of matrices (*, m, n); each backward is the standard formula in its docstring, with
``G`` = dL/d(output), ``ᵀ`` the transpose of the last two dims and ``@`` a batched product.

A decomposition with several outputs (Q and R, eigenvalues and eigenvectors, U, S and Vh)
is one Function per output (``which=``): each forward computes the same factors and returns
its own; its backward is the decomposition's formula with the other outputs' G set to 0.
The formula is linear in the G's, so the engine's sum over the outputs is the whole
gradient.

A failed factorization (a singular matrix for ``inv``, not positive-definite for
``cholesky``) raises :class:`LinAlgError` in one line, as PyTorch's
``torch.linalg.LinAlgError`` (with CuPy no error is raised: the result holds NaN/inf).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module

__all__ = [
    "Cholesky",
    "Det",
    "EighFactor",
    "Inv",
    "LinAlgError",
    "LogAbsDet",
    "NOT_PD",
    "MatrixExp",
    "PADE13",
    "Pinv",
    "SINGULAR",
    "QRFactor",
    "SVDFactor",
    "Solve",
    "SolveTriangular",
    "THETA13",
    "apply_or_raise",
    "expm",
    "mT",
]


class LinAlgError(TinyLMError, RuntimeError):
    """A linear-algebra routine failed on its input (a singular matrix, one that is not
    positive-definite), as ``torch.linalg.LinAlgError`` (a RuntimeError there)."""


def mT(a: Any) -> Any:  # noqa: N802 - PyTorch's name
    """The transpose of the last two dims of a raw array (a view)."""
    return a.swapaxes(-1, -2)


def _lapack(fn: Callable[..., Any], *args: Any, failure: str, **kwargs: Any) -> Any:
    """``fn(*args)``, numpy's LinAlgError replaced by one that says ``failure``."""
    try:
        return fn(*args, **kwargs)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(failure) from None


def apply_or_raise(function: type[Function], *inputs: Any, **params: Any) -> Any:
    """``function.apply(*inputs, **params)``, a failed factorization raised as
    :class:`LinAlgError` (``Function.apply`` turns every error of a forward into a
    TinyLMError; this keeps the kind PyTorch gives)."""
    try:
        return function.apply(*inputs, **params)
    except TinyLMError as e:
        if isinstance(e.__cause__, np.linalg.LinAlgError):
            raise LinAlgError(str(e)) from None
        raise


SINGULAR = "the input matrix is singular (a zero pivot), so it has no inverse"


class Inv(Function):
    """Y = A⁻¹ for A (*, n, n).

    dY = −Y dA Y, so dL/dA = −Yᵀ G Yᵀ.
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        y = _lapack(array_module(a).linalg.inv, a, failure=SINGULAR)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (y,) = ctx.saved_arrays
        yt = mT(y)
        return -(yt @ g @ yt)


class Solve(Function):
    """X = A⁻¹ B for A (*, n, n) and B (*, n, k) (batch dims broadcast): A X = B.

    dL/dB = A⁻ᵀ G (a solve with Aᵀ), dL/dA = −(dL/dB) Xᵀ.
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        x = _lapack(array_module(a).linalg.solve, a, b, failure="the input matrix is singular")
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        a, x = ctx.saved_arrays
        gb = array_module(g).linalg.solve(mT(a), g)
        return -(gb @ mT(x)), gb


def _triangle(xp: Any, a: Any, upper: bool, unit: bool, k: int = 0) -> Any:
    """The upper (or lower) triangle of each matrix of ``a``, its diagonal set to 1 if
    ``unit`` (strictly above/below it when k = ±1)."""
    t = xp.triu(a, k) if upper else xp.tril(a, -k)
    if unit:
        n = a.shape[-1]
        t = t * (1 - xp.eye(n, dtype=a.dtype)) + xp.eye(n, dtype=a.dtype)
    return t


class SolveTriangular(Function):
    """X = T⁻¹ B for T the upper (or lower) triangle of A (*, n, n), with ones on its
    diagonal if ``unitriangular``, and B (*, n, k); the other entries of A are not read.

    dL/dB = T⁻ᵀ G, dL/dA = −(dL/dB) Xᵀ kept on T's triangle (strictly above/below the
    diagonal when unitriangular: those entries are not read).
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, *, upper: bool, unitriangular: bool) -> Any:
        xp = array_module(a)
        t = _triangle(xp, a, upper, unitriangular)
        x = _lapack(
            xp.linalg.solve,
            t,
            b,
            failure="a zero on the triangular matrix's diagonal (PyTorch gives inf/NaN here)",
        )
        ctx.save_for_backward(t, x)
        ctx.upper, ctx.unit = upper, unitriangular
        return x

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        t, x = ctx.saved_arrays
        xp = array_module(g)
        gb = xp.linalg.solve(mT(t), g)
        ga = -(gb @ mT(x))
        ga = xp.triu(ga, int(ctx.unit)) if ctx.upper else xp.tril(ga, -int(ctx.unit))
        return ga, gb


def _cofactors(a: Any) -> Any:
    """adj(A)ᵀ, the matrix of cofactors, = U diag(Π_{j≠i} s_j) Vh · det(U)det(Vh) from the
    SVD A = U S Vh: defined for singular A too (where A⁻ᵀ det A is not)."""
    xp = array_module(a)
    u, s, vh = xp.linalg.svd(a)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = xp.cumprod(xp.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return (u * (before * after)[..., None, :]) @ vh * sign[..., None, None]


class Det(Function):
    """d = det A for A (*, n, n) → (*).

    ∂d/∂A = adj(A)ᵀ (the cofactors; = d A⁻ᵀ where A is invertible), so dL/dA =
    G · adj(A)ᵀ, computed from the SVD so that it holds at singular A too (where the
    cofactors of a rank n − 1 matrix are not 0), as PyTorch's.
    """

    silences_fp_warnings = True

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        ctx.save_for_backward(a)
        return array_module(a).linalg.det(a)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (a,) = ctx.saved_arrays
        return g[..., None, None] * _cofactors(a)


class LogAbsDet(Function):
    """y = log |det A| for A (*, n, n) → (*) (−inf where A is singular); its sign is
    ``slogdet``'s other output, with no gradient.

    ∂y/∂A = A⁻ᵀ, so dL/dA = G · A⁻ᵀ (singular A has no gradient: LinAlgError).
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        ctx.save_for_backward(a)
        return array_module(a).linalg.slogdet(a)[1]

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (a,) = ctx.saved_arrays
        inv = _lapack(array_module(a).linalg.inv, a, failure=SINGULAR + " (log|det| = -inf)")
        return g[..., None, None] * mT(inv)


NOT_PD = "the input is not positive-definite, so the Cholesky factorization could not be completed"


class Cholesky(Function):
    """L with A = L Lᵀ, L lower triangular with a positive diagonal, for A (*, n, n)
    symmetric positive-definite, of which the lower triangle is read (``upper``: the upper
    one, and U = Lᵀ with A = Uᵀ U is returned).

    With Φ(X) the lower triangle of X with its diagonal halved and S = L⁻ᵀ Φ(Lᵀ Ḡ) L⁻¹
    (Ḡ = dL/dL, lower triangular): dL/dA = (S + Sᵀ) / 2, symmetric, as PyTorch's.
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any, *, upper: bool) -> Any:
        # upper reads A's upper triangle, which is the lower one of Aᵀ
        low = _lapack(array_module(a).linalg.cholesky, mT(a) if upper else a, failure=NOT_PD)
        ctx.save_for_backward(low)
        ctx.upper = upper
        return mT(low).copy() if upper else low

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (low,) = ctx.saved_arrays
        xp = array_module(g)
        gl = xp.tril(mT(g) if ctx.upper else g)
        phi = xp.tril(mT(low) @ gl)
        n = low.shape[-1]
        phi = phi - 0.5 * phi * xp.eye(n, dtype=phi.dtype)
        inv = xp.linalg.inv(low)
        s = mT(inv) @ phi @ inv
        return 0.5 * (s + mT(s))


def _qr_backward(xp: Any, q: Any, r: Any, gq: Any, gr: Any) -> Any:
    """dL/dA of A = Q R for m ≥ n (Q (m, n), R (n, n) invertible):
    M = R Ḡ_Rᵀ − Ḡ_Qᵀ Q,  dL/dA = (Ḡ_Q + Q copyltu(M)) R⁻ᵀ, where copyltu(M) is M's lower
    triangle copied over its upper one (tril(M) + tril(M, −1)ᵀ)."""
    m = r @ mT(gr) - mT(gq) @ q
    low = xp.tril(m, -1)
    b = gq + q @ (low + mT(low) + xp.tril(xp.triu(m)))
    return mT(xp.linalg.solve(r, mT(b)))  # b R⁻ᵀ


class QRFactor(Function):
    """One factor (``which`` "Q" or "R") of A = Q R for A (*, m, n), k = min(m, n): Q with
    orthonormal columns, R upper triangular; mode "reduced" Q (*, m, k), R (*, k, n);
    "complete" Q (*, m, m), R (*, m, n); "r" R alone.

    Backward (PyTorch's cases): for m ≥ n (reduced, or complete with m = n) the formula of
    :func:`_qr_backward`; for m < n, A = [X | Y] with X (m, m), R = [U | V]:
    dL/dY = Q Ḡ_V and dL/dX is that formula for (Q, U) with Ḡ_Q + Y Ḡ_Vᵀ. Not defined for
    mode "r" (it needs Q) nor for "complete" with m > n: a one-line error.
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any, *, mode: str, which: str) -> Any:
        q, r = array_module(a).linalg.qr(a, mode="reduced" if mode == "r" else mode)
        ctx.save_for_backward(a, q, r)
        ctx.mode, ctx.which = mode, which
        return q if which == "Q" else r

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        a, q, r = ctx.saved_arrays
        xp = array_module(g)
        m, n = a.shape[-2:]
        if ctx.mode == "r":
            raise TinyLMError(
                "linalg.qr: the derivative of mode='r' depends on Q, which is not computed; "
                "use mode='reduced'"
            )
        if ctx.mode == "complete" and m > n:
            raise TinyLMError(
                "linalg.qr: the derivative of mode='complete' is not defined when the input "
                f"has more rows than columns ({m} > {n}); use mode='reduced'"
            )
        gq = g if ctx.which == "Q" else xp.zeros_like(q)
        gr = g if ctx.which == "R" else xp.zeros_like(r)
        if m >= n:
            return _qr_backward(xp, q, r, gq, gr)
        y, gu, gv = a[..., m:], gr[..., :m], gr[..., m:]
        gx = _qr_backward(xp, q, r[..., :m], gq + y @ mT(gv), gu)
        return xp.concatenate([gx, q @ gv], axis=-1)


def _off_diagonal_reciprocal(xp: Any, d: Any) -> Any:
    """1 / d with 0 on the diagonal (where d is 0), for d (*, n, n)."""
    n = d.shape[-1]
    eye = xp.eye(n, dtype=bool)
    with np.errstate(divide="ignore"):
        return xp.where(eye, 0, 1 / xp.where(eye, 1, d))


class EighFactor(Function):
    """One output (``which`` "values" or "vectors") of A = V diag(w) Vᵀ for A (*, n, n)
    symmetric (only the ``UPLO`` triangle is read): w (*, n) ascending, V (*, n, n)
    orthonormal columns (each defined up to its sign).

    With F_ij = 1 / (w_j − w_i) (0 on the diagonal):
    dL/dA = sym(V (diag(Ḡ_w) + F ∘ (Vᵀ Ḡ_V)) Vᵀ), sym(X) = (X + Xᵀ) / 2 (a symmetric
    gradient, as PyTorch's, whichever triangle was read). At repeated eigenvalues F is
    infinite: the gradient through V is then inf/NaN (eigenvectors are not unique there),
    as in PyTorch; the gradient through w alone stays defined.
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any, *, uplo: str, which: str) -> Any:
        w, v = array_module(a).linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        ctx.which = which
        return w if which == "values" else v

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        w, v = ctx.saved_arrays
        xp = array_module(g)
        if ctx.which == "values":
            return (v * g[..., None, :]) @ mT(v)
        f = _off_diagonal_reciprocal(xp, w[..., None, :] - w[..., :, None])
        x = v @ (f * (mT(v) @ g)) @ mT(v)
        return 0.5 * (x + mT(x))


class SVDFactor(Function):
    """One output (``which`` "U", "S" or "Vh") of A = U diag(S) Vh for A (*, m, n),
    k = min(m, n): S (*, k) descending; U (*, m, k) and Vh (*, k, n) (with
    ``full_matrices`` (*, m, m) and (*, n, n), whose extra columns get no gradient, as
    PyTorch's). Each singular pair is defined up to a common sign.

    With V = Vhᵀ (n, k), F_ij = 1 / (s_j² − s_i²) (0 on the diagonal), Ḡ_V = Ḡ_Vhᵀ
    (Townsend's formula, real case):
    dL/dA = U [(F ∘ (Uᵀ Ḡ_U − Ḡ_Uᵀ U)) S + diag(Ḡ_S) + S (F ∘ (Vᵀ Ḡ_V − Ḡ_Vᵀ V))] Vᵀ
            + (I − U Uᵀ) Ḡ_U S⁻¹ Vᵀ + U S⁻¹ Ḡ_Vᵀ (I − V Vᵀ).
    Through S alone it is U diag(Ḡ_S) Vᵀ, always defined; through U or Vh it is inf/NaN at
    repeated (or, for m ≠ n, zero) singular values, as PyTorch's.
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any, *, full_matrices: bool, which: str) -> Any:
        u, s, vh = array_module(a).linalg.svd(a, full_matrices=full_matrices)
        k = s.shape[-1]
        ctx.save_for_backward(u[..., :k], s, vh[..., :k, :])
        ctx.which = which
        return {"U": u, "S": s, "Vh": vh}[which]

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        u, s, vh = ctx.saved_arrays
        xp = array_module(g)
        k = s.shape[-1]
        if ctx.which == "S":
            return (u * g[..., None, :]) @ vh
        v = mT(vh)
        f = _off_diagonal_reciprocal(xp, s[..., None, :] ** 2 - s[..., :, None] ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            if ctx.which == "U":
                gu = g[..., :k]
                j = f * (mT(u) @ gu - mT(gu) @ u)
                inner = j * s[..., None, :]
                rest = (gu - u @ (mT(u) @ gu)) / s[..., None, :] @ vh
            else:
                gv = mT(g[..., :k, :])
                j = f * (mT(v) @ gv - mT(gv) @ v)
                inner = s[..., :, None] * j
                rest = (u / s[..., None, :]) @ (mT(gv) - (mT(gv) @ v) @ vh)
            return u @ inner @ vh + rest


class Pinv(Function):
    """P = A⁺ (the Moore–Penrose pseudo-inverse) for A (*, m, n) → (*, n, m): from the SVD
    (the eigendecomposition if ``hermitian``), the singular values ≤ max(atol, rtol·σ_max)
    counted as 0.

    For a perturbation that keeps the rank (Golub & Pereyra):
    dP = −P dA P + P Pᵀ dAᵀ (I − A P) + (I − P A) dAᵀ Pᵀ P, so
    dL/dA = −Pᵀ G Pᵀ + (I − A P) Gᵀ P Pᵀ + Pᵀ P Gᵀ (I − P A).
    """

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any, *, atol: Any, rtol: Any, hermitian: bool) -> Any:
        xp = array_module(a)
        if hermitian:
            w, v = xp.linalg.eigh(a)
            s, left, right = xp.abs(w), v, mT(v)
            largest = s.max(axis=-1, keepdims=True) if s.shape[-1] else s
        else:
            left, s, right = xp.linalg.svd(a, full_matrices=False)
            largest = s[..., :1]
        keep = s > xp.maximum(atol, rtol * largest)
        with np.errstate(divide="ignore"):
            inv = xp.where(keep, 1 / xp.where(keep, s, 1), 0)
        if hermitian:  # A = V diag(w) Vᵀ: A⁺ = V diag(1/w) Vᵀ (w's sign kept)
            inv = inv * xp.sign(w)
        p = mT(right) @ (inv[..., :, None] * mT(left))
        ctx.save_for_backward(a, p)
        return p

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        a, p = ctx.saved_arrays
        xp = array_module(g)
        m, n = a.shape[-2:]
        pt, gt = mT(p), mT(g)
        out = -(pt @ g @ pt)
        out = out + (xp.eye(m, dtype=a.dtype) - a @ p) @ gt @ (p @ pt)
        return out + (pt @ p) @ gt @ (xp.eye(n, dtype=a.dtype) - p @ a)


# Padé (13, 13) coefficients of e^x (Higham 2005), and the largest ‖A‖₁ it serves unscaled
PADE13 = (
    64764752532480000.0,
    32382376266240000.0,
    7771770303897600.0,
    1187353796428800.0,
    129060195264000.0,
    10559470521600.0,
    670442572800.0,
    33522128640.0,
    1323241920.0,
    40840800.0,
    960960.0,
    16380.0,
    182.0,
    1.0,
)
THETA13 = 5.371920351148152


def expm(a: Any) -> Any:
    """e^A for a batch of square arrays (*, n, n), by scaling and squaring: each A is divided
    by 2^s so that ‖A/2^s‖₁ ≤ θ₁₃, e^(A/2^s) ≈ (V − U)⁻¹ (V + U) (Padé 13, U the odd and V
    the even part of the numerator), then squared s times."""
    xp = array_module(a)
    n = a.shape[-1]
    flat = a.reshape(-1, n, n)
    norm = xp.abs(flat).sum(axis=-2).max(axis=-1) if n else xp.zeros(len(flat))
    with np.errstate(divide="ignore"):
        s = xp.maximum(0, xp.ceil(xp.log2(norm / THETA13))).astype(np.int64)
    scaled = flat * (2.0 ** -s.astype(a.dtype))[:, None, None]
    b, eye = PADE13, xp.eye(n, dtype=a.dtype)
    a2 = scaled @ scaled
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = scaled @ (
        a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye
    )
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    for i in range(int(s.max()) if len(s) else 0):
        r = xp.where((s > i)[:, None, None], r @ r, r)
    return r.reshape(a.shape)


class MatrixExp(Function):
    """Y = e^A = Σ_k A^k / k! for A (*, n, n) (:func:`expm`).

    dL/dA is the adjoint of e^A's Fréchet derivative at A applied to G, L(Aᵀ, G), read off
    the block-matrix identity exp([[Aᵀ, G], [0, Aᵀ]]) = [[e^Aᵀ, L(Aᵀ, G)], [0, e^Aᵀ]]: the
    top-right block of the exponential of a (*, 2n, 2n) matrix.
    """

    silences_fp_warnings = True

    fresh_grads = True

    @staticmethod
    def forward(ctx: Context, a: Any) -> Any:
        ctx.save_for_backward(a)
        return expm(a)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (a,) = ctx.saved_arrays
        xp = array_module(g)
        n = a.shape[-1]
        at = mT(a)
        block = xp.zeros(g.shape[:-2] + (2 * n, 2 * n), dtype=a.dtype)
        block[..., :n, :n] = at
        block[..., n:, n:] = at
        block[..., :n, n:] = g
        return expm(block)[..., :n, n:]
