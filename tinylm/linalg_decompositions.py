"""``torch.linalg``'s solvers and decompositions, with gradients: ``inv``, ``solve``,
``solve_triangular``, ``det``, ``slogdet``, ``cholesky``, ``qr``, ``eigh``, ``svd``, ``pinv``,
``lstsq``, ``matrix_rank``, ``matrix_power``, ``matrix_exp`` … and PyTorch's older
top-level forms (``torch.inverse``, ``torch.svd``, ``torch.qr``, ``torch.pinverse`` …), which
``tinylm.f`` and the methods ``A.f()`` (one line each in ``tinylm/tensor_math.py``) reach.

Each is batched over leading dims (A of shape (*, m, n)). The arithmetic and its gradient
are the Functions of ``tinylm/ops/decompositions.py`` (one hop from here); the rest is
composed of differentiable Tensor ops. Only float32 and float64 are accepted, as in PyTorch
(integers and float16 are refused in one line).
"""

from __future__ import annotations

import builtins
import numbers
import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from tinylm.arg_checks import described, int_arg
from tinylm.autograd import TensorBase, TinyLMError
from tinylm.devices import array_module
from tinylm.ops.decompositions import (
    Cholesky,
    Det,
    EighFactor,
    Inv,
    LinAlgError,
    LogAbsDet,
    MatrixExp,
    Pinv,
    QRFactor,
    Solve,
    SolveTriangular,
    SVDFactor,
    apply_or_raise,
)

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module
    from tinylm.tensor import Tensor

#: PyTorch's top-level names (``torch.inverse`` …), also Tensor methods
TOP_LEVEL = [
    "cholesky",
    "det",
    "inverse",
    "logdet",
    "matrix_exp",
    "matrix_power",
    "pinverse",
    "qr",
    "slogdet",
    "svd",
]
__all__ = [
    *TOP_LEVEL,
    "CholeskyEx",
    "EighResult",
    "InvEx",
    "LinAlgError",
    "LstsqResult",
    "QRResult",
    "SVDOld",
    "SVDResult",
    "SlogdetResult",
    "cholesky_ex",
    "eigh",
    "eigvalsh",
    "inv",
    "inv_ex",
    "linalg_cholesky",
    "linalg_qr",
    "linalg_svd",
    "lstsq",
    "matrix_rank",
    "pinv",
    "singular_values",
    "solve",
    "solve_triangular",
    "svdvals",
]


class SlogdetResult(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


class SVDOld(NamedTuple):
    """``torch.svd``'s result: V, not Vh."""

    U: Tensor
    S: Tensor
    V: Tensor


class InvEx(NamedTuple):
    inverse: Tensor
    info: Tensor


class CholeskyEx(NamedTuple):
    L: Tensor
    info: Tensor


class LstsqResult(NamedTuple):
    solution: Tensor
    residuals: Tensor
    rank: Tensor
    singular_values: Tensor


def _matrices(op: str, A: Any, square: bool = True) -> None:  # noqa: N803 - PyTorch's name
    """A float32/float64 tensor of (batches of) matrices, square if ``square``."""
    if not isinstance(A, TensorBase):
        raise TypeError(f"{op}: A must be a Tensor, got {type(A).__name__}")
    if A.dtype.kind != "f":
        raise TinyLMError(f"{op}: expected a floating-point tensor as input, got {described(A)}")
    if A.dtype.itemsize < 4:
        raise TinyLMError(f"{op}: low-precision dtypes are not supported, got {described(A)}")
    if A.ndim < 2:
        raise TinyLMError(f"{op}: A must have at least 2 dimensions, got {described(A)}")
    if square and A.shape[-1] != A.shape[-2]:
        raise TinyLMError(
            f"{op}: A must be batches of square matrices, but they are {A.shape[-2]} by "
            f"{A.shape[-1]} matrices"
        )


def _same_dtype(op: str, A: Tensor, B: Any) -> None:  # noqa: N803
    if not isinstance(B, TensorBase):
        raise TypeError(f"{op}: B must be a Tensor, got {type(B).__name__}")
    if B.dtype != A.dtype:
        raise TinyLMError(
            f"{op}: expected A and B to have the same dtype, got {described(A)} and {described(B)}"
        )


def _wrap_array(A: Tensor, a: Any) -> Tensor:  # noqa: N803
    return A._wrap(array_module(A.data).asarray(a))


# ---------------------------------------------------------------------------------------
# Inverses and solves
# ---------------------------------------------------------------------------------------


def inv(A: Tensor) -> Tensor:  # noqa: N803 - PyTorch's name
    """A⁻¹ for A (*, n, n) → (*, n, n) (``ops.decompositions.Inv``); a singular matrix
    raises LinAlgError."""
    _matrices("linalg.inv", A)
    return apply_or_raise(Inv, A)


def inverse(input: Tensor) -> Tensor:  # noqa: A002 - PyTorch's name
    """``torch.inverse``: :func:`inv`."""
    return inv(input)


def _zero_pivot(a: np.ndarray) -> int:
    """The 1-based index of the first zero pivot of a's LU factorization with partial
    pivoting (LAPACK getrf's info), 0 if none."""
    u = np.array(a, dtype=np.float64)
    n = len(u)
    first = 0
    for k in range(n):
        p = k + int(np.argmax(np.abs(u[k:, k])))
        u[[k, p]] = u[[p, k]]
        if u[k, k] == 0:
            first = first or k + 1
            continue
        with np.errstate(all="ignore"):  # inf entries: inf − inf is nan, silent as LAPACK
            u[k + 1 :] -= np.outer(u[k + 1 :, k] / u[k, k], u[k])
    return first


def inv_ex(A: Tensor, *, check_errors: bool = False) -> InvEx:  # noqa: N803
    """(inverse, info) for A (*, n, n): info (*) int32 is 0 where A is invertible, else the
    first zero pivot of its LU factorization with partial pivoting (1-based; PyTorch's
    LAPACK may name another zero pivot of the same singular matrix). A singular matrix's
    inverse is NaN (PyTorch leaves LAPACK's inf/NaN there); ``check_errors`` raises
    LinAlgError instead."""
    _matrices("linalg.inv_ex", A)
    xp = array_module(A.data)
    flat = np.asarray(A.data.get() if xp is not np else A.data).reshape(-1, *A.shape[-2:])
    info = np.array([_zero_pivot(m) for m in flat], dtype=np.int32).reshape(A.shape[:-2])
    if info.any():
        if check_errors:
            raise LinAlgError(f"linalg.inv_ex: {described(A)}: singular (info {info.tolist()})")
        bad = _wrap_array(A, info != 0)[..., None, None]
        safe = A.where(~bad, _wrap_array(A, np.eye(A.shape[-1], dtype=A.dtype)))
        out = Inv.apply(safe).where(~bad, _wrap_array(A, np.array(np.nan, dtype=A.dtype)))
    else:
        out = inv(A)
    return InvEx(out, _wrap_array(A, info))


def _as_matrix_rhs(op: str, A: Tensor, B: Tensor) -> bool:  # noqa: N803
    """Whether B is a vector (or a batch of vectors) right-hand side, as torch.linalg.solve
    reads it: B 1-D, or B of shape A.shape[:-1]."""
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803
    """X with A X = B (``left``) or X A = B, for A (*, n, n) and B (*, n, k) (or (*, n), a
    vector), batch dims broadcast: ``ops.decompositions.Solve`` (X A = B is Aᵀ Xᵀ = Bᵀ).
    A singular A raises LinAlgError."""
    _matrices("linalg.solve", A)
    _same_dtype("linalg.solve", A, B)
    vector = _as_matrix_rhs("linalg.solve", A, B)
    if vector and not left:
        raise TinyLMError("linalg.solve: vector B with left=False is not supported (as torch)")
    b = B[..., None] if vector else B
    if b.ndim < 2 or b.shape[-2 if left else -1] != A.shape[-1]:
        raise TinyLMError(
            f"linalg.solve: incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'}: {described(A)} and {described(B)}"
        )
    if not left:
        return apply_or_raise(Solve, A.mT, B.mT).mT
    x = apply_or_raise(Solve, A, b)
    return x[..., 0] if vector else x


def solve_triangular(
    A: Tensor,  # noqa: N803
    B: Tensor,  # noqa: N803
    *,
    upper: bool,
    left: bool = True,
    unitriangular: bool = False,
) -> Tensor:
    """X with T X = B (``left``) or X T = B, T the upper (``upper=True``) or lower triangle
    of A (*, n, n), its diagonal taken as ones if ``unitriangular``; B (*, n, k) or
    (*, k, n): ``ops.decompositions.SolveTriangular``. A zero on T's diagonal raises
    LinAlgError (PyTorch returns inf/NaN)."""
    _matrices("linalg.solve_triangular", A)
    _same_dtype("linalg.solve_triangular", A, B)
    if B.ndim < 2 or B.shape[-2 if left else -1] != A.shape[-1]:
        raise TinyLMError(
            f"linalg.solve_triangular: incompatible shapes of A and B: {described(A)} and "
            f"{described(B)}"
        )
    flags = {"upper": builtins.bool(upper), "unitriangular": builtins.bool(unitriangular)}
    if left:
        return apply_or_raise(SolveTriangular, A, B, **flags)
    flags["upper"] = not flags["upper"]  # X T = B is Tᵀ Xᵀ = Bᵀ, Tᵀ the other triangle
    return apply_or_raise(SolveTriangular, A.mT, B.mT, **flags).mT


# ---------------------------------------------------------------------------------------
# Determinants
# ---------------------------------------------------------------------------------------


def det(A: Tensor) -> Tensor:  # noqa: N803
    """det A for A (*, n, n) → (*): ``ops.decompositions.Det`` (its gradient, the
    cofactors, is defined at singular A too)."""
    _matrices("linalg.det", A)
    return Det.apply(A)


def slogdet(A: Tensor) -> SlogdetResult:  # noqa: N803
    """(sign, logabsdet) of det A for A (*, n, n), each (*): sign ∈ {−1, 0, 1} (no
    gradient), logabsdet = log |det A| (−inf where singular; ``ops.decompositions.LogAbsDet``)."""
    _matrices("linalg.slogdet", A)
    sign = array_module(A.data).linalg.slogdet(A.data)[0]
    return SlogdetResult(_wrap_array(A, sign), LogAbsDet.apply(A))


def logdet(input: Tensor) -> Tensor:  # noqa: A002
    """log det A for A (*, n, n) → (*): NaN where det A < 0, −inf where it is 0; the
    gradient is A⁻ᵀ times G (``slogdet``'s)."""
    _matrices("logdet", input)
    sign, logabs = slogdet(input)
    return logabs.where(sign >= 0, _wrap_array(input, np.array(np.nan, dtype=input.dtype)))


# ---------------------------------------------------------------------------------------
# Decompositions
# ---------------------------------------------------------------------------------------


def linalg_cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    """L (*, n, n) lower triangular with A = L Lᵀ (U = Lᵀ, A = Uᵀ U, if ``upper``) for A
    (*, n, n) symmetric positive-definite (its lower triangle is read; the upper one if ``upper``):
    ``ops.decompositions.Cholesky``. A matrix that is not positive-definite raises
    LinAlgError."""
    _matrices("linalg.cholesky", A)
    return apply_or_raise(Cholesky, A, upper=builtins.bool(upper))


def cholesky(input: Tensor, upper: bool = False) -> Tensor:  # noqa: A002
    """``torch.cholesky`` (deprecated there, with a warning): :func:`linalg_cholesky`."""
    warnings.warn(
        "torch.cholesky is deprecated in favor of torch.linalg.cholesky",
        UserWarning,
        stacklevel=2,
    )
    return linalg_cholesky(input, upper=upper)


def _first_failing_minor(a: np.ndarray) -> int:
    """The order (1-based) of the first leading minor of a that is not positive-definite."""
    for k in range(1, len(a) + 1):
        try:
            np.linalg.cholesky(a[:k, :k])
        except np.linalg.LinAlgError:
            return k
    return 0


def cholesky_ex(
    A: Tensor,  # noqa: N803
    *,
    upper: bool = False,
    check_errors: bool = False,
) -> CholeskyEx:
    """(L, info): info (*) int32 is 0 where A is positive-definite, else the order of its
    first leading minor that is not. L of such a matrix is NaN (PyTorch leaves LAPACK's
    partial factor); ``check_errors`` raises LinAlgError instead."""
    _matrices("linalg.cholesky_ex", A)
    xp = array_module(A.data)
    flat = np.asarray(A.data.get() if xp is not np else A.data).reshape(-1, *A.shape[-2:])
    info = np.zeros(len(flat), dtype=np.int32)
    for i, m in enumerate(flat):
        try:
            np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            info[i] = _first_failing_minor(m)
    info = info.reshape(A.shape[:-2])
    if not info.any():
        return CholeskyEx(linalg_cholesky(A, upper=upper), _wrap_array(A, info))
    if check_errors:
        raise LinAlgError(
            f"linalg.cholesky_ex: {described(A)}: {NOT_POSITIVE} (info {info.tolist()})"
        )
    bad = _wrap_array(A, info != 0)[..., None, None]
    safe = A.where(~bad, _wrap_array(A, np.eye(A.shape[-1], dtype=A.dtype)))
    out = Cholesky.apply(safe, upper=builtins.bool(upper))
    return CholeskyEx(
        out.where(~bad, _wrap_array(A, np.array(np.nan, dtype=A.dtype))), _wrap_array(A, info)
    )


NOT_POSITIVE = "not positive-definite"


def linalg_qr(A: Tensor, mode: str = "reduced") -> QRResult:  # noqa: N803
    """(Q, R) with A = Q R for A (*, m, n), k = min(m, n): "reduced" Q (*, m, k), R (*, k, n);
    "complete" Q (*, m, m), R (*, m, n); "r" the reduced R alone (Q empty, as PyTorch's,
    and no gradient: it needs Q). ``ops.decompositions.QRFactor``."""
    _matrices("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise TinyLMError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    r = QRFactor.apply(A, mode=mode, which="R")
    if mode == "r":
        return QRResult(_wrap_array(A, np.zeros((0,), dtype=A.dtype)), r)
    return QRResult(QRFactor.apply(A, mode=mode, which="Q"), r)


def qr(input: Tensor, some: bool = True) -> QRResult:  # noqa: A002
    """``torch.qr``: :func:`linalg_qr` with mode "reduced" (``some``) or "complete"."""
    return linalg_qr(input, "reduced" if some else "complete")


def _uplo(op: str, UPLO: Any) -> str:  # noqa: N803
    if UPLO not in ("L", "U"):
        raise TinyLMError(f"{op}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO


def eigh(A: Tensor, UPLO: str = "L") -> EighResult:  # noqa: N803
    """(eigenvalues (*, n) ascending, eigenvectors (*, n, n) as columns) of A (*, n, n)
    symmetric, of which the ``UPLO`` triangle is read: ``ops.decompositions.EighFactor``
    (each eigenvector's sign is LAPACK's; the gradient through the eigenvectors is inf/NaN
    at repeated eigenvalues)."""
    _matrices("linalg.eigh", A)
    uplo = _uplo("linalg.eigh", UPLO)
    return EighResult(
        EighFactor.apply(A, uplo=uplo, which="values"),
        EighFactor.apply(A, uplo=uplo, which="vectors"),
    )


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The eigenvalues (*, n), ascending, of A (*, n, n) symmetric (see :func:`eigh`)."""
    _matrices("linalg.eigvalsh", A)
    return EighFactor.apply(A, uplo=_uplo("linalg.eigvalsh", UPLO), which="values")


def linalg_svd(A: Tensor, full_matrices: bool = True) -> SVDResult:  # noqa: N803
    """(U, S, Vh) with A = U diag(S) Vh for A (*, m, n), k = min(m, n): S (*, k) descending,
    U (*, m, m) and Vh (*, n, n) (``full_matrices``, the default as in PyTorch) or (*, m, k)
    and (*, k, n): ``ops.decompositions.SVDFactor`` (signs are LAPACK's; the gradient
    through U, Vh is inf/NaN at repeated singular values)."""
    _matrices("linalg.svd", A, square=False)
    full = builtins.bool(full_matrices)
    return SVDResult(*(SVDFactor.apply(A, full_matrices=full, which=w) for w in ("U", "S", "Vh")))


def svdvals(A: Tensor) -> Tensor:  # noqa: N803
    """The singular values (*, k), descending, of A (*, m, n); the gradient U diag(G) Vh is
    defined everywhere."""
    _matrices("linalg.svdvals", A, square=False)
    return singular_values(A)


def singular_values(A: Tensor) -> Tensor:  # noqa: N803
    """:func:`svdvals` without the checks (for the norms of ``tinylm/linalg.py``)."""
    return SVDFactor.apply(A, full_matrices=False, which="S")


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> SVDOld:  # noqa: A002
    """``torch.svd``: (U, S, V) with A = U diag(S) Vᵀ, reduced when ``some`` (the default,
    unlike :func:`linalg_svd`); without ``compute_uv``, U and V are zeros (m, m), (n, n)."""
    _matrices("svd", input, square=False)
    if not compute_uv:
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        s = singular_values(input)
        zeros = np.zeros
        return SVDOld(
            _wrap_array(input, zeros((*batch, m, m), dtype=input.dtype)),
            s,
            _wrap_array(input, zeros((*batch, n, n), dtype=input.dtype)),
        )
    u, s, vh = linalg_svd(input, full_matrices=not some)
    return SVDOld(u, s, vh.mT)


# ---------------------------------------------------------------------------------------
# Pseudo-inverse, least squares, rank
# ---------------------------------------------------------------------------------------


def _tolerances(op: str, A: Tensor, atol: Any, rtol: Any) -> tuple[float, float]:  # noqa: N803
    """(atol, rtol) as PyTorch fills them in: both None → rtol = ε·max(m, n); atol alone
    (> 0) → rtol = 0."""
    for name, v in (("atol", atol), ("rtol", rtol)):
        if v is not None and (isinstance(v, builtins.bool) or not isinstance(v, numbers.Real)):
            raise TinyLMError(f"{op}: {name} must be a number or None, got {v!r:.60}")
    eps = float(np.finfo(A.dtype).eps) * max(A.shape[-2:])
    if rtol is None:
        rtol = eps if atol is None or atol <= 0 else 0.0
    return float(atol or 0.0), float(rtol)


def pinv(
    A: Tensor,  # noqa: N803
    *,
    atol: float | None = None,
    rtol: float | None = None,
    hermitian: bool = False,
) -> Tensor:
    """A⁺ (*, n, m) for A (*, m, n), singular values ≤ max(atol, rtol·σ_max) taken as 0;
    ``hermitian``: A symmetric, through its eigendecomposition. ``ops.decompositions.Pinv``
    (the gradient holds where a small change keeps the rank)."""
    _matrices("linalg.pinv", A, square=builtins.bool(hermitian))
    a, r = _tolerances("linalg.pinv", A, atol, rtol)
    return Pinv.apply(A, atol=a, rtol=r, hermitian=builtins.bool(hermitian))


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:  # noqa: A002
    """``torch.pinverse``: :func:`pinv` with rtol = ``rcond``."""
    return pinv(input, rtol=rcond)


def lstsq(
    A: Tensor,  # noqa: N803
    B: Tensor,  # noqa: N803
    rcond: float | None = None,
    *,
    driver: str | None = None,
) -> LstsqResult:
    """The X (*, n, k) minimising ‖A X − B‖ for A (*, m, n) of full rank and B (*, m, k),
    as PyTorch's default CPU driver "gelsy" returns it: (solution, residuals (empty),
    rank (*) int64, singular_values (empty)). The solution is pinv(A) @ B (the least-norm
    one when m < n), so its gradient is pinv's. Other drivers are refused."""
    _matrices("linalg.lstsq", A, square=False)
    _same_dtype("linalg.lstsq", A, B)
    if driver not in (None, "gelsy"):
        raise TinyLMError(
            f"linalg.lstsq: only the driver 'gelsy' (PyTorch's CPU default) is supported, got "
            f"{driver!r}"
        )
    if B.ndim < 2 or B.shape[-2] != A.shape[-2]:
        raise TinyLMError(
            f"linalg.lstsq: B must be (*, m, k) with A's m rows, got {described(A)} and "
            f"{described(B)} (a vector B is B[..., None])"
        )
    solution = pinv(A, rtol=rcond) @ B
    rank = matrix_rank(A, rtol=rcond)
    empty = _wrap_array(A, np.zeros((0,), dtype=A.dtype))
    return LstsqResult(solution, empty, rank, empty)


def matrix_rank(
    A: Tensor,  # noqa: N803
    *,
    atol: float | None = None,
    rtol: float | None = None,
    hermitian: bool = False,
) -> Tensor:
    """The number (*) int64 of singular values of A (*, m, n) above max(atol, rtol·σ_max)
    (|eigenvalues| if ``hermitian``); no gradient."""
    _matrices("linalg.matrix_rank", A, square=builtins.bool(hermitian))
    a, r = _tolerances("linalg.matrix_rank", A, atol, rtol)
    xp = array_module(A.data)
    if hermitian:
        s = xp.abs(xp.linalg.eigvalsh(A.data))
        largest = s.max(axis=-1, keepdims=True)
    else:
        s = xp.linalg.svd(A.data, compute_uv=False)
        largest = s[..., :1]
    return _wrap_array(A, (s > xp.maximum(a, r * largest)).sum(axis=-1).astype(np.int64))


# ---------------------------------------------------------------------------------------
# Powers, exponential, condition number
# ---------------------------------------------------------------------------------------


def matrix_power(A: Tensor, n: int) -> Tensor:  # noqa: N803
    """Aⁿ for A (*, m, m): the identity for n = 0 (A's gradient 0, as PyTorch's), products
    by repeated squaring of A (of A⁻¹ for n < 0, which raises LinAlgError if A is
    singular)."""
    _matrices("linalg.matrix_power", A)
    n = int_arg("linalg.matrix_power", "n", n)
    if n == 0:
        eye = _wrap_array(A, np.eye(A.shape[-1], dtype=A.dtype))
        return eye.where(_wrap_array(A, np.ones(A.shape, dtype=bool)), A)  # A's gradient 0
    base = inv(A) if n < 0 else A
    result, n = None, abs(n)
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def matrix_exp(A: Tensor) -> Tensor:  # noqa: N803
    """e^A for A (*, n, n) (scaling and squaring, Padé 13): ``ops.decompositions.MatrixExp``,
    whose gradient is the block-matrix exponential."""
    _matrices("linalg.matrix_exp", A)
    return MatrixExp.apply(A)
