"""PyTorch's 1-D pooling layers: ``MaxPool1d``, ``AvgPool1d``, ``LPPool1d``,
``AdaptiveAvgPool1d``, ``AdaptiveMaxPool1d``. Each keeps PyTorch's constructor arguments,
attributes and repr, and calls one function of :mod:`tinylm.nn.functional.pooling`, where
the windows, the tie rule and the gradients are.
"""

from __future__ import annotations

from typing import Any

from tinylm.nn.functional import pooling as P
from tinylm.nn.functional.convolution import one_int
from tinylm.nn.module import Module
from tinylm.tensor import Tensor

__all__ = ["AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "LPPool1d", "MaxPool1d"]


class MaxPool1d(Module):
    """The maximum of each window of (N, C, L) or (C, L) inputs; see ``F.max_pool1d``.
    ``stride`` defaults to ``kernel_size``."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Any:
        return P.max_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool1d(Module):
    """The mean of each window of (N, C, L) or (C, L) inputs; see ``F.avg_pool1d``.
    ``stride`` defaults to ``kernel_size``; the sizes are kept as tuples of one, as PyTorch."""

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        name = "AvgPool1d"
        self.kernel_size = (one_int(name, "kernel_size", kernel_size, 1),)
        no_stride = stride is None or (isinstance(stride, tuple | list) and len(stride) == 0)
        self.stride = self.kernel_size if no_stride else (one_int(name, "stride", stride, 1),)
        self.padding = (one_int(name, "padding", padding, 0),)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return P.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class LPPool1d(Module):
    """The p-norm of each window, (Σ x^p)^(1/p); see ``F.lp_pool1d``."""

    def __init__(
        self, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
    ) -> None:
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return P.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (
            f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"ceil_mode={self.ceil_mode}"
        )


class AdaptiveAvgPool1d(Module):
    """The mean of each of ``output_size`` windows covering the input; see
    ``F.adaptive_avg_pool1d``."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return P.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """The maximum of each of ``output_size`` windows covering the input; see
    ``F.adaptive_max_pool1d``."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor) -> Any:
        return P.adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
