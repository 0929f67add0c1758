"""PyTorch's 2-D convolution layers: ``Conv2d`` and ``ConvTranspose2d``.

Each keeps PyTorch's constructor arguments, attributes (``kernel_size``, ``stride`` … as
(h, w) tuples), repr and state_dict keys (``weight``, ``bias``), and calls
:func:`tinylm.nn.functional.conv2d` / ``conv_transpose2d``, where the im2col forward and its
backward are. Init (PyTorch's): weight ~ kaiming_uniform(a=√5), i.e. U(−1/√fan_in,
1/√fan_in) with fan_in = weight.shape[1]·KH·KW, and bias ~ U(−1/√fan_in, 1/√fan_in).
"""

from __future__ import annotations

import math
from typing import Any

from tinylm import creation
from tinylm.autograd import TinyLMError
from tinylm.nn import init
from tinylm.nn.conv import PADDING_MODES
from tinylm.nn.functional.convolution import one_int
from tinylm.nn.functional.convolution2d import conv2d, conv_padding, conv_transpose2d, pair
from tinylm.nn.functional.shaping import pad
from tinylm.nn.module import Module, Parameter
from tinylm.tensor import Tensor

__all__ = ["Conv2d", "ConvTranspose2d"]


class _Conv2dBase(Module):
    """What Conv2d and ConvTranspose2d share: the checks, the parameters and their init."""

    def __init__(
        self,
        name: str,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        transposed: bool,
        output_padding: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        device: Any,
        dtype: Any,
    ) -> None:
        super().__init__()
        self.in_channels = one_int(name, "in_channels", in_channels, 1)
        self.out_channels = one_int(name, "out_channels", out_channels, 1)
        self.groups = one_int(name, "groups", groups, 1)
        if self.in_channels % self.groups:
            raise TinyLMError(f"{name}: in_channels ({in_channels}) must be divisible by groups")
        if self.out_channels % self.groups:
            raise TinyLMError(f"{name}: out_channels ({out_channels}) must be divisible by groups")
        if padding_mode not in PADDING_MODES:
            raise TinyLMError(
                f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}"
            )
        self.kernel_size = pair(name, "kernel_size", kernel_size, 1)
        self.stride = pair(name, "stride", stride, 1)
        self.dilation = pair(name, "dilation", dilation, 1)
        if isinstance(padding, str):
            conv_padding(name, padding, self.stride, self.dilation, self.kernel_size)  # checks
            self.padding: Any = padding
        else:
            self.padding = pair(name, "padding", padding, 0)
        self.output_padding = pair(name, "output_padding", output_padding, 0)
        self.transposed = transposed
        self.padding_mode = padding_mode
        kh, kw = self.kernel_size
        if transposed:
            shape = (self.in_channels, self.out_channels // self.groups, kh, kw)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, kh, kw)
        self.weight = Parameter(creation.empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(creation.empty(self.out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's init: kaiming_uniform(a=√5) for the weight, U(±1/√fan_in) for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv2d(_Conv2dBase):
    """A 2-D convolution over (N, C_in, H, W) or (C_in, H, W) inputs, as
    ``torch.nn.Conv2d``: weight (C_out, C_in/groups, KH, KW), bias (C_out,); see
    ``F.conv2d`` for the sum.

    ``padding_mode`` other than "zeros" ("reflect", "replicate", "circular") pads the
    input with ``F.pad`` in that mode first, as PyTorch.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "Conv2d",
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def forward(self, input: Tensor) -> Tensor:
        args = (self.stride, self.padding, self.dilation, self.groups)
        if self.padding_mode == "zeros":
            return conv2d(input, self.weight, self.bias, *args)
        (top, bottom), (left, right) = conv_padding(
            "Conv2d", self.padding, self.stride, self.dilation, self.kernel_size
        )
        padded = pad(input, (left, right, top, bottom), mode=self.padding_mode)
        return conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvTranspose2d(_Conv2dBase):
    """A 2-D transposed convolution, as ``torch.nn.ConvTranspose2d``: weight
    (C_in, C_out/groups, KH, KW), bias (C_out,); see ``F.conv_transpose2d``. Only
    ``padding_mode="zeros"``, as PyTorch. ``forward(input, output_size)`` picks the
    output_padding that gives the size ``output_size[-2:]``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if padding_mode != "zeros":
            raise TinyLMError(
                f'ConvTranspose2d: only "zeros" padding mode is supported, got {padding_mode!r}'
            )
        if isinstance(padding, str):
            raise TinyLMError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(
            "ConvTranspose2d",
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            True,
            output_padding,
            groups,
            bias,
            padding_mode,
            device,
            dtype,
        )

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        extra = self.output_padding
        if output_size is not None:
            wanted = [int(v) for v in list(output_size)[-2:]]
            extra = []
            for a, want in enumerate(wanted):
                s, p, d, k = self.stride[a], self.padding[a], self.dilation[a], self.kernel_size[a]
                least = (input.shape[a - 2] - 1) * s - 2 * p + d * (k - 1) + 1
                if not least <= want <= least + s - 1:
                    raise TinyLMError(
                        f"ConvTranspose2d: output_size {tuple(wanted)} is not reachable: dim "
                        f"{a} must be in [{least}, {least + s - 1}] for input "
                        f"{tuple(input.shape)}"
                    )
                extra.append(want - least)
        return conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            tuple(extra),
            self.groups,
            self.dilation,
        )
