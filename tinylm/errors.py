"""``TinyLMError``, the one exception tinylm raises for an op called the wrong way.

It lives alone here so that the lowest modules (``devices``) can raise it too; every other
module imports it from ``tinylm.autograd``, which re-exports it, or from ``tinylm``.
"""

from __future__ import annotations

__all__ = ["TinyLMError"]


class TinyLMError(ValueError):
    """An error in how an op was called: wrong shapes, dtypes or devices.

    It subclasses ``ValueError`` so code that catches numpy's errors keeps working.
    """
