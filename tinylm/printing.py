"""How a tensor prints: ``repr(x)`` as PyTorch writes it, so that a lesson's output can be read
beside a PyTorch tutorial's, and :func:`set_printoptions` to change it.

The rules, PyTorch's (``torch.set_printoptions``):

* floats: all whole numbers → ``1.`` (no digits); otherwise ``precision`` digits after the
  point (``0.3333``); scientific (``1.0000e-05``) when the finite non-zero magnitudes span
  more than a factor 1000, or exceed 1e8, or (not all whole) fall below 1e-4 — unless
  ``sci_mode`` forces it on or off. Every entry is right-aligned to the widest one.
* more than ``threshold`` elements: only ``edgeitems`` at each end of every axis are printed,
  with ``...`` between; lines wrap at ``linewidth`` characters.
* the suffixes: ``dtype=`` unless the dtype is the default float, int64 or bool; ``size=`` for
  an empty tensor that is not 1-D, and always when ``edgeitems`` is 0; ``device=``;
  ``grad_fn=`` or ``requires_grad=True``.

Only the dtype is written in tinylm's own spelling (``dtype=float64``, not
``dtype=torch.float64``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.dtypes import get_default_dtype

if TYPE_CHECKING:  # for type hints only: tinylm.tensor imports this module
    from tinylm.tensor import Tensor

__all__ = ["PrintOptions", "get_printoptions", "set_printoptions", "tensor_repr"]


class PrintOptions:
    """The options :func:`set_printoptions` changes (PyTorch's defaults)."""

    def __init__(self) -> None:
        self.precision = 4
        self.threshold: float = 1000
        self.edgeitems = 3
        self.linewidth = 80
        self.sci_mode: bool | None = None


_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
OPTIONS = PrintOptions()


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """As ``torch.set_printoptions``: ``precision`` digits after the point, ``threshold``
    elements before the middle of each axis is elided to ``edgeitems`` at each end,
    ``linewidth`` characters a line, ``profile`` "default", "short" or "full" (applied first,
    then the other arguments), ``sci_mode`` True/False to force or forbid scientific notation
    (None: chosen per tensor)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise TinyLMError(
                f"set_printoptions: profile must be one of {tuple(_PROFILES)}, got {profile!r}"
            )
        for name, value in _PROFILES[profile].items():
            setattr(OPTIONS, name, value)
    for name, value in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise TinyLMError(f"set_printoptions: {name} must be a number ≥ 0, got {value!r}")
        setattr(OPTIONS, name, value if name == "threshold" else int(value))
    OPTIONS.sci_mode = sci_mode  # as PyTorch: an omitted sci_mode means "choose per tensor"


def get_printoptions() -> dict[str, Any]:
    """The current options, as ``torch._tensor_str.get_printoptions()`` gives them."""
    return dict(vars(OPTIONS))


class _Formatter:
    """Formats the entries of one tensor alike: the notation and width from all its values
    (or, when summarised, from the values that will be printed)."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.whole, self.sci, self.width = True, False, 1
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.width = max(self.width, len(str(v)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size:  # else (only zeros, inf, nan) whole numbers, as PyTorch
            self._choose(finite)

    def _choose(self, finite: np.ndarray) -> None:
        p = OPTIONS.precision
        magnitudes = np.abs(finite)
        low, high = magnitudes.min(), magnitudes.max()
        self.whole = bool(np.all(finite == np.ceil(finite)))
        wide = (
            float(high) > 1000.0 * float(low) or high > 1.0e8
        )  # Python floats: no overflow warning
        self.sci = wide if self.whole else wide or low < 1.0e-4
        if OPTIONS.sci_mode is not None:
            self.sci = OPTIONS.sci_mode
        for v in finite.tolist():
            if self.sci:
                text = f"{v:.{p}e}"
            elif self.whole:
                text = f"{v:.0f}."
            else:
                text = f"{v:.{p}f}"
            self.width = max(self.width, len(text))

    def format(self, v: Any) -> str:
        if not self.floating:
            text = str(v)
        elif self.sci:
            text = f"{v:.{OPTIONS.precision}e}"
        elif self.whole:
            text = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            text = f"{v:.{OPTIONS.precision}f}"
        return text.rjust(self.width)


def _summarized(values: np.ndarray) -> np.ndarray:
    """The entries that a summarised print shows: ``edgeitems`` at each end of every axis."""
    e = OPTIONS.edgeitems
    if values.ndim == 0:
        return values
    if values.shape[0] > 2 * e:
        values = np.concatenate([values[:e], values[-e:]]) if e else values[:0]
    if values.ndim == 1:
        return values
    return np.stack([_summarized(row) for row in values]) if len(values) else values


def _vector(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, math.floor((OPTIONS.linewidth - indent) / (fmt.width + 2)))
    e = OPTIONS.edgeitems
    if summarize and not e:
        items = ["..."]
    elif summarize and len(values) > 2 * e:
        items = [fmt.format(v) for v in values[:e].tolist()] + [" ..."]
        items += [fmt.format(v) for v in values[-e:].tolist()]
    else:
        items = [fmt.format(v) for v in values.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(values: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector(values, indent, summarize, fmt)
    e = OPTIONS.edgeitems
    if summarize and len(values) > 2 * e:
        kept = [*range(e), None, *range(len(values) - e, len(values))]  # None: the "..." row
        rows = [
            "..." if i is None else _nested(values[i], indent + 1, summarize, fmt) for i in kept
        ]
    else:
        rows = [_nested(row, indent + 1, summarize, fmt) for row in values]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _dtype_shown(dtype: np.dtype) -> bool:
    return dtype not in (get_default_dtype(), np.dtype(np.int64), np.dtype(np.bool_))


def tensor_repr(t: Tensor, values: np.ndarray) -> str:
    """``repr(t)`` of tensor ``t`` whose values (on the CPU) are ``values``."""
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if values.size == 0:
        body = "[]"
        if values.ndim != 1:
            suffixes.append(f"size={tuple(values.shape)}")
        if values.dtype != get_default_dtype():
            suffixes.append(f"dtype={values.dtype}")
    else:
        if not OPTIONS.edgeitems:  # nothing of an elided axis is shown: say its size
            suffixes.append(f"size={tuple(values.shape)}")
        if _dtype_shown(values.dtype):
            suffixes.append(f"dtype={values.dtype}")
        summarize = values.size > OPTIONS.threshold
        if summarize and not OPTIONS.edgeitems:
            body = "[...]"
        else:
            fmt = _Formatter(_summarized(values) if summarize else values)
            body = _nested(values, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn={t.grad_fn!r}")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    text = prefix + body
    last_line = len(text) - text.rfind("\n") + 1  # PyTorch's measure of the last line
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > OPTIONS.linewidth:
            text += ",\n" + " " * indent + suffix
            last_line = indent + len(suffix)
        else:
            text += ", " + suffix
            last_line += len(suffix) + 2
    return text + ")"
