"""PyTorch's ``EmbeddingBag`` (the sum, mean or max of each bag's embeddings) and
``Bilinear`` (y = x₁ᵀ W x₂ + b). Each keeps PyTorch's constructor arguments, init, repr and
state_dict keys and calls :func:`tinylm.nn.functional.embedding_bag` / ``bilinear``.
"""

from __future__ import annotations

import math
from typing import Any

from tinylm import creation
from tinylm.autograd import TinyLMError, no_grad
from tinylm.nn import init
from tinylm.nn.functional.convolution import one_int
from tinylm.nn.functional.embedding_bag import EMBEDDING_BAG_MODES, bilinear, embedding_bag
from tinylm.nn.module import Module, Parameter
from tinylm.tensor import Tensor

__all__ = ["Bilinear", "EmbeddingBag"]


class EmbeddingBag(Module):
    """A table W (num_embeddings, embedding_dim) ~ N(0, 1) (the ``padding_idx`` row 0) whose
    forward reduces each bag of looked-up rows to one: ``forward(input, offsets=None,
    per_sample_weights=None)`` → (B, embedding_dim); see ``F.embedding_bag``.
    max_norm, scale_grad_by_freq and sparse=True are refused."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Tensor | None = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "EmbeddingBag"
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise TinyLMError(
                f"{name}: max_norm, scale_grad_by_freq and sparse=True are not supported"
            )
        if mode not in EMBEDDING_BAG_MODES:
            raise TinyLMError(f"{name}: mode must be one of {EMBEDDING_BAG_MODES}, got {mode!r}")
        self.num_embeddings = one_int(name, "num_embeddings", num_embeddings, 0)
        self.embedding_dim = one_int(name, "embedding_dim", embedding_dim, 0)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise TinyLMError(
                    f"{name}: padding_idx {padding_idx} out of range for {num_embeddings} rows"
                )
            padding_idx %= self.num_embeddings
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, False
        self.mode, self.sparse, self.include_last_offset = mode, False, include_last_offset
        self.padding_idx = padding_idx
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is not None:
            if tuple(_weight.shape) != shape:
                raise TinyLMError(f"{name}: _weight has shape {tuple(_weight.shape)}, not {shape}")
            self.weight = Parameter(_weight)
        else:
            self.weight = Parameter(creation.empty(*shape, dtype=dtype, device=device))
            self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
    ) -> EmbeddingBag:
        """An EmbeddingBag whose weight is ``embeddings`` (V, D), shared, not copied, as
        PyTorch's; frozen (no gradient) unless ``freeze=False``."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise TinyLMError(
                "EmbeddingBag.from_pretrained: embeddings must be a 2-D tensor (V, D), got "
                f"{getattr(embeddings, 'shape', type(embeddings).__name__)}"
            )
        rows, dim = embeddings.shape
        layer = cls(
            rows,
            dim,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            mode,
            sparse,
            embeddings,
            include_last_offset,
            padding_idx,
        )
        layer.weight.requires_grad = not freeze
        return layer

    def forward(
        self, input: Any, offsets: Any = None, per_sample_weights: Tensor | None = None
    ) -> Tensor:
        return embedding_bag(
            input,
            self.weight,
            offsets,
            mode=self.mode,
            per_sample_weights=per_sample_weights,
            include_last_offset=self.include_last_offset,
            padding_idx=self.padding_idx,
        )

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text


class Bilinear(Module):
    """y = x₁ᵀ W_o x₂ + b_o for each output feature: weight (out, in1, in2), bias (out,),
    both ~ U(−1/√in1, 1/√in1) as PyTorch's; see ``F.bilinear``. Inputs (*, in1) and
    (*, in2) → (*, out)."""

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "Bilinear"
        self.in1_features = one_int(name, "in1_features", in1_features, 0)
        self.in2_features = one_int(name, "in2_features", in2_features, 0)
        self.out_features = one_int(name, "out_features", out_features, 0)
        shape = (self.out_features, self.in1_features, self.in2_features)
        self.weight = Parameter(creation.empty(*shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(creation.empty(self.out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
