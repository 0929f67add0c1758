"""Process-wide calls that PyTorch scripts make once, at the top: ``compile`` and the float32
matrix-product precision.

* :func:`compile` — ``torch.compile`` traces a model into fused kernels; the results are meant
  to be those of running it eagerly. tinylm always runs eagerly (its hot paths are compiled
  kernels already), so ``compile(model)`` returns ``model`` itself: the same outputs, the same
  ``state_dict`` keys (PyTorch's wrapper adds an ``_orig_mod.`` prefix that scripts strip).
* :func:`set_float32_matmul_precision` — a permission to use TF32/bfloat16 products on GPUs;
  tinylm keeps full float32 whatever is set, and reports the setting back.

How tensors print (``set_printoptions``) is :mod:`tinylm.printing`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinylm.autograd import TinyLMError

__all__ = ["compile", "get_float32_matmul_precision", "set_float32_matmul_precision"]


def compile(  # noqa: A001 - PyTorch's name
    model: Callable | None = None,
    *,
    fullgraph: bool = False,
    dynamic: bool | None = None,
    backend: Any = "inductor",
    mode: str | None = None,
    options: dict | None = None,
    disable: bool = False,
) -> Any:
    """``model`` itself (a Module or a function), or, called without one, a decorator that
    returns what it decorates: tinylm runs eagerly (see the module's docstring)."""
    if model is None:
        return lambda fn: compile(fn)
    if not callable(model):
        raise TinyLMError(f"compile: expected a Module or a function, got {type(model).__name__}")
    return model


_MATMUL_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = "highest"


def set_float32_matmul_precision(precision: str) -> None:
    """Record PyTorch's float32 product precision ("highest", "high" or "medium"); tinylm's
    products stay full float32 ("highest") whatever is set."""
    global _matmul_precision
    if precision not in _MATMUL_PRECISIONS:
        raise TinyLMError(
            f"set_float32_matmul_precision: precision must be one of {_MATMUL_PRECISIONS}, "
            f"got {precision!r}"
        )
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """The precision last set with :func:`set_float32_matmul_precision` ("highest" at first)."""
    return _matmul_precision
