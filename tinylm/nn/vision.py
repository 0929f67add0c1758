"""PyTorch's image layers beside convolution and pooling: ``BatchNorm2d``, ``Dropout2d``,
``Unfold``, ``Fold``, ``PixelShuffle``, ``PixelUnshuffle``, ``ChannelShuffle``, ``Upsample``,
``UpsamplingNearest2d``, ``UpsamplingBilinear2d``. Each keeps PyTorch's constructor
arguments, attributes and repr, and calls one function of ``F`` (``batch_norm``,
``dropout2d``, ``unfold``, ``fold``, ``pixel_shuffle``, ``pixel_unshuffle``,
``channel_shuffle``, ``interpolate``),
where the arithmetic is.
"""

from __future__ import annotations

from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.nn.functional import convolution2d as C
from tinylm.nn.functional import vision as V
from tinylm.nn.functional.common import check_not_inplace, check_probability
from tinylm.nn.layers import BatchNorm1d
from tinylm.nn.module import Module
from tinylm.tensor import Tensor

__all__ = [
    "BatchNorm2d",
    "ChannelShuffle",
    "Dropout2d",
    "Fold",
    "PixelShuffle",
    "PixelUnshuffle",
    "Unfold",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
]


class BatchNorm2d(BatchNorm1d):
    """y = (x − μ_c) / √(σ²_c + eps) · weight_c + bias_c per channel c of (N, C, H, W), as
    ``torch.nn.BatchNorm2d``: the statistics over (N, H, W). The same layer as
    ``BatchNorm1d`` (same parameters, buffers, momentum and eval rules) on the input viewed
    as (N, C, H·W), and the result viewed back (``bias=False``, PyTorch 2.13's keyword,
    as there)."""

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != self.num_features:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise TinyLMError(
                f"BatchNorm2d: expected 4-D input (N, {self.num_features}, H, W), got {shape}"
            )
        n, c, h, w = x.shape
        return super().forward(x.reshape(n, c, h * w)).reshape(n, c, h, w)


class Dropout2d(Module):
    """``dropout2d(x, p, training=self.training)``: whole channels of (N, C, H, W) zeroed
    (a 3-D input is (N, C, L), as PyTorch's, with its warning)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = check_probability("Dropout2d", p)
        check_not_inplace("Dropout2d", inplace)
        self.inplace = False

    def forward(self, input: Tensor) -> Tensor:
        return V.dropout2d(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Unfold(Module):
    """Sliding blocks as columns (im2col): (N, C, H, W) → (N, C·KH·KW, L); see ``F.unfold``."""

    def __init__(
        self, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
    ) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return C.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding},"
            f" stride={self.stride}"
        )


class Fold(Module):
    """Columns summed back into an image (col2im): (N, C·KH·KW, L) → (N, C, H, W); see
    ``F.fold``."""

    def __init__(
        self,
        output_size: Any,
        kernel_size: Any,
        dilation: Any = 1,
        padding: Any = 0,
        stride: Any = 1,
    ) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return C.fold(
            input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
            f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}"
        )


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r); see ``F.pixel_shuffle``."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return V.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W); see ``F.pixel_unshuffle``."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return V.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """The channels of ``groups`` groups interleaved; see ``F.channel_shuffle``."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return V.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Upsample(Module):
    """Resize (N, C, H, W) to ``size`` or by ``scale_factor`` with ``mode`` "nearest" or
    "bilinear"; see ``F.interpolate``. The scale factor is kept as a float (or a tuple of
    floats), as PyTorch keeps it."""

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor: Any = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return V.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode="nearest")``."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode="bilinear", align_corners=True)``."""

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
