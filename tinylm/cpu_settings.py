"""The CPU switches a PyTorch script sets at start-up besides ``set_num_threads``:
``get_num_interop_threads``/``set_num_interop_threads`` and ``set_flush_denormal``.

tinylm runs one op after another (its parallelism is inside an op: ``kernels/parallel.py``,
``set_num_threads``), so the number of inter-op threads changes nothing; it is checked as
PyTorch checks it and kept, so a script reads back what it set (1 until then). Flushing
denormal numbers to zero needs the processor's control register, which NumPy cannot set:
``set_flush_denormal`` returns False, PyTorch's answer where it is not supported, and leaves
arithmetic as it is.
"""

from __future__ import annotations

from typing import Any

from tinylm.autograd import TinyLMError

__all__ = ["get_num_interop_threads", "set_flush_denormal", "set_num_interop_threads"]

_interop_threads = 1


def get_num_interop_threads() -> int:
    """The number of inter-op threads: 1 (tinylm runs ops one at a time) or what
    :func:`set_num_interop_threads` set."""
    return _interop_threads


def set_num_interop_threads(num: int) -> None:
    """Keep ``num`` (a positive int) as the number of inter-op threads; see the module doc."""
    global _interop_threads
    if isinstance(num, bool) or not isinstance(num, int) or num <= 0:
        raise TinyLMError(f"set_num_interop_threads: expects a positive integer, got {num!r}")
    _interop_threads = num


def set_flush_denormal(mode: Any) -> bool:
    """False: flushing denormals is not supported here (see the module doc), as PyTorch
    answers on a processor without it; nothing changes."""
    bool(mode)
    return False
