"""int8 weight-only quantisation for inference: layers and the function that converts a model.

Symmetric, per output channel (document 001 §3.2 names model compression for deployment):
each row w of a weight matrix (one output channel of a Linear, one token of an embedding)
gets its own scale

    s = max_k |w_k| / 127,      q_k = round(w_k / s) ∈ [−127, 127] (int8),      ŵ_k = s · q_k

so the largest entry of the row is exactly representable and every other one is off by at
most s/2. A row of small weights is not crushed by another row's outlier, which is what a
single scale for the whole matrix (per tensor) would do. Memory: 1 byte per weight plus one
float per row, about a quarter of float32.

* :func:`quantize_rows` — the equation above, on an array.
* :class:`QuantizedLinear`, :class:`QuantizedEmbedding` — int8 buffers ``qweight`` (N, K) and
  float ``scale`` (N,), forward through ``nn.functional.quantized``; inference only.
* :func:`quantize_int8` — replace every ``Linear`` and ``Embedding`` of a model in place;
  weights tied between an embedding and a head (the GPT) stay one shared int8 matrix.
"""

from __future__ import annotations

from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.devices import array_module
from tinylm.nn.functional.quantized import int8_embedding, int8_linear
from tinylm.nn.layers import Embedding, Linear
from tinylm.nn.module import Module
from tinylm.tensor import Tensor

__all__ = [
    "QuantizedEmbedding",
    "QuantizedLinear",
    "dequantize",
    "quantize_int8",
    "quantize_rows",
]

QMAX = 127  # symmetric: −127 … 127, so that −q is always representable


def quantize_rows(weight: Any) -> tuple[Any, Any]:
    """Symmetric per-row int8 quantisation of ``weight`` (N, K) → (q (N, K) int8, scale (N,)).

    scale[n] = max_k |w[n, k]| / 127 (a row of zeros gets scale 1 and q = 0, not 0/0);
    q = round(w / scale) in [−127, 127]. Rounding is to nearest (half to even), so
    |w − scale·q| ≤ scale/2 entrywise. The scale keeps the weight's dtype.
    """
    w = weight.data if isinstance(weight, Tensor) else weight
    xp = array_module(w)
    if w.ndim != 2 or w.dtype.kind != "f":
        raise TinyLMError(f"quantize_rows: need a 2-D float weight, got {w.dtype} {w.shape}")
    if not bool(xp.isfinite(w).all()):
        raise TinyLMError("quantize_rows: the weight holds NaN or inf")
    w64 = w.astype(xp.float64)
    amax = xp.abs(w64).max(axis=1) if w.shape[1] else xp.zeros(w.shape[0])
    scale = xp.where(amax > 0, amax / QMAX, 1.0)
    q = xp.clip(xp.rint(w64 / scale[:, None]), -QMAX, QMAX).astype(xp.int8)
    return q, scale.astype(w.dtype)


def _buffers(module: Module, q: Any, scale: Any) -> None:
    module.register_buffer("qweight", q if isinstance(q, Tensor) else Tensor(q))
    module.register_buffer("scale", scale if isinstance(scale, Tensor) else Tensor(scale))


class QuantizedLinear(Module):
    """y = x Ŵᵀ + b with an int8 weight (out_features, in_features) and a float scale per
    output channel; inference only (``backward`` raises). Build it with :meth:`from_float`.

    Buffers: ``qweight`` (out, in) int8, ``scale`` (out,), ``bias`` (out,) or None.
    """

    def __init__(self, qweight: Any, scale: Any, bias: Any = None) -> None:
        super().__init__()
        _buffers(self, qweight, scale)
        self.out_features, self.in_features = self.qweight.shape
        b = None if bias is None else (bias if isinstance(bias, Tensor) else Tensor(bias))
        self.register_buffer("bias", None if b is None else b.detach())

    @classmethod
    def from_float(cls, linear: Linear, shared: tuple[Tensor, Tensor] | None = None):
        """The quantised twin of ``linear``; ``shared`` = (qweight, scale) of a tied matrix."""
        q, s = shared if shared is not None else quantize_rows(linear.weight.data)
        return cls(q, s, None if linear.bias is None else linear.bias.detach())

    def forward(self, x: Tensor) -> Tensor:
        return int8_linear(x, self.qweight, self.scale, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}, int8"


class QuantizedEmbedding(Module):
    """An embedding table stored int8 with a float scale per row; a lookup turns only the
    rows it reads into floats. Inference only. Buffers: ``qweight`` (V, D) int8, ``scale`` (V,).
    """

    def __init__(self, qweight: Any, scale: Any) -> None:
        super().__init__()
        _buffers(self, qweight, scale)
        self.num_embeddings, self.embedding_dim = self.qweight.shape

    @classmethod
    def from_float(
        cls, embedding: Embedding, shared: tuple[Tensor, Tensor] | None = None
    ) -> QuantizedEmbedding:
        """The quantised twin of ``embedding``; ``shared`` = (qweight, scale) of a tied matrix."""
        if embedding.padding_idx is not None:
            raise TinyLMError("quantize_int8: an Embedding with padding_idx is not supported")
        return cls(*(shared if shared is not None else quantize_rows(embedding.weight.data)))

    def forward(self, indices: Any) -> Tensor:
        return int8_embedding(indices, self.qweight, self.scale)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, int8"


def quantize_int8(model: Module) -> Module:
    """Replace, in place, every ``Linear`` and ``Embedding`` of ``model`` by its int8 twin
    (per-output-channel scales) and return ``model``, ready for inference.

    A weight shared by several layers (the GPT's token embedding and its tied output head)
    is quantised once, and the layers share the int8 matrix: the same rows are the same
    output channels of the head and the same tokens of the table, so one scale per row
    serves both. Wrapped layers (``LoRALinear``) are refused: merge the adapters first.
    A quantised model cannot be trained (its layers' backward raises).
    """
    from tinylm.nn.lora import LoRALinear  # only to refuse it; lora imports layers, not this

    done: dict[int, tuple[Tensor, Tensor]] = {}
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            raise TinyLMError(
                f"quantize_int8: {name} is a LoRALinear; merge it first (tinylm.nn.merge_lora)"
            )
        if not isinstance(module, Linear | Embedding) or not name:
            continue
        key = id(module.weight)
        if isinstance(module, Embedding):
            new: Module = QuantizedEmbedding.from_float(module, done.get(key))
        else:
            new = QuantizedLinear.from_float(module, done.get(key))
        done.setdefault(key, (new.qweight, new.scale))
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new)
    if isinstance(model, Linear | Embedding):
        raise TinyLMError("quantize_int8: give the model that holds the layer, not the layer")
    return model


def dequantize(q: Any, scale: Any) -> Any:
    """scale[:, None] · q as a float array (for lessons and tests; the layers never call it)."""
    q = q.data if isinstance(q, Tensor) else q
    scale = scale.data if isinstance(scale, Tensor) else scale
    return q.astype(scale.dtype) * scale[:, None]
