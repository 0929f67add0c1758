"""``tinylm.linalg``: the norms of ``torch.linalg``.

* ``vector_norm(x, ord=2, dim=None, keepdim=False)`` — ‖x‖_ord over ``dim`` (all elements
  by default) for ord a number, inf or −inf: ``tinylm/ops/norms.py: VectorNorm``;
* ``matrix_norm(A, ord="fro", dim=(-2, -1))`` — of each matrix of a batch: "fro"
  (√Σ A_ij², the 2-norm of the entries), 1 / −1 (the largest / smallest column sum of
  |A_ij|) and inf / −inf (the same of the rows), composed of ``abs``, ``sum`` and
  ``amax``/``amin``. "nuc", 2 and −2 need singular values and are refused;
* ``norm(A, ord=None, dim=None)`` — one of the two, chosen as ``torch.linalg.norm`` does.

``Tensor.norm`` and ``tinylm.norm`` (``torch.norm``) are built on the first two.
``cross``, ``vecdot`` and ``multi_dot`` are in ``tinylm/tensor_linalg.py``; the solvers and
decompositions (``inv``, ``solve``, ``det``, ``cholesky``, ``qr``, ``eigh``, ``svd``, ``pinv``,
``lstsq``, ``matrix_exp`` …) in ``tinylm/linalg_decompositions.py``; ``cond`` is here.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

from tinylm.autograd import TinyLMError
from tinylm.linalg_decompositions import (
    LinAlgError,
    cholesky_ex,
    det,
    eigh,
    eigvalsh,
    inv,
    inv_ex,
    lstsq,
    matrix_exp,
    matrix_power,
    matrix_rank,
    pinv,
    singular_values,
    slogdet,
    solve,
    solve_triangular,
    svdvals,
)
from tinylm.linalg_decompositions import linalg_cholesky as cholesky
from tinylm.linalg_decompositions import linalg_qr as qr
from tinylm.linalg_decompositions import linalg_svd as svd
from tinylm.ops.norms import VectorNorm
from tinylm.ops.reductions import normalize_axis
from tinylm.tensor_linalg import linalg_cross as cross
from tinylm.tensor_linalg import multi_dot, vecdot

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module
    from tinylm.tensor import Tensor

__all__ = [
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cond",
    "cross",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "inv_ex",
    "lstsq",
    "matrix_exp",
    "matrix_norm",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_triangular",
    "svd",
    "svdvals",
    "vecdot",
    "vector_norm",
]


def _float_input(op: str, x: Tensor, dtype: Any) -> Tensor:
    """``x`` (converted to ``dtype`` if given), which must be floating point, as PyTorch's
    norms require."""
    if dtype is not None:
        if x.dtype.kind != "f" or getattr(dtype, "kind", "f") != "f":
            what = x.dtype if x.dtype.kind != "f" else dtype
            raise TinyLMError(f"{op}: needs a floating-point tensor and dtype, got {what}")
        return x.to(dtype)
    if x.dtype.kind != "f":
        raise TinyLMError(
            f"{op}: needs a floating-point tensor, got {x.dtype}; convert first (x.float()), "
            "as in PyTorch"
        )
    return x


def _dims(op: str, x: Tensor, dim: Any) -> Any:
    """``dim`` as None (all elements) or a tuple of distinct dims of ``x``."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return None  # () means every dim, as in PyTorch
    return _axes(op, x, dims)


def _axes(op: str, x: Tensor, dims: tuple[Any, ...]) -> tuple[int, ...]:
    """Distinct dims of ``x``, made non-negative, or one line naming ``op`` and x's shape."""
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"{op}: dim must be ints, got {dims!r}")
    try:
        return normalize_axis(dims, x.ndim, op)
    except TinyLMError as e:
        raise TinyLMError(f"{e} (tensor of shape {x.shape} {x.dtype})") from None


def vector_norm(
    x: Tensor,
    ord: float = 2,  # noqa: A002 - PyTorch's name
    dim: int | tuple[int, ...] | None = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """‖x‖_ord over ``dim`` (one dim, several, or all when None or ()): ord 2 (default),
    1, inf (max |x|), −inf (min |x|), 0 (the number of non-zero elements) or any other
    number p, (Σ|x|^p)^(1/p). x of shape S gives S without the reduced dims (kept as 1
    with ``keepdim``). Gradients at 0 are PyTorch's (``ops.norms.VectorNorm``)."""
    if isinstance(ord, str) or not isinstance(ord, numbers.Real):
        raise TypeError(
            f"vector_norm: ord must be a number (2, 1, inf, -inf, 0 or any p), got {ord!r}; "
            "for 'fro' and 'nuc' use matrix_norm"
        )
    x = _float_input("vector_norm", x, dtype)
    axes = _dims("vector_norm", x, dim)
    return VectorNorm.apply(x, p=float(ord), axis=axes, keepdims=keepdim)


def matrix_norm(
    A: Tensor,  # noqa: N803 - PyTorch's name
    ord: str | float = "fro",  # noqa: A002 - PyTorch's name
    dim: tuple[int, int] = (-2, -1),
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """The norm of each matrix of ``A`` (the two dims ``dim``; shape (*, m, n) → (*)):
    "fro" √Σ A_ij², 1 / −1 the largest / smallest Σ_i |A_ij| (column sums), inf / −inf the
    largest / smallest Σ_j |A_ij| (row sums); "nuc" the sum, 2 / −2 the largest / smallest
    of A's singular values (their gradient, U diag(G) Vh, through :func:`svdvals`; ties of
    2 / −2 share it, as amax/amin's)."""
    if not isinstance(dim, tuple | list) or len(dim) != 2:
        raise TinyLMError(f"matrix_norm: dim must be a 2-tuple of dims, got {dim!r}")
    if A.ndim < 2:
        raise TinyLMError(
            f"matrix_norm: needs a matrix or a batch of matrices, got shape {A.shape}"
        )
    if len({d % A.ndim for d in dim if isinstance(d, int)}) == 1:
        raise TinyLMError(f"matrix_norm: the two dims must differ, got {tuple(dim)}")
    rows, cols = (_axes("matrix_norm", A, (d,))[0] for d in dim)
    A = _float_input("matrix_norm", A, dtype)
    if ord in ("nuc", 2, -2) and not isinstance(ord, bool):
        s = singular_values(A.movedim((rows, cols), (-2, -1)))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        return out.unsqueeze(min(rows, cols)).unsqueeze(max(rows, cols)) if keepdim else out
    if ord == "fro":
        return VectorNorm.apply(A, p=2.0, axis=(rows, cols), keepdims=keepdim)
    if ord not in (1, -1, math.inf, -math.inf) or isinstance(ord, bool):
        raise TinyLMError(
            f"matrix_norm: ord must be 'fro', 'nuc', 2, -2, 1, -1, inf or -inf, got {ord!r}"
        )
    summed, other = (rows, cols) if abs(ord) == 1 else (cols, rows)  # 1: column sums
    sums = A.abs().sum(dim=summed, keepdim=True)
    out = sums.amax(other, keepdim=True) if ord > 0 else sums.amin(other, keepdim=True)
    return out if keepdim else out.squeeze((rows, cols))


def norm(
    A: Tensor,  # noqa: N803 - PyTorch's name
    ord: str | float | None = None,  # noqa: A002 - PyTorch's name
    dim: int | tuple[int, ...] | None = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
) -> Tensor:
    """``torch.linalg.norm``: a vector norm when ``dim`` is one dim (or, with ord None and
    dim None, over all elements; or when A is 1-D), a matrix norm when ``dim`` is two dims
    (or A is 2-D and ord is given): see :func:`vector_norm` and :func:`matrix_norm`."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) not in (1, 2):
            raise TinyLMError(f"linalg.norm: dim must be one or two dims, got {dim!r}")
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        if isinstance(ord, str):
            raise TinyLMError(f"linalg.norm: ord={ord!r} is a matrix norm: it needs two dims")
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim not in (1, 2):
        raise TinyLMError(
            f"linalg.norm: with ord={ord!r} and no dim the input must be 1-D (vector) or 2-D "
            f"(matrix), got shape {A.shape}"
        )
    if A.ndim == 2 or isinstance(ord, str):
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    return vector_norm(A, ord, None, keepdim, dtype=dtype)


def cond(A: Tensor, p: Any = None) -> Tensor:  # noqa: N803 - PyTorch's name
    """κ_p(A) for A (*, m, n) → (*): σ_max / σ_min for p None or 2 (σ_min / σ_max for −2;
    any m, n), else ‖A‖_p ‖A⁻¹‖_p for p "fro", "nuc", ±1, ±inf (A square; inf where A is
    singular, as PyTorch's; "nuc" from the singular values, Σσ · Σ1/σ). Composed of
    :func:`svdvals`, :func:`inv_ex` and :func:`matrix_norm`, so its gradient is theirs."""
    if p is None or (p in (2, -2) and not isinstance(p, bool | str)):
        s = svdvals(A)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf) or isinstance(p, bool):
        raise TinyLMError(
            f"linalg.cond: p must be None, 2, -2, 'fro', 'nuc', 1, -1, inf or -inf, got {p!r}"
        )
    if p == "nuc":  # Σσ · Σ1/σ, from the singular values as PyTorch's (NaN for A = 0)
        s = svdvals(A)
        return s.sum(-1) * (1 / s).sum(-1)
    inverse, info = inv_ex(A)
    invertible = info == 0
    out = matrix_norm(A, p) * matrix_norm(inverse.where(invertible[..., None, None], A), p)
    return out.where(invertible, out.new_full((), math.inf))
