"""PyTorch's ``InstanceNorm1d``, ``InstanceNorm2d``, ``InstanceNorm3d`` and
``LocalResponseNorm`` as Modules, with PyTorch's constructor arguments, parameters, buffers
and reprs; the arithmetic is in :mod:`tinylm.nn.functional.instance_norm`."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinylm import creation
from tinylm.autograd import TinyLMError
from tinylm.nn.functional.instance_norm import instance_norm, local_response_norm
from tinylm.nn.module import Module, Parameter
from tinylm.tensor import Tensor

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm"]


class _InstanceNorm(Module):
    """Instance normalisation of each sample's each channel over its positions (see
    ``F.instance_norm``), then, with ``affine``, a per-channel ``weight`` (starting at 1) and
    ``bias`` (at 0). With ``track_running_stats`` the buffers ``running_mean``,
    ``running_var`` (moved by ``momentum``; ``momentum=None`` leaves them, as PyTorch's
    momentum 0.0) and ``num_batches_tracked`` exist, and eval mode normalises with them.
    An input without its batch dim is one sample."""

    spatial_dims = 1  # the positions' dims after (N, C)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int):
            raise TinyLMError(f"{name}: num_features must be an int, got {num_features!r:.40}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        c = num_features
        if affine:
            self.weight = Parameter(creation.ones((c,), dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(creation.zeros((c,), dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros((c,), dtype=dtype, device=device))
            self.register_buffer("running_var", creation.ones((c,), dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)

    def forward(self, input: Tensor) -> Tensor:
        name = type(self).__name__
        batched = self.spatial_dims + 2
        if not isinstance(input, Tensor) or input.ndim not in (batched - 1, batched):
            shown = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise TinyLMError(
                f"{name}: expected {batched - 1}D (unbatched) or {batched}D (batched) input, "
                f"got {shown}"
            )
        channel_dim = input.ndim - self.spatial_dims - 1
        if input.shape[channel_dim] != self.num_features:
            if self.affine:
                raise TinyLMError(
                    f"{name}: expected input's size at dim={channel_dim} to match num_features "
                    f"({self.num_features}), but got: {input.shape[channel_dim]}."
                )
            warnings.warn(
                f"{name}: input's size at dim={channel_dim} does not match num_features "
                f"({self.num_features}), which is not used because affine=False",
                stacklevel=2,
            )
        x = input if input.ndim == batched else input.unsqueeze(0)
        y = instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        return y if input.ndim == batched else y.squeeze(0)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or (C, L) inputs."""

    spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or (C, H, W) inputs."""

    spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of (N, C, D, H, W) or (C, D, H, W) inputs."""

    spatial_dims = 3


class LocalResponseNorm(Module):
    """x_c / (k + alpha/size · Σ x² over the ``size`` neighbouring channels)^beta, of (N, C, *)
    inputs; see ``F.local_response_norm``."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
