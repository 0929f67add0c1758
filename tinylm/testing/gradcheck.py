"""Check analytic gradients against finite differences.

For a function f of tensors, backward computes the vector-Jacobian product uᵀJ for an
upstream gradient u. Finite differences estimate the same quantity without any calculus:

    ∂(uᵀf)/∂x_i  ≈  (uᵀf(x + ε e_i) − uᵀf(x − ε e_i)) / 2ε       (central difference)

whose error is O(ε²). In float32 the rounding error of f, about 1e-7·|f|/ε, swamps that
for any useful ε — so gradcheck insists on float64.

The upstream gradient u is random, never all ones: with u = 1 a backward that returns a
transposed or permuted gradient (dV vs dK in attention, say) can still sum correctly.

Small inputs are checked element by element; large ones along a few random directions v,
comparing (uᵀJ)·v with (uᵀf(x + εv) − uᵀf(x − εv)) / 2ε.

A failure names the worst mismatch: which input, which element (and the input's value there)
or direction, the two numbers — both derivatives of uᵀf, so they depend on the random u — and,
for an element of a function with few outputs, the raw derivatives ∂f/∂x_i themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinylm.autograd import no_grad
from tinylm.tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "module_function"]


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree."""


def _outputs(result: Any) -> list[Tensor]:
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, list | tuple):
        return [r for r in result if isinstance(r, Tensor)]
    raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(result)}")


def _central_difference(
    plus: list[np.ndarray], minus: list[np.ndarray], upstream: list[np.ndarray], eps: float
) -> float:
    """uᵀ (f(x + δ) − f(x − δ)) / 2eps: the directional derivative of uᵀf, the scalar whose
    gradient backward computes.

    The outputs are subtracted *before* they are weighted and summed, so outputs that do not
    depend on x (e.g. a masked_fill value of −1e9) cancel exactly instead of swamping the
    difference with the rounding error of a huge sum.
    """
    return float(sum(np.sum((p - m) * u) for p, m, u in zip(plus, minus, upstream))) / (2 * eps)


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Tensor] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    max_elementwise: int = 256,
    n_directions: int = 4,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Compare the gradients from ``backward`` with central finite differences.

    Args:
        fn: maps the input tensors to a tensor (or a tuple of tensors).
        inputs: the input tensors; those with ``requires_grad=True`` are checked. They
            must be float64 (see the module docstring for why).
        eps: finite-difference step.
        atol, rtol: pass when |analytic − numeric| ≤ atol + rtol·|numeric| everywhere.
        max_elementwise: inputs with at most this many elements are checked element by
            element; larger ones along ``n_directions`` random directions.
        seed: seeds the random upstream gradient and directions.
        raise_exception: raise :class:`GradcheckError` on failure (else return False).

    Returns:
        True when every checked gradient matches.

    The inputs are never modified: perturbed copies are passed to ``fn``.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite differences need "
                "float64. In float32 the rounding error of f (≈1e-7·|f|/eps) is larger than "
                "the gradient's own accuracy for any useful eps. Use x.double()."
            )
    rng = np.random.default_rng(seed)

    # Analytic side: one backward pass with a random upstream gradient u.
    leaves = [_leaf(t) for t in inputs]
    outputs = _outputs(fn(*leaves))
    upstream = [rng.standard_normal(o.shape) for o in outputs]
    differentiable = [(o, u) for o, u in zip(outputs, upstream) if o.requires_grad]
    if not differentiable:
        raise GradcheckError("gradcheck: no output requires grad; is fn differentiable?")
    for k, (o, u) in enumerate(differentiable):
        o.backward(gradient=u.astype(o.dtype), retain_graph=k < len(differentiable) - 1)
    analytic = {}
    for i in checked:
        g = leaves[i].grad
        analytic[i] = (
            np.zeros(inputs[i].shape) if g is None else g.detach().numpy().astype(np.float64)
        )
        if analytic[i].shape != inputs[i].shape:
            raise GradcheckError(
                f"gradcheck: gradient of input {i} has shape {analytic[i].shape}, "
                f"expected {inputs[i].shape}"
            )

    def f_at(i: int, delta: np.ndarray) -> list[np.ndarray]:
        args = [
            Tensor(t.detach().numpy() + delta, device=t.device)
            if j == i
            else (Tensor(t.detach().numpy(), device=t.device) if isinstance(t, Tensor) else t)
            for j, t in enumerate(inputs)
        ]
        with no_grad():
            return [o.detach().numpy().astype(np.float64) for o in _outputs(fn(*args))]

    def raw_derivatives(i: int, flat: int) -> str:
        """∂f/∂x_i unweighted, one entry per output element, by backward (one pass per
        output element, with a one-hot upstream gradient) and by central differences."""
        delta = np.zeros(inputs[i].shape)
        delta.flat[flat] = eps
        plus, minus = f_at(i, delta), f_at(i, -delta)
        numeric = np.concatenate([((p - m) / (2 * eps)).reshape(-1) for p, m in zip(plus, minus)])
        if numeric.size > _MAX_RAW_OUTPUTS:
            return ""
        at = ", ".join(str(int(k)) for k in np.unravel_index(flat, inputs[i].shape))
        fresh = [_leaf(t) for t in inputs]
        outs = _outputs(fn(*fresh))
        by_backward = []
        for o in outs:
            for k in range(o.numel()):
                if not o.requires_grad:
                    by_backward.append(0.0)
                    continue
                fresh[i].grad = None
                one_hot = np.zeros(o.shape)
                one_hot.flat[k] = 1.0
                o.backward(gradient=one_hot.astype(o.dtype), retain_graph=True)
                g = fresh[i].grad
                by_backward.append(
                    0.0 if g is None else float(g.detach().numpy().reshape(-1)[flat])
                )
        return (
            f"\nUnweighted, df/dx[{at}] (one entry per output element) is "
            f"{np.array2string(np.array(by_backward), precision=6)} by backward and "
            f"{np.array2string(numeric, precision=6)} by central differences."
        )

    worst: tuple[float, str] = (-np.inf, "")
    worst_element: tuple[int, int] | None = None
    ok = True
    for i in checked:
        shape = inputs[i].shape
        size = int(np.prod(shape))
        if size <= max_elementwise:
            for flat in range(size):
                delta = np.zeros(size)
                delta[flat] = eps
                delta = delta.reshape(shape)
                numeric = _central_difference(f_at(i, delta), f_at(i, -delta), upstream, eps)
                a = analytic[i].reshape(-1)[flat]
                # plain ints: numpy 2 would print (np.int64(1), np.int64(2))
                where = tuple(int(k) for k in np.unravel_index(flat, shape))
                value = float(inputs[i].detach().numpy().reshape(-1)[flat])
                before = worst
                ok, worst = _compare(
                    ok,
                    worst,
                    a,
                    numeric,
                    atol,
                    rtol,
                    f"input {i} element {where} (where the input is {value:.6g})",
                )
                if worst is not before:
                    worst_element = (i, flat)
        else:
            for d in range(n_directions):
                v = rng.standard_normal(shape)
                v /= np.linalg.norm(v)
                numeric = _central_difference(f_at(i, eps * v), f_at(i, -eps * v), upstream, eps)
                a = float(np.sum(analytic[i] * v))
                before = worst
                ok, worst = _compare(
                    ok, worst, a, numeric, atol, rtol, f"input {i} random direction {d}"
                )
                if worst is not before:
                    worst_element = None
    if not ok and raise_exception:
        if worst_element is None:
            meaning = (
                "Both numbers are the derivative of Σ u·f along a random unit direction v of "
                "the input, (uᵀJ)·v"
            )
        else:
            meaning = "Both numbers are ∂(Σ u·f)/∂x at that element"
        message = (
            f"gradcheck failed; worst mismatch: {worst[1]}.\n{meaning}: f is fn's output, u "
            f"the random upstream gradient (seed {seed}), so they are what "
            f"backward(gradient=u) computes; 'analytic' comes from backward, 'numeric' from "
            f"central differences with eps={eps:g}."
        )
        if worst_element is not None:
            message += raw_derivatives(*worst_element)
        raise GradcheckError(message)
    return ok


#: the raw derivatives are printed for functions with at most this many output elements
_MAX_RAW_OUTPUTS = 16


def _leaf(t: Any) -> Any:
    """A fresh copy of an input (a leaf with the same requires_grad); non-Tensors as they are."""
    if not isinstance(t, Tensor):
        return t
    return Tensor(t.detach().numpy().copy(), device=t.device, requires_grad=t.requires_grad)


def _compare(
    ok: bool,
    worst: tuple[float, str],
    analytic: float,
    numeric: float,
    atol: float,
    rtol: float,
    where: str,
) -> tuple[bool, tuple[float, str]]:
    err = abs(analytic - numeric)
    allowed = atol + rtol * abs(numeric)
    excess = err - allowed if np.isfinite(err) else np.inf
    if not err <= allowed:  # also catches NaN
        ok = False
    if excess > worst[0]:
        worst = (
            excess,
            f"{where}: analytic {analytic:.10g} vs numeric {numeric:.10g} "
            f"(|diff| {err:.3g} > allowed {allowed:.3g})"
            if not err <= allowed
            else "",
        )
    return ok, worst


def module_function(module: Any) -> tuple[Callable[..., Any], list[Tensor]]:
    """``(fn, params)`` for gradchecking a Module with respect to its parameters too.

    ``fn(x, *ps, **kwargs)`` runs ``module(x, **kwargs)`` with the tensors ``ps`` in place of
    its parameters ``params`` (in ``named_parameters`` order), then puts the parameters
    back, so ``gradcheck(fn, [x, *params])`` perturbs and differentiates every weight.
    """
    slots = [
        (mod, name)
        for _, mod in module.named_modules()
        for name, p in mod._parameters.items()
        if p is not None
    ]
    params = [mod._parameters[name] for mod, name in slots]

    def fn(x: Any, *ps: Tensor, **kwargs: Any) -> Any:
        saved = [mod._parameters[name] for mod, name in slots]
        for (mod, name), p in zip(slots, ps):
            mod._parameters[name] = p
        try:
            return module(x, **kwargs)
        finally:
            for (mod, name), p in zip(slots, saved):
                mod._parameters[name] = p

    return fn, params
