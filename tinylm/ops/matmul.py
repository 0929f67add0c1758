"""Products: matrix multiplication, and Einstein summation (einsum)."""

from __future__ import annotations

import string
from collections import Counter
from typing import Any

import numpy as np

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.kernels.parallel import note_blas_product

__all__ = ["Einsum", "MatMul", "einsum_subscripts"]

# ---------------------------------------------------------------------------------------
# Matrix multiplication
# ---------------------------------------------------------------------------------------


class MatMul(Function):
    """C = A @ B over the last two axes, broadcasting the leading (batch) axes.

    With C_ij = Σ_k A_ik B_kj:  dL/dA = G Bᵀ  and  dL/dB = Aᵀ G.
    1-D operands are treated as a row (A) or a column (B) vector, as in numpy.
    """

    silences_fp_warnings = True

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> Any:
        if a.ndim == 0 or b.ndim == 0:
            raise TinyLMError(
                f"matmul: both operands need at least 1 dim, got shapes {a.shape} and {b.shape}"
            )
        k_a = a.shape[-1]
        k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
        if k_a != k_b:
            raise TinyLMError(
                f"matmul: shapes {a.shape} {a.dtype} and {b.shape} {b.dtype} are not aligned: "
                f"{k_a} (last dim of the first) != {k_b} "
                f"({'second-to-last' if b.ndim >= 2 else 'only'} dim of the second)"
            )
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise TinyLMError(
                f"matmul: batch dims of {a.shape} and {b.shape} do not broadcast"
            ) from None
        ctx.save_for_backward(a, b)
        c = a @ b
        note_blas_product()  # BLAS's threads spin for a while now (kernels/parallel.py)
        return c

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple[Any, Any]:
        a, b = ctx.saved_arrays
        a2 = a[None, :] if a.ndim == 1 else a  # row vector (1, k)
        b2 = b[:, None] if b.ndim == 1 else b  # column vector (k, 1)
        # Put back the axes that numpy dropped for 1-D operands: m (b was 1-D) then n.
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if ctx.needs_input_grad[1]:
            gb = a2.swapaxes(-1, -2) @ g
            if b.ndim == 1:
                gb = gb[..., 0]
        note_blas_product()
        return ga, gb


# ---------------------------------------------------------------------------------------
# Einstein summation
# ---------------------------------------------------------------------------------------


class Einsum(Function):
    """y = einsum("s_1,…,s_n->o", x_1, …, x_n): multiply the operands, each labelled by its
    subscripts (one letter per axis), and sum over every letter that is not in ``o``.

    y is linear in each operand, so the gradient of operand i is the same kind of sum with
    x_i taken out and g put in: dL/dx_i = einsum("o,s_1,…(without s_i)…,s_n->s_i", g, …).
    A letter of s_i that appears nowhere else was summed away by the forward: every entry
    along it gets the same gradient, so a ones array of that size joins the sum. A size-1
    axis broadcast against a longer one (as in numpy and PyTorch) is summed back to 1.

    ``subscripts`` and ``output`` come from :func:`einsum_subscripts`: explicit letters only
    ("..." already replaced by letters), no letter twice within one operand.
    Readable as it is (numpy's own ``einsum``); ``tinylm.einsum`` is the public function.
    """

    silences_fp_warnings = True  # inf/nan operands: NumPy's products warn, PyTorch's do not

    @staticmethod
    def forward(ctx: Context, *arrays: Any, subscripts: tuple[str, ...], output: str) -> Any:
        dtypes = {a.dtype for a in arrays}
        if len(dtypes) > 1:
            raise TinyLMError(
                f"einsum: operands of one dtype expected (as in PyTorch), got "
                f"{', '.join(str(a.dtype) for a in arrays)}; convert them with .to(dtype)"
            )
        ctx.save_for_backward(*arrays)
        ctx.subscripts, ctx.output = subscripts, output
        y = array_module(arrays[0]).einsum(
            f"{','.join(subscripts)}->{output}", *arrays, optimize=len(arrays) > 1
        )
        if len(arrays) > 1:
            note_blas_product()  # optimize= hands pairs of operands to BLAS
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        arrays, subscripts = ctx.saved_arrays, ctx.subscripts
        xp = array_module(g)
        grads = []
        for i, (sub, a) in enumerate(zip(subscripts, arrays)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            subs = [ctx.output] + [s for j, s in enumerate(subscripts) if j != i]
            terms = [g] + [x for j, x in enumerate(arrays) if j != i]
            present = set("".join(subs))
            missing = "".join(c for c in sub if c not in present)
            if missing:  # summed away by the forward: each entry gets the same gradient
                sizes = dict(zip(sub, a.shape))
                subs.append(missing)
                terms.append(xp.ones([sizes[c] for c in missing], dtype=g.dtype))
            grad = xp.einsum(f"{','.join(subs)}->{sub}", *terms, optimize=len(terms) > 1)
            # size-1 axes of a broadcast against longer ones: summed back (the other way
            # round, a longer axis of a that the others had as 1: the same gradient repeated)
            stretched = tuple(
                d for d, (r, n) in enumerate(zip(grad.shape, a.shape)) if n == 1 and r != 1
            )
            if stretched:
                grad = grad.sum(axis=stretched, keepdims=True)
            if grad.shape != a.shape:
                grad = xp.broadcast_to(grad, a.shape)
            grads.append(grad)
        if len(arrays) > 1:
            note_blas_product()
        return tuple(grads) if len(grads) > 1 else grads[0]


def einsum_subscripts(equation: str, shapes: list[tuple[int, ...]]) -> tuple[tuple[str, ...], str]:
    """The operands' subscripts and the output's for ``equation`` and operands of ``shapes``,
    in explicit letters: "..." becomes letters the equation does not use (the broadcast
    dims, right-aligned), and an equation without "->" gets PyTorch's implicit output (the
    "..." dims, then the letters used once, in alphabetical order). One clear error for a
    malformed equation, or a diagonal (a letter twice in one operand), which tinylm refuses.
    """
    eq = equation.replace(" ", "")
    if eq.count("->") > 1:
        raise TinyLMError(f"einsum: {equation!r} has more than one '->'")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(shapes):
        raise TinyLMError(
            f"einsum: {equation!r} names {len(subs)} operand(s) but {len(shapes)} were given"
        )
    for s in [*subs, out] if arrow else subs:
        rest = s.replace("...", "", 1)
        if not all(c in string.ascii_letters for c in rest):
            raise TinyLMError(
                f"einsum: subscripts are letters with at most one '...' each, got {s!r} in "
                f"{equation!r}"
            )
    unused = [c for c in string.ascii_letters if c not in eq]
    n_ellipsis = 0
    for i, (s, shape) in enumerate(zip(subs, shapes)):
        letters = len(s.replace("...", ""))
        if len(shape) < letters or ("..." not in s and len(shape) != letters):
            raise TinyLMError(
                f"einsum: operand {i} has shape {tuple(shape)} ({len(shape)} dims) but its "
                f"subscripts {s!r} name {letters}"
            )
        if "..." in s:
            n_ellipsis = max(n_ellipsis, len(shape) - letters)
    dots = "".join(unused[:n_ellipsis])
    explicit = []
    for s, shape in zip(subs, shapes):
        if "..." in s:
            k = len(shape) - len(s.replace("...", ""))
            s = s.replace("...", dots[n_ellipsis - k :])
        if len(set(s)) != len(s):
            raise TinyLMError(
                f"einsum: a letter repeated within one operand ({s!r}: a diagonal) is not "
                "supported; take the diagonal with indexing first"
            )
        explicit.append(s)
    if arrow:
        output = out.replace("...", dots)
        if len(set(output)) != len(output) or not set(output) <= set("".join(explicit)):
            raise TinyLMError(
                f"einsum: the output {out!r} must name each letter once, and only letters of "
                f"the operands, in {equation!r}"
            )
    else:
        counts = Counter("".join(s.replace("...", "") for s in subs))
        output = dots + "".join(sorted(c for c, n in counts.items() if n == 1))
    return tuple(explicit), output
