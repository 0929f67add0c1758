"""``tinylm.linalg``'s solvers and decompositions against ``torch.linalg`` itself: values,
shapes, dtypes and the gradients of every float input for a random upstream gradient
(float64; batched, transposed and strided inputs), PyTorch's older top-level names and
methods, and the same refusals. Eigenvectors and singular vectors are each defined up to a
sign, and two LAPACKs may pick different ones: those tests fix the sign the same way in both
libraries (by the sign of the first row) before comparing.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from torch_parity import check_against_torch, refused_by_both, values

import tinylm
from tinylm import TinyLMError

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

LinAlgError = tinylm.linalg.LinAlgError


def well_conditioned(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random matrices (*, m, n), far from singular when square: standard normal + 3 I."""
    a = np.random.default_rng(seed).standard_normal(shape)
    return a + 3 * np.eye(*shape[-2:])


def spd(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Symmetric positive-definite matrices X Xᵀ + n I."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def symmetric_separated(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Symmetric matrices whose eigenvalues are at least 1 apart (gradients well defined);
    ``symmetric + tril noise`` so that only the read triangle matters."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal(shape))
    w = np.arange(shape[-1]) * 1.5 - 2 + rng.uniform(0, 0.3, shape[:-1])
    return (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)


def noncontiguous(t: Any) -> Any:
    """Every other column of the transposed matrices ((*, 2n, n) → (*, n, n)): a strided
    view in both libraries."""
    return t.mT[..., ::2]


def fix_sign(v: Any) -> Any:
    """v's columns with their first row made non-negative (signs of eigen/singular vectors
    are LAPACK's choice)."""
    return v * v[..., :1, :].sign()


def rand(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------------------------------
# Inverses, solves, determinants
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 3, 3), (0, 2, 2)])
def test_inv_det_slogdet_logdet_match_torch(shape: tuple[int, ...]) -> None:
    a = well_conditioned(shape)
    check_against_torch(lambda lib, t: lib.linalg.inv(t[0]), [a], rtol=1e-10)
    check_against_torch(lambda lib, t: lib.linalg.det(t[0]), [a], rtol=1e-10)
    check_against_torch(
        lambda lib, t: tuple(lib.linalg.slogdet(t[0])),
        [a],
        rtol=1e-10,
        upstream_for_every_output=True,  # torch's sign requires grad (a zero one)
    )
    check_against_torch(lambda lib, t: (lib.inverse(t[0]), t[0].det(), lib.logdet(t[0])), [a])


def test_inverse_and_det_of_strided_inputs_and_methods_match_torch() -> None:
    a = well_conditioned((2, 6, 3))  # noncontiguous: (2, 3, 3) from the transposed rows
    a[..., ::2, :] += 3 * np.eye(3)
    check_against_torch(lambda lib, t: lib.linalg.inv(noncontiguous(t[0])), [a], rtol=1e-10)
    check_against_torch(lambda lib, t: noncontiguous(t[0]).det(), [a], rtol=1e-10)
    check_against_torch(
        lambda lib, t: tuple(noncontiguous(t[0]).slogdet()),
        [a],
        rtol=1e-10,
        upstream_for_every_output=True,
    )
    check_against_torch(lambda lib, t: noncontiguous(t[0]).inverse(), [a], rtol=1e-10)


def test_det_gradient_at_a_singular_matrix_is_the_cofactors() -> None:
    """det is a polynomial: its gradient at a singular A is adj(A)ᵀ, not 0 (torch 2.13 gives
    0 there: a deliberate difference); near a singular A both libraries agree."""
    a = tinylm.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=tinylm.float64, requires_grad=True)
    tinylm.linalg.det(a).backward()
    np.testing.assert_allclose(values(a.grad), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-14)
    rank2 = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    grad = tinylm.tensor(rank2, requires_grad=True)
    tinylm.linalg.det(grad).backward()
    cofactors = np.linalg.det(rank2 + 1e-9 * np.eye(3)) * np.linalg.inv(rank2 + 1e-9 * np.eye(3)).T
    np.testing.assert_allclose(values(grad.grad), cofactors, atol=1e-7)
    near = rank2 + 1e-6 * np.eye(3)
    check_against_torch(lambda lib, t: lib.linalg.det(t[0]), [near], rtol=1e-6, atol=1e-9)


def test_logdet_is_nan_for_a_negative_determinant_and_slogdet_gives_the_sign() -> None:
    a = np.array([[[0.0, 1.0], [1.0, 0.0]], [[2.0, 0.5], [0.3, 1.0]]])
    check_against_torch(lambda lib, t: lib.logdet(t[0]), [a], finite_upstream=True)
    check_against_torch(
        lambda lib, t: tuple(lib.linalg.slogdet(t[0])), [a], upstream_for_every_output=True
    )


def test_inv_ex_and_cholesky_ex_report_info_as_torch() -> None:
    good, bad = well_conditioned((2, 2)), np.array([[1.0, 2.0], [2.0, 4.0]])
    stack = np.stack([good, bad])
    for lib in (tinylm, torch):
        assert values(lib.linalg.inv_ex(lib.tensor(stack)).info).tolist() == [0, 2]
    rank2 = np.array([[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1, 0, 1]]])  # which zero pivot is
    for lib in (tinylm, torch):  # named depends on the LAPACK (MKL says 2, textbook LU 3)
        assert values(lib.linalg.inv_ex(lib.tensor(rank2)).info).tolist() != [0]
    check_against_torch(lambda lib, t: tuple(lib.linalg.inv_ex(t[0])), [good[None]], rtol=1e-10)
    ours = tinylm.linalg.inv_ex(tinylm.tensor(stack))
    assert ours.info.dtype == tinylm.int32 and np.isnan(values(ours.inverse)[1]).all()
    not_pd = np.stack([spd((3, 3)), np.diag([1.0, 2.0, -1.0]), -np.eye(3)])
    for lib in (tinylm, torch):
        assert values(lib.linalg.cholesky_ex(lib.tensor(not_pd)).info).tolist() == [0, 3, 1]
    check_against_torch(lambda lib, t: tuple(lib.linalg.cholesky_ex(t[0])), [not_pd[:1]])
    with pytest.raises(LinAlgError, match="singular"):
        tinylm.linalg.inv_ex(tinylm.tensor(stack), check_errors=True)
    with pytest.raises(LinAlgError, match="not positive-definite"):
        tinylm.linalg.cholesky_ex(tinylm.tensor(not_pd), check_errors=True)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "left"),
    [
        ((3, 3), (3, 2), True),
        ((2, 3, 3), (3, 4), True),  # B broadcast over A's batch
        ((3, 3), (2, 3, 1), True),  # A broadcast over B's batch
        ((2, 3, 3), (2, 3), True),  # a batch of vectors
        ((3, 3), (3,), True),
        ((2, 3, 3), (2, 4, 3), False),
    ],
)
def test_solve_matches_torch(a_shape: tuple, b_shape: tuple, left: bool) -> None:
    check_against_torch(
        lambda lib, t: lib.linalg.solve(t[0], t[1], left=left),
        [well_conditioned(a_shape), rand(b_shape)],
        rtol=1e-10,
    )


@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unitriangular", [True, False])
def test_solve_triangular_matches_torch(upper: bool, left: bool, unitriangular: bool) -> None:
    a = well_conditioned((2, 6, 3))  # the whole matrix is given: only one triangle is read
    a[..., ::2, :] += 3 * np.eye(3)
    b = rand((2, 3, 4) if left else (2, 4, 3))
    check_against_torch(
        lambda lib, t: lib.linalg.solve_triangular(
            noncontiguous(t[0]), t[1], upper=upper, left=left, unitriangular=unitriangular
        ),
        [a, b],
        rtol=1e-10,
    )


# ---------------------------------------------------------------------------------------
# Decompositions
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_matches_torch_and_reads_one_triangle(upper: bool) -> None:
    a = spd((2, 4, 4))
    a[..., 3, 0] += 100.0 if upper else 0.0  # the other triangle is not read
    a[..., 0, 3] += 0.0 if upper else 100.0
    check_against_torch(lambda lib, t: lib.linalg.cholesky(t[0], upper=upper), [a], rtol=1e-10)
    check_against_torch(lambda lib, t: t[0].mT.mT.cholesky(upper), [a], ignore_warnings=True)


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 4), (3, 5), (2, 2, 3, 5)])
@pytest.mark.parametrize("mode", ["reduced", "complete"])
def test_qr_matches_torch(shape: tuple[int, ...], mode: str) -> None:
    a = rand(shape, 3)
    m, n = shape[-2:]
    if mode == "complete" and m > n:  # no derivative there, in either library
        check_against_torch(lambda lib, t: tuple(lib.linalg.qr(t[0].detach(), mode)), [a])
        return
    check_against_torch(lambda lib, t: tuple(lib.linalg.qr(t[0], mode)), [a], rtol=1e-10)
    check_against_torch(lambda lib, t: tuple(t[0].qr(mode == "reduced")), [a], rtol=1e-10)


def test_qr_mode_r_gives_r_alone_and_refuses_its_derivative() -> None:
    a = rand((4, 3))
    check_against_torch(lambda lib, t: tuple(lib.linalg.qr(t[0].detach(), "r")), [a])
    r = tinylm.linalg.qr(tinylm.tensor(a, requires_grad=True), mode="r").R
    with pytest.raises(TinyLMError, match="mode='r'"):
        r.sum().backward()
    refused_by_both(lambda lib: lib.linalg.qr(lib.tensor(a), "full"), TinyLMError, "mode must")


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_and_eigvalsh_match_torch(uplo: str) -> None:
    a = symmetric_separated((2, 4, 4))
    noise = np.triu(rand((2, 4, 4)), 1) if uplo == "L" else np.tril(rand((2, 4, 4)), -1)

    def build(lib: ModuleType, t: list[Any]) -> Any:
        w, v = lib.linalg.eigh(t[0], UPLO=uplo)
        return w, fix_sign(v)

    check_against_torch(build, [a + noise], rtol=1e-9, atol=1e-11)
    check_against_torch(lambda lib, t: lib.linalg.eigvalsh(t[0], uplo), [a + noise], rtol=1e-10)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4), (2, 1, 3, 2)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_svd_matches_torch(shape: tuple[int, ...], full_matrices: bool) -> None:
    a = rand(shape, 4)
    k = min(shape[-2:])

    def build(lib: ModuleType, t: list[Any]) -> Any:
        u, s, vh = lib.linalg.svd(t[0], full_matrices=full_matrices)
        u, vh = u[..., :k], vh[..., :k, :]  # the extra columns: any orthonormal completion
        sign = u[..., :1, :].sign()
        return u * sign, s, vh * sign.mT

    check_against_torch(build, [a], rtol=1e-9, atol=1e-11)
    check_against_torch(lambda lib, t: lib.linalg.svdvals(noncontiguous(t[0])), [a], rtol=1e-10)


def test_old_svd_returns_v_and_zeros_without_compute_uv_as_torch() -> None:
    a = rand((2, 5, 3), 5)

    def build(lib: ModuleType, t: list[Any]) -> Any:
        u, s, v = lib.svd(t[0])
        sign = u[..., :1, :].sign()
        return u * sign, s, v * sign

    check_against_torch(build, [a], rtol=1e-9, atol=1e-11)
    check_against_torch(lambda lib, t: tuple(t[0].svd(compute_uv=False)), [a], rtol=1e-10)


# ---------------------------------------------------------------------------------------
# Pseudo-inverse, least squares, rank, powers, exponential, norms, cond
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_pinv_and_lstsq_match_torch(shape: tuple[int, ...]) -> None:
    a = rand(shape, 6)
    check_against_torch(lambda lib, t: lib.linalg.pinv(t[0]), [a], rtol=1e-9, atol=1e-11)
    check_against_torch(lambda lib, t: t[0].pinverse(), [a], rtol=1e-9, atol=1e-11)
    b = rand(shape[:-1] + (2,), 7)
    check_against_torch(
        lambda lib, t: tuple(lib.linalg.lstsq(t[0], t[1])), [a, b], rtol=1e-9, atol=1e-11
    )


def test_pinv_of_a_rank_deficient_and_a_hermitian_matrix_matches_torch() -> None:
    x = rand((4, 2), 8)
    low_rank = x @ rand((2, 5), 9)  # rank 2: the gradient keeps the rank
    check_against_torch(lambda lib, t: lib.linalg.pinv(t[0]), [low_rank], rtol=1e-8, atol=1e-10)
    sym = symmetric_separated((4, 4))
    check_against_torch(
        lambda lib, t: lib.linalg.pinv(t[0], hermitian=True), [sym], rtol=1e-9, atol=1e-11
    )
    check_against_torch(lambda lib, t: lib.linalg.pinv(t[0], atol=0.5), [sym], rtol=1e-9)


def test_matrix_rank_matches_torch() -> None:
    a = np.stack([rand((4, 2), 1) @ rand((2, 4), 2), rand((4, 4), 3), np.zeros((4, 4))])
    for call in [
        "lib.linalg.matrix_rank(A)",
        "lib.linalg.matrix_rank(A, atol=1.0, rtol=0.0)",
        "lib.linalg.matrix_rank(A + A.mT, hermitian=True)",
        "lib.linalg.matrix_rank(A[:, :3])",
    ]:
        ours, theirs = (eval(call, {"lib": lib, "A": lib.tensor(a)}) for lib in (tinylm, torch))
        assert str(ours.dtype) == "int64" and str(theirs.dtype) == "torch.int64"
        assert values(ours).tolist() == values(theirs).tolist(), call


@pytest.mark.parametrize("n", [0, 1, 2, 3, 6, -1, -3])
def test_matrix_power_matches_torch(n: int) -> None:
    a = well_conditioned((2, 3, 3)) / 3
    check_against_torch(lambda lib, t: lib.linalg.matrix_power(t[0], n), [a], rtol=1e-10)
    b = well_conditioned((2, 6, 3), 2) / 3
    b[..., ::2, :] += np.eye(3)
    check_against_torch(lambda lib, t: noncontiguous(t[0]).matrix_power(n), [b], rtol=1e-10)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 10.0])
def test_matrix_exp_matches_torch(scale: float) -> None:
    a = rand((2, 4, 4), 10) * scale  # 10: scaled and squared several times
    check_against_torch(lambda lib, t: lib.linalg.matrix_exp(t[0]), [a], rtol=1e-10, atol=1e-12)
    check_against_torch(lambda lib, t: lib.matrix_exp(noncontiguous(t[0])), [rand((6, 3))])
    check_against_torch(lambda lib, t: t[0].matrix_exp(), [rand((3, 3)) * 1e-9])


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_matrix_norms_from_singular_values_match_torch(ord: Any) -> None:  # noqa: A002
    a = rand((2, 3, 4), 11)
    check_against_torch(lambda lib, t: lib.linalg.matrix_norm(t[0], ord), [a], rtol=1e-10)
    check_against_torch(
        lambda lib, t: lib.linalg.matrix_norm(t[0], ord, dim=(0, 2), keepdim=True), [a]
    )
    check_against_torch(lambda lib, t: lib.linalg.norm(t[0][0], ord), [a], rtol=1e-10)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf])
def test_cond_matches_torch(p: Any) -> None:
    a = well_conditioned((2, 3, 3))

    def build(lib: ModuleType, t: list[Any]) -> Any:
        if lib is torch and p not in (None, 2, -2):  # torch 2.13's cond backward fails here
            n = torch.linalg.matrix_norm  # (an in-place change to inv_ex's saved output)
            return n(t[0], p) * n(torch.linalg.inv(t[0]), p)
        return lib.linalg.cond(t[0], p)

    check_against_torch(build, [a], rtol=1e-9)
    check_against_torch(lambda lib, t: lib.linalg.cond(t[0].detach(), p), [a], rtol=1e-9)
    singular = np.array([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    if p in (None, 2, -2, "nuc"):  # 1/σ_min at a singular A: 1/(a rounding) or inf or NaN
        singular = singular[1:]
    ours, theirs = (values(lib.linalg.cond(lib.tensor(singular), p)) for lib in (tinylm, torch))
    np.testing.assert_array_equal(ours, theirs)


def test_float32_keeps_its_dtype_as_torch() -> None:
    a = well_conditioned((3, 3)).astype(np.float32)
    for call in ["inv(A)", "det(A)", "matrix_exp(A)", "svdvals(A)", "pinv(A)", "eigvalsh(A+A.mT)"]:
        ours, theirs = (
            eval(f"lib.linalg.{call}", {"lib": lib, "A": lib.tensor(a)}) for lib in (tinylm, torch)
        )
        assert str(ours.dtype) == "float32" and theirs.dtype == torch.float32, call
        np.testing.assert_allclose(values(ours), values(theirs), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------


def test_a_singular_matrix_raises_linalg_error_as_torch() -> None:
    assert issubclass(LinAlgError, TinyLMError) and issubclass(LinAlgError, RuntimeError)
    singular = "[[1.0, 2.0], [2.0, 4.0]]"
    for call, message in [
        (f"lib.linalg.inv(lib.tensor({singular}))", "singular"),
        (f"lib.linalg.solve(lib.tensor({singular}), lib.tensor([1.0, 2.0]))", "singular"),
        (f"lib.linalg.matrix_power(lib.tensor({singular}), -1)", "singular"),
        ("lib.linalg.cholesky(-lib.eye(2))", "not positive-definite"),
    ]:
        refused_by_both(call, LinAlgError, message, torch.linalg.LinAlgError)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("lib.linalg.inv(lib.ones(2, 3))", "square matrices, but they are 2 by 3"),
        ("lib.linalg.det(lib.ones(3))", "at least 2 dimensions"),
        ("lib.linalg.inv(lib.ones(2, 2, dtype=lib.int64))", "floating-point"),
        ("lib.linalg.eigh(lib.ones(2, 2, dtype=lib.float16))", "low-precision"),
        ("lib.linalg.solve(lib.eye(2), lib.ones(3, 1))", "incompatible shapes"),
        ("lib.linalg.solve(lib.eye(2), lib.ones(2, dtype=lib.float64))", "same dtype"),
        ("lib.linalg.eigh(lib.eye(2), UPLO='X')", "UPLO must be"),
        ("lib.linalg.matrix_norm(lib.eye(2), 3)", "ord must be"),
        ("lib.linalg.cond(lib.eye(2), 3)", "p must be"),
        ("lib.linalg.cond(lib.ones(2, 3), 'fro')", "square matrices"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(call: str, message: str) -> None:
    refused_by_both(call, TinyLMError, message)


def test_what_tinylm_leaves_out_is_refused_in_one_line() -> None:
    a, b = tinylm.tensor(rand((4, 2))), tinylm.tensor(rand((4, 1)))
    with pytest.raises(TinyLMError, match="only the driver 'gelsy'"):
        tinylm.linalg.lstsq(a, b, driver="gelsd")
    with pytest.raises(TypeError, match="n must be an int"):
        tinylm.linalg.matrix_power(tinylm.eye(2), 2.0)
    with pytest.raises(LinAlgError, match="zero on the triangular matrix's diagonal"):
        tinylm.linalg.solve_triangular(tinylm.zeros(2, 2), tinylm.ones(2, 1), upper=True)
    x = tinylm.tensor(rand((4, 2)), requires_grad=True)
    with pytest.raises(TinyLMError, match="mode='complete'"):
        tinylm.linalg.qr(x, mode="complete").Q.sum().backward()
