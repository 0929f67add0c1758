"""PyTorch's padding layers: ``ZeroPad1d/2d``, ``ConstantPad1d/2d``, ``ReflectionPad1d/2d``,
``ReplicationPad1d/2d`` and ``CircularPad1d/2d``. Each is ``F.pad`` of its mode (where the
arithmetic and its gradient are: ``tinylm.nn.functional.shaping``) with a fixed padding.

``padding`` is one int (the same on every side) or a tuple: (left, right) for the 1-d
layers, (left, right, top, bottom) for the 2-d ones. Shapes: the 1-d layers pad the last
dim, (C, L) or (N, C, L) → L + left + right; the 2-d ones the last two, (C, H, W) or
(N, C, H, W) → H + top + bottom, W + left + right. The constant (and zero) layers take any
input with enough dims, as PyTorch's.
"""

from __future__ import annotations

from tinylm.autograd import TinyLMError
from tinylm.nn.functional.shaping import pad
from tinylm.nn.module import Module
from tinylm.tensor import Tensor

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ZeroPad1d",
    "ZeroPad2d",
]


class PadNd(Module):
    """What every padding layer shares: ``padding`` (2·dims ints), the ``F.pad`` mode, and
    the input ranks the mode allows (None: any with enough dims)."""

    mode = "constant"
    dims = 1

    def __init__(self, padding: int | tuple[int, ...], value: float = 0.0) -> None:
        super().__init__()
        name = type(self).__name__
        n = 2 * self.dims
        if isinstance(padding, int) and not isinstance(padding, bool):
            padding = (padding,) * n
        if not isinstance(padding, tuple | list) or len(padding) != n:
            raise TinyLMError(
                f"{name}: padding must be an int or a tuple of {n} ints, got {padding!r}"
            )
        if not all(isinstance(q, int) and not isinstance(q, bool) for q in padding):
            raise TinyLMError(f"{name}: padding must be ints, got {padding!r}")
        self.padding = tuple(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        if self.mode != "constant" and input.ndim not in (self.dims + 1, self.dims + 2):
            raise TinyLMError(
                f"{type(self).__name__}: expected a {self.dims + 1}-D or {self.dims + 2}-D "
                f"input, got shape {tuple(input.shape)}"
            )
        if self.mode == "constant":
            return pad(input, self.padding, "constant", self.value)
        return pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return str(self.padding)


class ConstantPad1d(PadNd):
    """Pad the last dim with ``value``: (…, L) → (…, L + left + right)."""

    def __init__(self, padding: int | tuple[int, int], value: float) -> None:
        super().__init__(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    """Pad the last two dims with ``value``: (…, H, W) → (…, H + top + bottom, W + left + right)."""

    dims = 2

    def __init__(self, padding: int | tuple[int, int, int, int], value: float) -> None:
        super().__init__(padding, value)


class ZeroPad1d(PadNd):
    """Pad the last dim with zeros: (…, L) → (…, L + left + right)."""

    def __init__(self, padding: int | tuple[int, int]) -> None:
        super().__init__(padding, 0.0)


class ZeroPad2d(ZeroPad1d):
    """Pad the last two dims with zeros (negative pads crop, as in PyTorch)."""

    dims = 2

    def __init__(self, padding: int | tuple[int, int, int, int]) -> None:
        super().__init__(padding)


class ReflectionPad1d(PadNd):
    """Mirror the last dim at its ends, edge not repeated (3 2 | 1 2 3 | 2 1); each pad
    < L. Input (C, L) or (N, C, L)."""

    mode = "reflect"

    def __init__(self, padding: int | tuple[int, int]) -> None:
        super().__init__(padding)


class ReflectionPad2d(ReflectionPad1d):
    """Mirror the last two dims at their ends. Input (C, H, W) or (N, C, H, W)."""

    dims = 2

    def __init__(self, padding: int | tuple[int, int, int, int]) -> None:
        super().__init__(padding)


class ReplicationPad1d(PadNd):
    """Repeat the edge element of the last dim (1 1 | 1 2 3 | 3 3). Input (C, L) or (N, C, L)."""

    mode = "replicate"

    def __init__(self, padding: int | tuple[int, int]) -> None:
        super().__init__(padding)


class ReplicationPad2d(ReplicationPad1d):
    """Repeat the edge elements of the last two dims. Input (C, H, W) or (N, C, H, W)."""

    dims = 2

    def __init__(self, padding: int | tuple[int, int, int, int]) -> None:
        super().__init__(padding)


class CircularPad1d(PadNd):
    """Wrap the last dim around (2 3 | 1 2 3 | 1 2); each pad ≤ L. Input (C, L) or (N, C, L)."""

    mode = "circular"

    def __init__(self, padding: int | tuple[int, int]) -> None:
        super().__init__(padding)


class CircularPad2d(CircularPad1d):
    """Wrap the last two dims around (a torus). Input (C, H, W) or (N, C, H, W)."""

    dims = 2

    def __init__(self, padding: int | tuple[int, int, int, int]) -> None:
        super().__init__(padding)
