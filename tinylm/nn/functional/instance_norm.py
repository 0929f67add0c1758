"""Two normalisations of channels, as PyTorch's: instance norm (Ulyanov et al., 2016: each
sample's each channel normalised over its positions) and local response norm (AlexNet's:
each value divided by the energy of its neighbouring channels)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm import creation
from tinylm.autograd import TinyLMError, no_grad
from tinylm.nn.functional.common import check_same_dtype, check_tensor
from tinylm.nn.functional.normalization import layer_norm
from tinylm.tensor import Tensor

__all__ = ["instance_norm", "local_response_norm"]


def _channel_vector(op: str, name: str, t: Any, c: int) -> None:
    if t is not None and (not isinstance(t, Tensor) or tuple(t.shape) != (c,)):
        shown = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
        raise TinyLMError(f"{op}: {name} must be a Tensor of shape ({c},), got {shown}")


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x − μ_nc) / √(σ²_nc + eps) · weight_c + bias_c, with μ_nc and the biased σ²_nc
    taken over the positions of sample n's channel c (``use_input_stats``), or the running
    statistics μ_c, σ²_c instead (``use_input_stats=False``).

    Shapes: input (N, C, *), weight, bias, running_mean, running_var (C,) → input's shape.
    Normalising is ``layer_norm`` of the input viewed as (N, C, ∏*), whose fused backward is
    its gradient; the affine map's gradients are autograd's. With input statistics, given
    running statistics move toward their average over the batch, outside the graph:
    running_mean ← (1 − momentum)·running_mean + momentum·mean_n μ_nc, and running_var the
    same with the unbiased variances (PyTorch's batch norm of the (1, N·C, *) view).
    """
    op = "instance_norm"
    x = check_tensor(op, "input", input)
    if x.ndim < 2:
        raise TinyLMError(f"{op}: input must be (N, C, *), got shape {tuple(x.shape)}")
    if np.dtype(x.dtype).kind != "f":
        raise TinyLMError(f"{op}: input must be floating point, got {x.dtype}")
    n, c = x.shape[0], x.shape[1]
    for name, t in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ):
        _channel_vector(op, name, t, c)
    check_same_dtype(op, input=x, weight=weight, bias=bias)
    if (running_mean is None) != (running_var is None):
        raise TinyLMError(f"{op}: give both running_mean and running_var, or neither")
    if isinstance(momentum, bool) or not isinstance(momentum, int | float):
        raise TinyLMError(f"{op}: momentum must be a number, got {momentum!r:.40}")
    positions = math.prod(x.shape[2:])
    channel_shape: tuple[int, ...] = (1, c) + (1,) * (x.ndim - 2)
    if use_input_stats:
        if positions <= 1:
            raise TinyLMError(
                f"{op}: expected more than 1 spatial element when training, got input size "
                f"{list(x.shape)}"
            )
        grouped = x.reshape(n, c, positions)
        y = layer_norm(grouped, positions, eps=float(eps)).reshape(*x.shape)
        if running_mean is not None and running_var is not None:
            with no_grad():
                mean = grouped.mean(dim=2).mean(dim=0)
                var = grouped.var(dim=2, unbiased=True).mean(dim=0)
                running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype) * momentum)
                running_var.mul_(1 - momentum).add_(var.to(running_var.dtype) * momentum)
    else:
        if running_mean is None or running_var is None:
            raise TinyLMError(f"{op}: use_input_stats=False needs running_mean and running_var")
        mean = running_mean.reshape(*channel_shape)
        y = (x - mean) / (running_var.reshape(*channel_shape) + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(*channel_shape)
    if bias is not None:
        y = y + bias.reshape(*channel_shape)
    return y


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """y_c = x_c / (k + alpha · (1/size) Σ_{c'} x_{c'}²)^beta, the sum over the ``size``
    channels c − ⌊size/2⌋ … c + ⌊(size − 1)/2⌋ (those beyond the edges count as 0, and the
    average still divides by ``size``, as PyTorch's padded average pool).

    Shapes: input (N, C, *) with at least 3 dims → its shape. Tensor ops (squares, a sum of
    shifted slices, a power), so autograd derives the gradient.
    """
    op = "local_response_norm"
    x = check_tensor(op, "input", input)
    if x.ndim < 3:
        raise TinyLMError(
            f"{op}: expected 3D or higher dimensionality input (got {x.ndim} dimensions)"
        )
    if np.dtype(x.dtype).kind != "f":
        raise TinyLMError(
            f"{op}: input must be floating point, got {x.dtype} (PyTorch averages integer "
            "squares with integer division); convert it with .float()"
        )
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise TinyLMError(f"{op}: size must be a positive int, got {size!r:.40}")
    if x.numel() == 0:
        return x
    c = x.shape[1]
    square = x * x
    rest = tuple(x.shape[2:])
    parts = []
    before, after = size // 2, (size - 1) // 2
    if before:
        parts.append(creation.zeros(x.shape[0], before, *rest, dtype=x.dtype, device=x.device))
    parts.append(square)
    if after:
        parts.append(creation.zeros(x.shape[0], after, *rest, dtype=x.dtype, device=x.device))
    padded = creation.concat(parts, dim=1) if len(parts) > 1 else square
    window = padded[:, 0:c]
    for s in range(1, size):
        window = window + padded[:, s : s + c]
    div = (window * (alpha / size) + k) ** beta
    return x / div
