"""L-BFGS (Nocedal, 1980; Liu & Nocedal, 1989) as PyTorch's ``torch.optim.LBFGS``: a
quasi-Newton method that builds an approximation of the inverse Hessian from the last
``history_size`` pairs of position and gradient changes, with an optional strong-Wolfe line
search (Nocedal & Wright, *Numerical Optimization*, Alg. 3.5 and 3.6).

All parameters are seen as one flat vector x (their elements in order, concatenated), with
gradient g. One ``step(closure)`` runs up to ``max_iter`` iterations and calls ``closure``
(which re-evaluates the model, calls ``backward`` and returns the loss) up to ``max_eval``
times.

State (of the first parameter, as PyTorch keeps it): ``func_evals`` and ``n_iter`` (ints,
over all steps), ``d`` (the last direction, flat), ``t`` (the last step length),
``old_dirs`` and ``old_stps`` (lists of the stored y and s vectors, flat), ``ro`` (their
1 / y·s), ``H_diag`` (the scale γ of the initial inverse Hessian), ``prev_flat_grad``,
``prev_loss`` and ``al`` (the two-loop recursion's α's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, enable_grad, no_grad
from tinylm.devices import array_module, device_of, to_device_array
from tinylm.optim.optimizer import Optimizer
from tinylm.tensor import Tensor, increment_version

__all__ = ["LBFGS", "cubic_interpolate", "strong_wolfe"]

LIST_STATE = ("old_dirs", "old_stps")  # lists of flat vectors
FLAT_STATE = ("d", "prev_flat_grad")  # one flat vector each


def cubic_interpolate(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
    clamped to ``bounds`` (default: the interval between x1 and x2). Nocedal & Wright (3.59):

        d₁ = g1 + g2 − 3 (f1 − f2) / (x1 − x2),   d₂ = √(d₁² − g1 g2)
        x = x2 − (x2 − x1) (g2 + d₂ − d₁) / (g2 − g1 + 2 d₂)        (for x1 ≤ x2)

    When d₁² < g1 g2 the cubic has no minimiser, and the middle of the bounds is returned.
    """
    x1, f1, g1, x2, f2, g2 = (np.float64(v) for v in (x1, f1, g1, x2, f2, g2))
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    if x1 > x2:  # the formula is written for x1 ≤ x2 (d₁ and d₂ are symmetric)
        x1, f1, g1, x2, f2, g2 = x2, f2, g2, x1, f1, g1
    with np.errstate(all="ignore"):  # x1 = x2 gives inf or NaN, as in PyTorch, not an error
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 * d1 - g1 * g2
        if not d2_square >= 0:  # no minimiser (or NaN): bisect
            return float((low + high) / 2.0)
        d2 = np.sqrt(d2_square)
        minimum = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    return float(min(max(minimum, low), high))


def strong_wolfe(
    evaluate: Callable[[float], tuple[float, Any]],
    t: float,
    d: Any,
    f: float,
    g: Any,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Any, float, int]:
    """A step length t along the descent direction ``d`` (flat, (n,)) from x, where the loss
    is ``f``, the gradient ``g`` (n,) and the slope ``gtd`` = g·d < 0, that satisfies the
    strong Wolfe conditions

        f(x + t d) ≤ f + c1 t gtd                 (sufficient decrease)
        |∇f(x + t d)·d| ≤ c2 |gtd|                (curvature: the slope has flattened)

    ``evaluate(t)`` returns (f(x + t d), ∇f(x + t d)) and leaves x unchanged. Phase 1
    (Nocedal & Wright, Alg. 3.5) grows t, by cubic extrapolation within [t + 0.01 (t − t₋),
    10 t], until [t₋, t] brackets an acceptable point; phase 2 (Alg. 3.6, "zoom") shrinks
    the bracket by cubic interpolation, moving a trial point that lands within 10 % of the
    bracket's width from an end away from it when the last trial made too little progress,
    and stops when the bracket is narrower than ``tolerance_change`` (in max-norm of t d).
    At most ``max_ls`` evaluations after the first. Returns (loss, gradient, t, number of
    evaluations) at the best point found (the bracket's lower end).
    """
    d_norm = float(array_module(d).max(abs(d)))
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[Any] = []
    bracket_gtd: list[float] = []
    # phase 1: bracketing
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:  # both conditions hold at t: accept it
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:  # the slope turned positive: a minimiser lies in [t_prev, t]
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        t_next = cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10)
        )
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter >= max_ls:  # out of evaluations: the better of x and the last trial
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # phase 2: zoom
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        left, right = min(bracket), max(bracket)
        margin = 0.1 * (right - left)
        if min(right - t, t - left) < margin:  # t is close to an end of the bracket
            if insufficient_progress or t >= right or t <= left:
                t = right - margin if abs(t - right) < abs(t - left) else left + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            # not lower than the low end: t becomes the high end
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                # the slope at t points away from the high end: the old low end replaces it
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """L-BFGS, as PyTorch's. ``step(closure)`` (the closure is required) runs, from the flat
    parameters x with loss f and gradient g (f, g from one call of ``closure``):

        stop at once if max|g| ≤ tolerance_grad
        repeat up to max_iter times:
            first iteration ever:  d = −g, and the history is empty
            otherwise:  s = t d (the last move),  y = g − g_prev;  if y·s > 1e-10, store
                (y, s, ρ = 1/y·s) (dropping the oldest beyond history_size) and set
                γ = y·s / y·y;  then d = −H g by the two-loop recursion:
                    q = −g;  for i newest → oldest: αᵢ = ρᵢ sᵢ·q,  q ← q − αᵢ yᵢ
                    r = γ q; for i oldest → newest: βᵢ = ρᵢ yᵢ·r,  r ← r + (αᵢ − βᵢ) sᵢ
                    d = r
            t = min(1, 1/‖g‖₁) · lr on the first iteration ever, else lr
            stop if g·d > −tolerance_change (d is no descent direction)
            x ← x + t d, with t from :func:`strong_wolfe` when line_search_fn is
                "strong_wolfe" (its f and g are those of the accepted point), else as is
                (then f, g are evaluated again, except after the last iteration)
            stop when max_iter iterations or max_eval closure calls are done, or
                max|g| ≤ tolerance_grad, or max|t d| ≤ tolerance_change, or
                |f − f_prev| < tolerance_change

    The history, d, t and counters carry over from step to step in ``state``. As in
    PyTorch, the line search's bracket tolerance is always 1e-9 (not the group's
    tolerance_change), and ``max_eval`` defaults to ``max_iter · 5 // 4``. One parameter
    group only: PyTorch refuses more.
    """

    _number_state = ()  # n_iter, func_evals, t, prev_loss: plain numbers, as in PyTorch

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-07,
        tolerance_change: float = 1e-09,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change, history_size=history_size,
            line_search_fn=line_search_fn,
        )  # fmt: skip
        super().__init__(params, defaults)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """The one parameter group; a second is refused, as PyTorch's LBFGS refuses it."""
        if self.param_groups:
            raise TinyLMError(
                "LBFGS: parameter groups (per-parameter options) are not supported; give all "
                "parameters in one group"
            )
        super().add_param_group(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise TinyLMError(
                f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                f"{group['line_search_fn']!r}"
            )
        if group["history_size"] < 1:
            raise TinyLMError(f"LBFGS: history_size must be ≥ 1, got {group['history_size']}")

    # ---- the parameters as one flat vector ------------------------------------------------

    @property
    def _params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    def _numel(self) -> int:
        return sum(p.numel() for p in self._params)

    def _flat_grad(self) -> Any:
        """Every parameter's gradient, flattened and concatenated (zeros where None): (n,)."""
        xp = array_module(self._params[0].data)
        return xp.concatenate(
            [
                (xp.zeros(p.numel(), p.dtype) if p.grad is None else p.grad.data.reshape(-1))
                for p in self._params
            ]
        )

    def _add_to_params(self, step: float, direction: Any) -> None:
        """x ← x + step · direction, parameter by parameter (``direction``: (n,))."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.data += step * direction[offset : offset + n].reshape(p.shape)
            increment_version(p)
            offset += n

    def _set_params(self, values: list[Any]) -> None:
        for p, v in zip(self._params, values):
            p.data[...] = v
            increment_version(p)

    @staticmethod
    def _call(closure: Callable[[], Any]) -> Any:
        with enable_grad():
            return closure()

    def _evaluate_along(self, closure: Callable[[], Any], x: list[Any], d: Any):
        """f(t) for the line search: (loss, flat gradient) at x + t d; x is put back."""

        def evaluate(t: float) -> tuple[float, Any]:
            self._add_to_params(t, d)
            loss = float(self._call(closure))
            grad = self._flat_grad()
            self._set_params(x)
            return loss, grad

        return evaluate

    # ---- the step ------------------------------------------------------------------------

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Up to ``max_iter`` L-BFGS iterations (see the class docstring); returns the loss
        of the first ``closure`` call, at the parameters the step started from."""
        if closure is None:
            raise TinyLMError(
                "LBFGS.step: a closure is required (a function that zeroes the gradients, "
                "computes the loss, calls backward and returns the loss)"
            )
        with no_grad():
            return self._step(closure)

    def _step(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        xp = array_module(self._params[0].data)

        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = self._call(closure)
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if float(xp.max(xp.abs(flat_grad))) <= tolerance_grad:
            return first_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                h_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # curvature y·s > 0 keeps H positive definite
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    beta = float(old_dirs[i] @ d) * ro[i]
                    d += (al[i] - beta) * old_stps[i]
            prev_flat_grad = xp.array(flat_grad, copy=True)
            prev_loss = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.sum(xp.abs(flat_grad)))) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:
                break

            ls_evals = 0
            if group["line_search_fn"] is not None:
                x_start = [xp.array(p.data, copy=True) for p in self._params]
                evaluate = self._evaluate_along(closure, x_start, d)
                loss, flat_grad, t, ls_evals = strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, max_ls=max_eval - evals
                )
                self._add_to_params(t, d)
                opt_cond = float(xp.max(xp.abs(flat_grad))) <= tolerance_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the last iteration's point is evaluated next step
                    loss = float(self._call(closure))
                    flat_grad = self._flat_grad()
                    opt_cond = float(xp.max(xp.abs(flat_grad))) <= tolerance_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if float(xp.max(xp.abs(d * t))) <= tolerance_change:  # the move is negligible
                break
            if abs(loss - prev_loss) < tolerance_change:  # so is the change of the loss
                break

        state.update(
            d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
            prev_flat_grad=prev_flat_grad, prev_loss=prev_loss,
        )  # fmt: skip
        return first_loss

    # ---- state dicts ---------------------------------------------------------------------

    def _state_shape(self, p: Tensor, key: str) -> tuple[int, ...]:
        """``d`` and ``prev_flat_grad`` are flat vectors over all parameters."""
        return (self._numel(),) if key in FLAT_STATE else p.shape

    def state_dict(self) -> dict[str, Any]:
        """As :meth:`Optimizer.state_dict`, with the stored y and s lists (and ``ro``,
        ``al``) copied too, so that the dict stays a snapshot while the run goes on."""
        packed = super().state_dict()
        for entries in packed["state"].values():
            for key in (*LIST_STATE, "ro", "al"):
                if entries.get(key) is not None:
                    entries[key] = [
                        np.array(to_device_array(v, "cpu")) if hasattr(v, "shape") else v
                        for v in entries[key]
                    ]
        return packed

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As :meth:`Optimizer.load_state_dict`; the stored y and s vectors are checked
        ((n,) each, n the parameters' total size) and copied to the parameters' device
        and dtype."""
        super().load_state_dict(state_dict)
        n = self._numel()
        for p, entries in self.state.items():
            for key in LIST_STATE:
                if entries.get(key) is None:
                    continue
                vectors = []
                for v in entries[key]:
                    raw = v.data if isinstance(v, Tensor) else v
                    if tuple(raw.shape) != (n,):
                        raise TinyLMError(
                            f"LBFGS.load_state_dict: an entry of {key!r} has shape "
                            f"{tuple(raw.shape)}, expected ({n},) (all parameters, flattened)"
                        )
                    vectors.append(to_device_array(raw, device_of(p.data)).astype(p.dtype))
                entries[key] = vectors
            for key in ("ro", "al"):
                if entries.get(key) is not None:
                    entries[key] = [None if v is None else float(v) for v in entries[key]]
