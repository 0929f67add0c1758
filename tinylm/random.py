"""Random numbers: the seeded :class:`Generator` behind ``randn``, ``rand``, dropout and the
initialisers, and the global one that ``tinylm.manual_seed`` seeds.

A generator's state is NumPy's PCG64 state (128-bit state and increment) and its seed; as
bytes (:func:`state_to_bytes`) it is what ``tinylm.get_rng_state`` returns, as PyTorch's
ByteTensor (48 bytes here, 5056 in PyTorch: a different generator, so different numbers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import Device, normalize_device

__all__ = [
    "DEFAULT_SEED",
    "Generator",
    "STATE_BYTES",
    "default_generator",
    "fork_rng",
    "fresh_seed",
    "manual_seed",
    "state_from_bytes",
    "state_to_bytes",
]

#: The length of a generator's state as bytes: PCG64's state and increment (16 bytes each,
#: little-endian), its buffered 32-bit half (a flag and the value, 4 bytes each), the seed (8).
STATE_BYTES = 48


def fresh_seed() -> int:
    """A non-deterministic 64-bit seed (from the operating system's entropy), as PyTorch's
    ``seed()`` draws."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])


#: The seed of a new :class:`Generator`, as PyTorch's (``torch.Generator().initial_seed()``).
DEFAULT_SEED = 67280421310721


class Generator:
    """A seeded source of random numbers (wraps ``numpy.random.Generator``), as
    ``torch.Generator(device="cpu")``: a new one starts from :data:`DEFAULT_SEED` (so two
    new generators give the same numbers, as PyTorch's); seed it with :meth:`manual_seed`.

    Random tensors are drawn on the CPU and then moved to their device, so the same seed
    gives the same numbers on every device; ``device`` ("cpu", or "cuda" where a GPU is
    usable) is what ``.device`` says.
    """

    def __init__(self, device: Any = "cpu") -> None:
        self.device: Device = normalize_device(device)  # Generator(0): GPU 0, as PyTorch's
        self.numpy = np.random.default_rng(DEFAULT_SEED)
        self._seed = DEFAULT_SEED

    def manual_seed(self, seed: int) -> Generator:
        self.numpy = np.random.default_rng(seed)
        self._seed = seed
        return self

    def seed(self) -> int:
        """Re-seed from a non-deterministic 64-bit number and return it, as PyTorch's."""
        seed = fresh_seed()
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with."""
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """NumPy's state dict of the bit generator (PyTorch returns a ByteTensor; so does
        ``tinylm.get_rng_state()``, and :meth:`set_state` takes either)."""
        return self.numpy.bit_generator.state

    def set_state(self, state: Any) -> None:
        """Restore a state from :meth:`get_state` (a dict) or ``get_rng_state()`` (uint8
        bytes: a tensor or an array of :data:`STATE_BYTES`, which also restores the seed)."""
        if isinstance(state, dict):
            self.numpy.bit_generator.state = state
            return
        self.numpy.bit_generator.state, self._seed = state_from_bytes(state)


default_generator = Generator().manual_seed(0)


def manual_seed(seed: int) -> Generator:
    """Seed the global generator used by ``randn``, ``rand``, dropout and initialisers."""
    return default_generator.manual_seed(seed)


@contextlib.contextmanager
def fork_rng(
    devices: Any = None, enabled: bool = True, device_type: str = "cuda"
) -> Iterator[None]:
    """``torch.random.fork_rng``: the global generator's state (and seed) is saved on entry
    and restored on exit, so the draws inside leave the numbers after the block as they
    were. tinylm's one generator serves every device, so ``devices`` and ``device_type``
    change nothing; ``enabled=False`` makes it a no-op."""
    if not enabled:
        yield
        return
    state, seed = default_generator.get_state(), default_generator.initial_seed()
    try:
        yield
    finally:
        default_generator.numpy.bit_generator.state = state
        default_generator._seed = seed


def state_to_bytes(generator: Generator) -> np.ndarray:
    """The generator's state and seed as :data:`STATE_BYTES` uint8 values (1-D)."""
    state = generator.get_state()
    if state.get("bit_generator") != "PCG64":
        raise TypeError(f"get_rng_state: a {state.get('bit_generator')} state has no byte form")
    parts = (
        (state["state"]["state"], 16),
        (state["state"]["inc"], 16),
        (state["has_uint32"], 4),
        (state["uinteger"], 4),
        (generator.initial_seed() % 2**64, 8),
    )
    raw = b"".join(int(value).to_bytes(size, "little") for value, size in parts)
    return np.frombuffer(raw, dtype=np.uint8).copy()


def state_from_bytes(data: Any) -> tuple[dict[str, Any], int]:
    """(NumPy's PCG64 state dict, seed) from the bytes :func:`state_to_bytes` made."""
    array = np.asarray(data)
    if array.dtype != np.uint8 or array.shape != (STATE_BYTES,):
        raise TinyLMError(
            f"set_rng_state: expected a uint8 tensor of {STATE_BYTES} bytes, as get_rng_state "
            f"returns, got shape {array.shape} {array.dtype}"
        )
    raw = array.tobytes()
    fields, start = [], 0
    for size in (16, 16, 4, 4, 8):
        fields.append(int.from_bytes(raw[start : start + size], "little"))
        start += size
    state, inc, has_uint32, uinteger, seed = fields
    return {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": inc},
        "has_uint32": has_uint32,
        "uinteger": uinteger,
    }, seed
