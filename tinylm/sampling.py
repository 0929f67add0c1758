"""The draws of PyTorch's in-place samplers (``x.exponential_()``, ``x.random_()`` …): each
function checks its parameters as PyTorch does and returns an array of the tensor's shape
and dtype, drawn on the CPU from a :class:`tinylm.random.Generator` (the global one unless
given) and moved to the tensor's device. ``Tensor``'s methods write them into the tensor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import to_device_array
from tinylm.random import Generator, default_generator

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module
    from tinylm.tensor import Tensor

__all__ = [
    "bernoulli",
    "cauchy",
    "exponential",
    "geometric",
    "log_normal",
    "multinomial_indices",
    "normal",
    "random_integers",
    "uniform",
]


def _finish(x: Tensor, values: np.ndarray) -> Any:
    return to_device_array(values.astype(x.dtype), x.device)


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator).numpy


def _continuous(op: str, x: Tensor, name: str) -> None:
    if x.dtype.kind != "f":
        raise TinyLMError(
            f"{op}: the {name} distribution is continuous; it needs a floating-point tensor, "
            f"got {x.dtype}"
        )


def _positive(op: str, name: str, value: float) -> None:
    if not value > 0:
        raise TinyLMError(f"{op}: expects {name} > 0, got {name}={value}")


def _floating(op: str, x: Tensor) -> None:
    """``normal_`` and ``uniform_`` draw reals: PyTorch has no integer or bool kernel for them
    (NumPy would cut the draws to integers silently)."""
    if x.dtype.kind != "f":
        raise TinyLMError(
            f"{op}: needs a floating-point tensor, got {x.dtype}, as in PyTorch (integer draws: "
            "random_, bernoulli_ or randint)"
        )


def normal(x: Tensor, mean: float, std: float, generator: Generator | None) -> Any:
    """Draws of N(mean, std²) (density e^(−(v − mean)²/(2 std²)) / (std √(2π))); std ≥ 0."""
    _floating("normal_", x)
    if not std >= 0:  # NaN too
        raise TinyLMError(f"normal_: expects std >= 0.0, got std={std}")
    return _finish(x, _rng(generator).normal(mean, std, size=x.shape))


def uniform(x: Tensor, low: float, high: float, generator: Generator | None) -> Any:
    """Draws of U[low, high): density 1 / (high − low). As PyTorch checks: both bounds are
    finite numbers of x's dtype, low ≤ high, and high − low is finite in it too."""
    _floating("uniform_", x)
    largest = float(np.finfo(x.dtype).max)
    for name, v in (("from", low), ("to", high)):
        if not -largest <= v <= largest:  # inf and NaN too
            raise TinyLMError(f"uniform_: {name}={v} is out of bounds for {x.dtype}")
    if low > high:
        raise TinyLMError(f"uniform_: expects a [from, to) range, but found from={low} > to={high}")
    if high - low > largest:
        raise TinyLMError(
            f"uniform_: to - from = {high - low} exceeds the largest {x.dtype} ({largest})"
        )
    return _finish(x, _rng(generator).uniform(low, high, size=x.shape))


def bernoulli(x: Tensor, p: Any, generator: Generator | None) -> Any:
    """1 with probability p, else 0, in x's dtype (integers and bools too, as PyTorch): p a
    number, or a floating-point tensor of probabilities broadcast to x's shape."""
    if hasattr(p, "shape"):
        probs = to_device_array(p.data if hasattr(p, "data") else p, "cpu")
        if probs.dtype.kind != "f":
            raise TinyLMError(
                f"bernoulli_: p must be a floating-point tensor of probabilities, got {probs.dtype}"
            )
        try:
            probs = np.broadcast_to(probs, x.shape)
        except ValueError:
            raise TinyLMError(
                f"bernoulli_: p of shape {tuple(probs.shape)} does not broadcast to the tensor's "
                f"shape {x.shape}"
            ) from None
        if probs.size and not ((probs >= 0) & (probs <= 1)).all():
            raise TinyLMError("bernoulli_: every probability in p must lie in [0, 1]")
    else:
        if not isinstance(p, bool | int | float | np.number | np.bool_):
            raise TypeError(f"bernoulli_: p must be a number or a Tensor, got {p!r}")
        if not 0 <= p <= 1:  # NaN too
            raise TinyLMError(f"bernoulli_: expects p to be in [0, 1], got p={p}")
        probs = p
    return _finish(x, _rng(generator).random(x.shape) < probs)


def exponential(x: Tensor, lambd: float, generator: Generator | None) -> Any:
    """Draws of density λe^(−λv) for v ≥ 0: mean 1/λ, median ln 2 / λ."""
    _continuous("exponential_", x, "exponential")
    _positive("exponential_", "lambd", lambd)
    return _finish(x, _rng(generator).exponential(1 / lambd, size=x.shape))


def log_normal(x: Tensor, mean: float, std: float, generator: Generator | None) -> Any:
    """Draws of e^v for v ~ N(mean, std²): median e^mean, mean e^(mean + std²/2)."""
    _continuous("log_normal_", x, "log-normal")
    _positive("log_normal_", "std", std)
    return _finish(x, _rng(generator).lognormal(mean, std, size=x.shape))


def cauchy(x: Tensor, median: float, sigma: float, generator: Generator | None) -> Any:
    """Draws of density 1 / (πσ (1 + ((v − median)/σ)²)): quartiles median ± σ, no mean."""
    _continuous("cauchy_", x, "Cauchy")
    _positive("cauchy_", "sigma", sigma)
    return _finish(x, median + sigma * _rng(generator).standard_cauchy(size=x.shape))


def geometric(x: Tensor, p: float, generator: Generator | None) -> Any:
    """Draws of the number of trials up to the first success, each succeeding with
    probability p: k = 1, 2, … with probability (1 − p)^(k−1) p; mean 1/p. Any dtype but
    bool (PyTorch has no bool kernel: True would hide every count)."""
    if x.dtype.kind == "b":
        raise TinyLMError("geometric_: not defined for bool tensors, as in PyTorch")
    if not 0 < p < 1:
        raise TinyLMError(f"geometric_: expects p in (0, 1), got p={p}")
    return _finish(x, _rng(generator).geometric(p, size=x.shape))


def _largest(dtype: np.dtype) -> int:
    """The largest integer a dtype holds exactly: 2^(mantissa bits) for floats."""
    if dtype.kind == "b":
        return 1
    if dtype.kind == "f":
        return 2 ** (np.finfo(dtype).nmant + 1)
    return int(np.iinfo(dtype).max)


def _smallest(dtype: np.dtype) -> int:
    if dtype.kind == "f":
        return -_largest(dtype)
    return 0 if dtype.kind == "b" else int(np.iinfo(dtype).min)


def random_integers(x: Tensor, low: Any, high: Any, generator: Generator | None) -> Any:
    """Integers drawn uniformly from [low, high − 1] (``random_(from, to)``), or from
    [low, the dtype's largest] when ``high`` is None (for floats 2^24 or 2^53, the largest
    integers they hold exactly; for bool, 1), stored in x's dtype."""
    for name, v in (("from", low), ("to", high)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer)):
            raise TypeError(f"random_: {name} must be an int, got {v!r}")
    top = _largest(x.dtype) if high is None else int(high) - 1
    if int(low) > top:
        shown = "the dtype's largest" if high is None else f"to={high}"
        raise TinyLMError(f"random_: expects from < to, got from={low} and {shown}")
    if not _smallest(x.dtype) <= int(low) <= top <= _largest(x.dtype):
        raise TinyLMError(
            f"random_: [{low}, {top}] is out of the range of {x.dtype} "
            f"[{_smallest(x.dtype)}, {_largest(x.dtype)}] (integers it holds exactly)"
        )
    draws = _rng(generator).integers(int(low), top, size=x.shape, endpoint=True)
    return _finish(x, draws)


def multinomial_indices(
    weights: np.ndarray, num_samples: int, replacement: bool, generator: Generator | None
) -> np.ndarray:
    """``tinylm.multinomial``'s draws: for each row of ``weights`` (C,) or (N, C) (≥ 0,
    finite, not all 0; they need not sum to 1), ``num_samples`` indices in [0, C), each with
    probability weight / row sum; without ``replacement`` a category once drawn is out, so at
    most the number of non-zero weights. Returns int64 (num_samples,) or (N, num_samples)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise TinyLMError(f"multinomial: input must be weights (C,) or (N, C), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise TinyLMError("multinomial: weights must be finite and non-negative")
    rows = w.reshape(-1, w.shape[-1])
    totals = rows.sum(axis=1)
    nonzero = (rows > 0).sum(axis=1)
    fewest = int(nonzero.min(initial=rows.shape[1]))  # (0, C) weights: no row to refuse
    if np.any(totals <= 0):
        raise TinyLMError("multinomial: a row of weights sums to 0: there is nothing to draw")
    if num_samples <= 0 or (not replacement and num_samples > fewest):
        raise TinyLMError(
            f"multinomial: cannot draw {num_samples} sample(s) "
            + ("" if replacement else f"without replacement from {fewest} non-zero weights")
        )
    rng = _rng(generator)
    if replacement:
        draws = _draw_with_replacement(rows, totals, num_samples, rng)
    else:
        draws = _draw_without_replacement(rows, num_samples, rng)
    return draws.reshape(w.shape[:-1] + (num_samples,)).astype(np.int64)


def _draw_with_replacement(
    rows: np.ndarray, totals: np.ndarray, num_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Inverse-CDF sampling of all rows (N, C) at once: u ~ U[0, 1) picks the category k
    with cdf[k − 1] ≤ u < cdf[k], which has probability w_k / Σw. One ``searchsorted`` for
    every row: row i's cdf and draws are shifted by i, so each draw lands in its own row's
    stretch of the flattened cdfs (the shift costs log2 N of the cdf's 53 bits: a category
    whose probability is below ~N · 2^-52 may never be drawn). Returns (N, num_samples)."""
    n, c = rows.shape
    cdf = np.cumsum(rows, axis=1) / totals[:, None]
    cdf[:, -1] = 1.0  # rounding must not leave the top of a row below 1
    offsets = np.arange(n, dtype=np.float64)[:, None]
    u = rng.random((n, num_samples)) + offsets
    flat = np.searchsorted((cdf + offsets).ravel(), u.ravel(), side="right")
    picks = flat.reshape(n, num_samples) - np.arange(n)[:, None] * c
    # a draw rounded up to the top of its row is the row's last category with weight
    last = c - 1 - np.argmax(rows[:, ::-1] > 0, axis=1)
    return np.minimum(picks, last[:, None])


def _draw_without_replacement(
    rows: np.ndarray, num_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Draws without replacement for all rows (N, C) at once, by exponential races
    (Efraimidis & Spirakis): with E_k ~ Exp(1), category k's key w_k / E_k; the largest
    key is category k with probability w_k / Σw, and, the rest of the race being
    memoryless, the keys in decreasing order are the categories in the order one draw
    after another would pick them. Zero weights get key −1 (never drawn: callers ask for
    at most the number of non-zero weights). Returns (N, num_samples)."""
    race = rng.standard_exponential(rows.shape)
    with np.errstate(divide="ignore"):
        keys = np.where(rows > 0, rows / race, -1.0)
    if num_samples < rows.shape[1]:
        top = np.argpartition(-keys, num_samples - 1, axis=1)[:, :num_samples]
    else:
        top = np.broadcast_to(np.arange(rows.shape[1]), rows.shape)
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)
