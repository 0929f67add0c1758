"""Layers with weights or a mode: Linear, Embedding, LayerNorm, Dropout, activations and
positional encodings. Each keeps its parameters and calls one function of
:mod:`tinylm.nn.functional`, where the equations and their gradients live.

Initialisations follow PyTorch and draw from ``tinylm.default_generator``, so
``tinylm.manual_seed(s)`` before building a model makes it reproducible.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.device import normalize_device, to_device_array
from tinylm.dtypes import get_default_dtype
from tinylm.nn import functional as F
from tinylm.nn.functional.common import check_not_inplace, check_probability
from tinylm.nn.module import Module, Parameter
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = [
    "GELU",
    "Dropout",
    "Embedding",
    "Identity",
    "LayerNorm",
    "LearnedPositionalEmbedding",
    "Linear",
    "ReLU",
    "SinusoidalPositionalEncoding",
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


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        check_not_inplace("ReLU", inplace)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


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
