"""tinylm.nn: layers and models as trees of Modules, and the functions they call.

* :mod:`tinylm.nn.functional` (``import tinylm.nn.functional as F``) — the equations:
  losses, activations, ``layer_norm``, ``linear``, ``embedding``, attention;
* :mod:`tinylm.nn.module` — ``Module``, ``Parameter`` and the containers;
* :mod:`tinylm.nn.layers` — ``Linear``, ``Embedding``, ``LayerNorm``, ``Dropout`` …;
* :mod:`tinylm.nn.loss` — the losses as Modules: ``CrossEntropyLoss``, ``NLLLoss``,
  ``MSELoss``, ``BCELoss``, ``BCEWithLogitsLoss``;
* :mod:`tinylm.nn.transformer` — the one transformer stack every model reuses:
  ``MultiHeadAttention`` (self, causal and cross attention), ``MLP``, ``TransformerBlock``,
  ``KVCache``;
* :mod:`tinylm.nn.pytorch_transformer` — PyTorch's ``MultiheadAttention``,
  ``TransformerEncoderLayer`` … ``Transformer`` with PyTorch's interface, for ported code;
* :mod:`tinylm.nn.recurrent` — ``LSTMCell``, ``LSTM`` (PyTorch's parameters, plus ``lengths=``
  for padded batches);
* :mod:`tinylm.nn.init` — PyTorch's in-place initialisers (``normal_``, ``xavier_uniform_`` …);
* :mod:`tinylm.nn.utils` — ``clip_grad_norm_``, ``clip_grad_value_``.
* :mod:`tinylm.nn.lora` — ``LoRALinear`` (a frozen Linear plus a trainable low-rank update)
  and the helpers that adapt a whole model: ``apply_lora``, ``merge_lora``,
  ``unmerge_lora``, ``lora_state_dict``, ``load_lora_state_dict``.
* :mod:`tinylm.nn.quantized` — int8 weight-only inference: ``QuantizedLinear``,
  ``QuantizedEmbedding``, ``quantize_int8`` (also ``tinylm.quantize_int8``).
"""

from tinylm.nn import functional, init, utils
from tinylm.nn.layers import (
    GELU,
    Dropout,
    Embedding,
    Identity,
    LayerNorm,
    LearnedPositionalEmbedding,
    Linear,
    ReLU,
    SinusoidalPositionalEncoding,
)
from tinylm.nn.lora import (
    LoRALinear,
    apply_lora,
    load_lora_state_dict,
    lora_state_dict,
    merge_lora,
    unmerge_lora,
)
from tinylm.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from tinylm.nn.module import (
    IncompatibleKeys,
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    Sequential,
)
from tinylm.nn.pytorch_transformer import (
    MultiheadAttention,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from tinylm.nn.quantized import QuantizedEmbedding, QuantizedLinear, quantize_int8
from tinylm.nn.recurrent import LSTM, LSTMCell
from tinylm.nn.transformer import (
    MLP,
    KVCache,
    MultiHeadAttention,
    TransformerBlock,
)

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "MSELoss",
    "NLLLoss",
    "QuantizedEmbedding",
    "QuantizedLinear",
    "quantize_int8",
    "GELU",
    "MLP",
    "Dropout",
    "Embedding",
    "Identity",
    "IncompatibleKeys",
    "KVCache",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LearnedPositionalEmbedding",
    "Linear",
    "LoRALinear",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiHeadAttention",
    "MultiheadAttention",
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Parameter",
    "ReLU",
    "Sequential",
    "SinusoidalPositionalEncoding",
    "TransformerBlock",
    "apply_lora",
    "functional",
    "init",
    "utils",
    "load_lora_state_dict",
    "lora_state_dict",
    "merge_lora",
    "unmerge_lora",
]
