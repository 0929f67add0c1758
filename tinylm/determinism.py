"""``use_deterministic_algorithms``: PyTorch's switch that makes every op give the same bits
from run to run, or refuse.

On the CPU every tinylm op is deterministic already: the Numba kernels split work into
fixed chunks (``kernels/parallel.py``) and sum them in a fixed order. On a GPU the ops that
add into one place from many threads at once — CuPy's ``add.at``, an atomic scatter-add,
in the backward of ``embedding`` and of indexing with integer arrays, in ``scatter_add``,
``index_put(accumulate=True)`` and ``EmbeddingBag`` — add in whatever order the threads
arrive, so float sums may differ in the last bits. With the switch on they raise
``RuntimeError`` (or warn, with ``warn_only=True``), as PyTorch's non-deterministic ops do;
each calls :func:`alert_if_nondeterministic` with the array it would scatter into.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError

__all__ = [
    "alert_if_nondeterministic",
    "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled",
    "use_deterministic_algorithms",
]

_enabled = False
_warn_only = False


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Turn deterministic mode on (``True``) or off, as PyTorch's: when on, an op without a
    deterministic implementation raises a RuntimeError (a warning with ``warn_only``)."""
    global _enabled, _warn_only
    for name, value in (("mode", mode), ("warn_only", warn_only)):
        if not isinstance(value, bool):
            raise TinyLMError(
                f"use_deterministic_algorithms: {name} must be a bool, got {type(value).__name__}"
            )
    _enabled, _warn_only = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Whether ``use_deterministic_algorithms(True)`` is in force."""
    return _enabled


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether deterministic mode was turned on with ``warn_only=True``."""
    return _warn_only


def alert_if_nondeterministic(op: str, array: Any) -> None:
    """Refuse (or warn about) ``op``'s atomic scatter-add into ``array`` in deterministic
    mode when ``array`` is on a GPU; a NumPy array (the CPU) is always fine."""
    if not _enabled or type(array) is np.ndarray:
        return
    message = (
        f"{op} on CUDA adds with atomic operations (CuPy's add.at), which is not "
        "deterministic, but use_deterministic_algorithms(True) is on; compute it on the CPU, "
        "or pass warn_only=True to be warned only"
    )
    if _warn_only:
        warnings.warn(message, UserWarning, stacklevel=3)
    else:
        raise RuntimeError(message)
