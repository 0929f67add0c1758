"""Random numbers: the seeded :class:`Generator` behind ``randn``, ``rand``, dropout and the
initialisers, and the global one that ``tinylm.manual_seed`` seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed"]


class Generator:
    """A seeded source of random numbers (wraps ``numpy.random.Generator``).

    Random tensors are drawn on the CPU and then moved to their device, so the same seed
    gives the same numbers on every device.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.numpy = np.random.default_rng(seed)
        self._seed = seed

    def manual_seed(self, seed: int) -> Generator:
        self.numpy = np.random.default_rng(seed)
        self._seed = seed
        return self

    def initial_seed(self) -> int | None:
        return self._seed

    def get_state(self) -> dict[str, Any]:
        return self.numpy.bit_generator.state

    def set_state(self, state: dict[str, Any]) -> None:
        self.numpy.bit_generator.state = state


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the global generator used by ``randn``, ``rand``, dropout and initialisers."""
    return default_generator.manual_seed(seed)
