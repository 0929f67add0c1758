"""Group normalisation (Wu & He, 2018): layer norm over groups of channels, then a scale and
a shift per channel; independent of the batch size, unlike batch norm."""

from __future__ import annotations

from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.nn.functional.common import check_same_dtype
from tinylm.nn.functional.normalization import layer_norm
from tinylm.tensor import Tensor

__all__ = ["group_norm"]


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x − μ_g) / √(σ²_g + eps) · weight_c + bias_c, with μ_g and the biased σ²_g taken
    over each sample's group g of C/G channels and all their positions.

    Shapes: input (N, C, *), C divisible by ``num_groups`` = G; weight, bias (C,) → the
    input's shape. Computed as ``layer_norm`` of the input viewed as (N, G, C/G·∏*) — its
    fused backward is the normalisation's gradient — then the per-channel affine map, whose
    gradients autograd derives (dL/dweight_c = Σ g x̂ over channel c, dL/dbias_c = Σ g).
    """
    if not isinstance(input, Tensor):
        raise TinyLMError(f"group_norm: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise TinyLMError(
            f"group_norm: input must be (N, C, *) with at least 2 dims, got {tuple(input.shape)}"
        )
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups <= 0:
        raise TinyLMError(f"group_norm: num_groups must be a positive int, got {num_groups!r:.40}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise TinyLMError(
            f"group_norm: the {c} channels of input {tuple(input.shape)} are not divisible "
            f"by num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise TinyLMError(
                f"group_norm: {name} has shape {tuple(t.shape)}, expected ({c},) (one per channel)"
            )
    check_same_dtype("group_norm", input=input, weight=weight, bias=bias)
    per_group = input.numel() // max(n * num_groups, 1)
    grouped = input.reshape(n, num_groups, per_group)
    y = layer_norm(grouped, per_group, eps=float(eps)).reshape(*input.shape)
    channel_shape: tuple[Any, ...] = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(*channel_shape)
    if bias is not None:
        y = y + bias.reshape(*channel_shape)
    return y
