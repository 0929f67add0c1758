"""PyTorch's 1-D convolution layers: ``Conv1d`` and ``ConvTranspose1d``.

Each keeps PyTorch's constructor arguments, attributes (``kernel_size``, ``stride`` … as
tuples of one), repr and state_dict keys (``weight``, ``bias``), and calls
:func:`tinylm.nn.functional.conv1d` / ``conv_transpose1d``, where the im2col forward and
its backward are. Init (PyTorch's): weight ~ kaiming_uniform(a=√5), i.e. U(−1/√fan_in,
1/√fan_in) with fan_in = weight.shape[1]·K, and bias ~ U(−1/√fan_in, 1/√fan_in).
"""

from __future__ import annotations

import math
from typing import Any

from tinylm import creation
from tinylm.autograd import TinyLMError
from tinylm.nn import init
from tinylm.nn.functional.convolution import conv1d, conv_transpose1d, one_int
from tinylm.nn.functional.shaping import pad
from tinylm.nn.module import Module, Parameter
from tinylm.tensor import Tensor

__all__ = ["PADDING_MODES", "Conv1d", "ConvTranspose1d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv1d and ConvTranspose1d share: the checks, the parameters and their init."""

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
        self.kernel_size = (one_int(name, "kernel_size", kernel_size, 1),)
        self.stride = (one_int(name, "stride", stride, 1),)
        self.dilation = (one_int(name, "dilation", dilation, 1),)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise TinyLMError(
                    f"{name}: padding must be an int, 'valid' or 'same', got {padding!r}"
                )
            if padding == "same" and self.stride != (1,):
                raise TinyLMError(
                    f"{name}: padding='same' is not supported for strided convolutions"
                )
            self.padding: Any = padding
        else:
            self.padding = (one_int(name, "padding", padding, 0),)
        self.output_padding = (one_int(name, "output_padding", output_padding, 0),)
        self.transposed = transposed
        self.padding_mode = padding_mode
        k = self.kernel_size[0]
        if transposed:
            shape = (self.in_channels, self.out_channels // self.groups, k)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, k)
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
        if self.padding != (0,):
            text += f", padding={self.padding}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    """A 1-D convolution over (N, C_in, L) or (C_in, L) inputs, as ``torch.nn.Conv1d``:
    weight (C_out, C_in/groups, K), bias (C_out,); see ``F.conv1d`` for the sum.

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
            "Conv1d",
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
        if self.padding_mode == "zeros":
            return conv1d(
                input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
            )
        if self.padding == "valid":
            pads = (0, 0)
        elif self.padding == "same":
            total = self.dilation[0] * (self.kernel_size[0] - 1)
            pads = (total // 2, total - total // 2)
        else:
            pads = (self.padding[0], self.padding[0])
        padded = pad(input, pads, mode=self.padding_mode)
        return conv1d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvTranspose1d(_ConvNd):
    """A 1-D transposed convolution, as ``torch.nn.ConvTranspose1d``: weight
    (C_in, C_out/groups, K), bias (C_out,); see ``F.conv_transpose1d``. Only
    ``padding_mode="zeros"``, as PyTorch. ``forward(input, output_size)`` picks the
    output_padding that gives length ``output_size[-1]``."""

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
                f'ConvTranspose1d: only "zeros" padding mode is supported, got {padding_mode!r}'
            )
        if isinstance(padding, str):
            raise TinyLMError(f"ConvTranspose1d: padding must be an int, got {padding!r}")
        super().__init__(
            "ConvTranspose1d",
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
        extra = self.output_padding[0]
        if output_size is not None:
            wanted = int(list(output_size)[-1])
            (s,), (p,), (d,), (k,) = self.stride, self.padding, self.dilation, self.kernel_size
            least = (input.shape[-1] - 1) * s - 2 * p + d * (k - 1) + 1
            if not least <= wanted <= least + s - 1:
                raise TinyLMError(
                    f"ConvTranspose1d: output_size {wanted} is not in [{least}, "
                    f"{least + s - 1}], the lengths this layer can give for input "
                    f"{tuple(input.shape)}"
                )
            extra = wanted - least
        return conv_transpose1d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            extra,
            self.groups,
            self.dilation,
        )
