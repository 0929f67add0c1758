"""Anomaly detection, as ``torch.autograd.detect_anomaly`` and ``set_detect_anomaly``: while
it is on (and ``check_nan``), the backward engine checks every gradient an op's backward
returns and stops at the first NaN with PyTorch's message, naming the op
(``Function 'SqrtBackward0' returned nan values in its 0th output.``). PyTorch also prints
the traceback of that op's forward call; tinylm names the op only. The switch is global (all
threads), as PyTorch's; ``tinylm.autograd`` re-exports these names.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

__all__ = [
    "detect_anomaly",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "set_detect_anomaly",
]


class _Anomaly:
    enabled = False
    check_nan = True


_mode = _Anomaly()


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return _mode.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True while anomaly detection checks gradients for NaN (its ``check_nan``)."""
    return _mode.check_nan


def nan_check_on() -> bool:
    """What the backward engine reads: check each op's gradients for NaN now?"""
    return _mode.enabled and _mode.check_nan


class set_detect_anomaly(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """Switch anomaly detection on or off: called alone it switches for good, as ``with`` or
    a decorator for the block or the call (then the switch from before is restored)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._before = (_mode.enabled, _mode.check_nan)
        self._saved: list[tuple[bool, bool]] = []
        self.mode, self.check_nan = bool(mode), bool(check_nan)
        _mode.enabled, _mode.check_nan = self.mode, self.check_nan

    def __enter__(self) -> None:
        self._saved.append(self._before)
        _mode.enabled, _mode.check_nan = self.mode, self.check_nan

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled, _mode.check_nan = self._saved.pop()
        self._before = (_mode.enabled, _mode.check_nan)


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's name
    """Anomaly detection for a ``with`` block or a decorated call (PyTorch warns that it
    slows things down, and so does tinylm)."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = bool(check_nan)
        self._saved: list[tuple[bool, bool]] = []

    def __enter__(self) -> None:
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and "
            "should only be enabled for debugging.",
            UserWarning,
            stacklevel=2,
        )
        self._saved.append((_mode.enabled, _mode.check_nan))
        _mode.enabled, _mode.check_nan = True, self.check_nan

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled, _mode.check_nan = self._saved.pop()
