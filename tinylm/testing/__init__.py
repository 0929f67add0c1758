"""Tools for testing gradients and ops, used by tinylm's own tests and by learners.

* :func:`gradcheck` — analytic gradients vs central finite differences (float64 only);
  :func:`module_function` lets it differentiate a Module's parameters too;
* :mod:`tinylm.testing.strategies` — hypothesis strategies: arrays with per-op bounds,
  broadcastable shapes, matmul shape pairs, non-contiguous layouts, CI profiles;
* :mod:`tinylm.testing.op_tests` — :class:`OpSpec` / :class:`OpTests`, a test battery
  generated from one declaration per op.

``gradcheck`` needs only numpy; the other two need ``hypothesis`` and ``pytest`` (the
``dev`` extra) and are imported on first use.
"""

from typing import Any

from tinylm.testing.gradcheck import GradcheckError, gradcheck, module_function

__all__ = [
    "GradcheckError",
    "OpSpec",
    "OpTests",
    "gradcheck",
    "module_function",
    "op_tests",
    "strategies",
]


def __getattr__(name: str) -> Any:
    if name in ("strategies", "op_tests"):
        import importlib

        return importlib.import_module(f"tinylm.testing.{name}")
    if name in ("OpSpec", "OpTests"):
        from tinylm.testing import op_tests

        return getattr(op_tests, name)
    raise AttributeError(f"module 'tinylm.testing' has no attribute {name!r}")
