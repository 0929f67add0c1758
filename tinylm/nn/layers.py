"""Layers with weights or a mode: Linear, Embedding, LayerNorm, RMSNorm, Dropout, activations,
reshaping (Flatten, Unflatten) and positional encodings. Each keeps its parameters and calls
one function of :mod:`tinylm.nn.functional`, where the equations and their gradients live.

Initialisations follow PyTorch and draw from ``tinylm.default_generator``, so
``tinylm.manual_seed(s)`` before building a model makes it reproducible.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.devices import normalize_device, to_device_array
from tinylm.dtypes import get_default_dtype
from tinylm.nn import functional as F
from tinylm.nn.functional.common import check_not_inplace, check_probability
from tinylm.nn.module import Module, Parameter
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = [
    "ELU",
    "GELU",
    "ActivationOverDim",
    "InplaceRefusedActivation",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "LayerNorm",
    "LeakyReLU",
    "LearnedPositionalEmbedding",
    "Linear",
    "LogSoftmax",
    "RMSNorm",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "SinusoidalPositionalEncoding",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
]


def _new_parameter(values: np.ndarray, dtype: Any, device: Any) -> Parameter:
    """A Parameter from float64 numpy values, in ``dtype`` (default float32) on ``device``."""
    dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
    array = to_device_array(values.astype(dtype), normalize_device(device))
    return Parameter(Tensor._wrap(array))


def _uniform(bound: float, shape: tuple[int, ...]) -> np.ndarray:
    return default_generator.numpy.uniform(-bound, bound, size=shape)


class Linear(Module):
    """y = x Wᵀ + b, with W (out_features, in_features) and b (out_features,).

    Init (PyTorch's): W and b ~ U(−1/√in, 1/√in), which keeps the output variance near the
    input variance for unit-variance inputs.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = _new_parameter(_uniform(bound, (out_features, in_features)), dtype, device)
        if bias:
            self.bias = _new_parameter(_uniform(bound, (out_features,)), dtype, device)
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Embedding(Module):
    """A lookup table: token id i → row i of W (num_embeddings, embedding_dim); W ~ N(0, 1)."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        values = default_generator.numpy.standard_normal((num_embeddings, embedding_dim))
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise TinyLMError(
                    f"Embedding: padding_idx {padding_idx} out of range for {num_embeddings} rows"
                )
            padding_idx %= num_embeddings
            values[padding_idx] = 0  # the padding token embeds to zeros and never learns
        self.padding_idx = padding_idx
        self.weight = _new_parameter(values, dtype, device)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (N, D), shared, not copied, as PyTorch's;
        frozen (no gradient) unless ``freeze=False``. The row at ``padding_idx`` keeps its
        values and gets no gradient. max_norm, scale_grad_by_freq and sparse are refused."""
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise TinyLMError(
                "Embedding.from_pretrained: max_norm, scale_grad_by_freq and sparse are not "
                "supported"
            )
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise TinyLMError(
                "Embedding.from_pretrained: embeddings must be a 2-D tensor (num_embeddings, "
                f"embedding_dim), got {getattr(embeddings, 'shape', type(embeddings).__name__)}"
            )
        rows, dim = embeddings.shape
        layer = cls(rows, dim, padding_idx, dtype=embeddings.dtype, device=embeddings.device)
        layer.weight = Parameter(embeddings, requires_grad=not freeze)
        return layer

    def forward(self, indices: Any) -> Tensor:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


class LayerNorm(Module):
    """y = (x − mean) / √(var + eps) · weight + bias over the trailing ``normalized_shape``.

    weight starts at 1 and bias at 0, so a fresh LayerNorm only normalises.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = float(eps)
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = _new_parameter(np.ones(self.normalized_shape), dtype, device)
            if bias:
                self.bias = _new_parameter(np.zeros(self.normalized_shape), dtype, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
            f", bias={self.bias is not None}"
        )


class Dropout(Module):
    """Zero each element with probability p while training (scaling the rest by 1/(1 − p));
    the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = check_probability("Dropout", p)
        check_not_inplace("Dropout", inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class GELU(Module):
    """GELU: x Φ(x) (``approximate="none"``, PyTorch's default), or GPT-2's tanh form
    ½ x (1 + tanh(√(2/π)(x + 0.044715 x³))) with ``approximate="tanh"``. See ``F.gelu``."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in F.GELU_FORMS:  # checked when built, as in PyTorch
            raise TinyLMError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class InplaceRefusedActivation(Module):
    """The constructor of an activation whose only argument is PyTorch's ``inplace``
    (refused when True: tinylm's autograd keeps inputs unchanged). Each subclass's
    ``forward`` calls its function of :mod:`tinylm.nn.functional`."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        check_not_inplace(type(self).__name__, inplace)


class ActivationOverDim(Module):
    """The constructor and repr of an activation along one ``dim`` (``Softmax``,
    ``LogSoftmax``, ``Softmin``, ``GLU``). Each subclass's ``forward`` calls its function
    of :mod:`tinylm.nn.functional` with ``self.dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class ReLU(InplaceRefusedActivation):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class Tanh(Module):
    """tanh(x), element-wise; see ``F.tanh``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """σ(x) = 1/(1 + e⁻ˣ), element-wise; see ``F.sigmoid``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class SiLU(InplaceRefusedActivation):
    """x σ(x) (swish), element-wise; see ``F.silu``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class LeakyReLU(Module):
    """x for x > 0, else ``negative_slope``·x; see ``F.leaky_relu``."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        check_not_inplace("LeakyReLU", inplace)
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """log(1 + e^{βx}) / β, linear above ``threshold``; see ``F.softplus``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x for x > 0, else α(eˣ − 1); see ``F.elu``."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        check_not_inplace("ELU", inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softmax(ActivationOverDim):
    """softmax along ``dim``; see ``F.softmax``. As there, ``dim`` must be given (PyTorch's
    choice of a dim by the input's rank is deprecated)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)


class LogSoftmax(ActivationOverDim):
    """log softmax along ``dim``; see ``F.log_softmax`` (``dim`` must be given)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)


def _dim_index(op: str, dim: Any, ndim: int) -> int:
    """``dim`` as an index in [0, ndim), or one clear line."""
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or not -ndim <= dim < ndim:
        raise TinyLMError(f"{op}: dim {dim!r:.40} is out of range for an input with {ndim} dims")
    return int(dim) % ndim


class Flatten(Module):
    """Merges the dims ``start_dim`` … ``end_dim`` into one: (N, C, H, W) → (N, C·H·W) with
    the defaults (every dim but the batch's)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        ndim = max(x.ndim, 1)
        start = _dim_index("Flatten", self.start_dim, ndim)
        end = _dim_index("Flatten", self.end_dim, ndim)
        if start > end:
            raise TinyLMError(
                f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for an "
                f"input of shape {tuple(x.shape)}"
            )
        shape = tuple(x.shape)
        return x.reshape(*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim ``dim`` into ``unflattened_size`` (one entry may be −1, inferred):
    (N, 12) → (N, 3, 4) with ``Unflatten(1, (3, 4))``."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, tuple | list) or not all(
            isinstance(s, int | np.integer) and not isinstance(s, bool) for s in unflattened_size
        ):
            raise TinyLMError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r:.60}"
            )
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, x: Tensor) -> Tensor:
        d = _dim_index("Unflatten", self.dim, x.ndim)
        sizes = [int(s) for s in self.unflattened_size]
        known = math.prod(s for s in sizes if s != -1)
        n = x.shape[d]
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise TinyLMError(f"Unflatten: bad unflattened_size {tuple(sizes)} (at most one -1)")
        if -1 in sizes and known and n % known == 0:
            sizes[sizes.index(-1)] = n // known
        if math.prod(sizes) != n:
            raise TinyLMError(
                f"Unflatten: unflattened_size {tuple(self.unflattened_size)} does not multiply to "
                f"the size {n} of dim {self.dim} of the input {tuple(x.shape)}"
            )
        shape = tuple(x.shape)
        return x.reshape(*shape[:d], *sizes, *shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class RMSNorm(Module):
    """y = x / √(mean(x²) + eps) · weight over the trailing ``normalized_shape`` (LLaMA's norm;
    ``torch.nn.RMSNorm``). weight (``normalized_shape``) starts at 1; ``eps=None`` is the
    machine epsilon of the input's dtype. See ``F.rms_norm``."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = _new_parameter(np.ones(self.normalized_shape), dtype, device)
        else:
            self.register_parameter("weight", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class BatchNorm1d(Module):
    """y = (x − μ) / √(σ² + eps) · weight + bias per channel, as ``torch.nn.BatchNorm1d``:
    μ, σ² the batch's in training (and the running statistics move toward them by
    ``momentum``; ``momentum=None``: their plain average over all batches so far), the running
    statistics in eval mode. Input (N, C) or (N, C, L); weight starts at 1, bias at 0
    (``bias=False``, PyTorch 2.13's keyword: the weight only). See ``F.batch_norm``.
    Buffers: ``running_mean``, ``running_var``, ``num_batches_tracked``.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        c = self.num_features
        if affine:
            self.weight = _new_parameter(np.ones(c), dtype, device)
            if bias:
                self.bias = _new_parameter(np.zeros(c), dtype, device)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            for name, values in (("running_mean", np.zeros(c)), ("running_var", np.ones(c))):
                buf = _new_parameter(values, dtype, device).detach()
                self.register_buffer(name, buf)
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise TinyLMError(
                f"BatchNorm1d: expected input (N, {self.num_features}) or "
                f"(N, {self.num_features}, L), got {x.shape}"
            )
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)  # in place: `data + 1` of 0-d would be a scalar
            if momentum is None:  # the running statistics are the average over all batches
                momentum = 1.0 / float(self.num_batches_tracked.item())
        # batch statistics in training, and in eval without running ones (None then)
        use_batch = self.training or not self.track_running_stats
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, use_batch,
            momentum or 0.0, self.eps,
        )  # fmt: skip

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, batch count 0 (as PyTorch's; nothing without
        ``track_running_stats``)."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class Identity(Module):
    """Returns its input (a placeholder where a layer is switched off)."""

    def forward(self, x: Tensor) -> Tensor:
        return x


def _check_length(op: str, x: Tensor, max_len: int, d_model: int) -> int:
    if x.ndim < 2 or x.shape[-1] != d_model:
        raise TinyLMError(f"{op}: expected input (..., T, {d_model}), got {x.shape}")
    t = x.shape[-2]
    if t > max_len:
        raise TinyLMError(f"{op}: sequence length {t} exceeds max_len={max_len}")
    return t


class SinusoidalPositionalEncoding(Module):
    """Adds the fixed sinusoid of "Attention is all you need" (§3.5) to the input:

        PE[pos, 2i]   = sin(pos / 10000^(2i/d_model))
        PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model))

    Each pair of features is a rotation at its own frequency, so PE[pos + k] is a linear
    function of PE[pos]. The table is a non-persistent buffer: it moves with ``.to`` but is
    not saved, since it is recomputed from the formula. x (..., T, d_model) → same shape.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dtype: Any = None, device=None):
        super().__init__()
        self.d_model, self.max_len = int(d_model), int(max_len)
        pos = np.arange(max_len)[:, None]
        # 1/10000^(2i/d) as exp(−(2i) ln(10000)/d): no huge powers
        inv_freq = np.exp(-np.arange(0, d_model, 2) * (math.log(10000.0) / d_model))
        table = np.zeros((max_len, d_model))
        table[:, 0::2] = np.sin(pos * inv_freq)
        table[:, 1::2] = np.cos(pos * inv_freq[: d_model // 2])  # odd d_model: one cos fewer
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        pe = Tensor._wrap(to_device_array(table.astype(dtype), normalize_device(device)))
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        t = _check_length("SinusoidalPositionalEncoding", x, self.max_len, self.d_model)
        return x + self.pe[:t].to(x.dtype)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEmbedding(Module):
    """Adds a trained vector per position (GPT-2's ``wpe``): x + W[:T].

    W (max_len, d_model) ~ N(0, 1) like ``Embedding``. x (..., T, d_model) → same shape.
    """

    def __init__(self, max_len: int, d_model: int, dtype: Any = None, device: Any = None):
        super().__init__()
        self.max_len, self.d_model = int(max_len), int(d_model)
        values = default_generator.numpy.standard_normal((max_len, d_model))
        self.weight = _new_parameter(values, dtype, device)

    def forward(self, x: Tensor) -> Tensor:
        t = _check_length("LearnedPositionalEmbedding", x, self.max_len, self.d_model)
        return x + self.weight[:t]

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"
