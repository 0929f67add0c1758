"""tinylm.nn: layers and models as trees of Modules, and the functions they call.

* :mod:`tinylm.nn.functional` (``import tinylm.nn.functional as F``) — the equations:
  losses, activations, ``layer_norm``, ``linear``, ``embedding``, attention;
* :mod:`tinylm.nn.module` — ``Module``, ``Parameter`` and the containers (``Sequential``,
  ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``);
* :mod:`tinylm.nn.layers` — ``Linear``, ``Embedding``, ``LayerNorm``, ``RMSNorm``,
  ``Dropout``, the activations (``ReLU``, ``GELU``, ``SiLU``, ``Tanh``, ``Sigmoid``,
  ``Softmax`` …), ``Flatten``, ``Unflatten`` …;
* :mod:`tinylm.nn.loss` — the losses as Modules: ``CrossEntropyLoss``, ``NLLLoss``,
  ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``KLDivLoss``, ``BCELoss``,
  ``BCEWithLogitsLoss``;
* :mod:`tinylm.nn.transformer` — the one transformer stack every model reuses:
  ``MultiHeadAttention`` (self, causal and cross attention), ``MLP``, ``TransformerBlock``,
  ``KVCache``;
* :mod:`tinylm.nn.pytorch_transformer` — PyTorch's ``MultiheadAttention``,
  ``TransformerEncoderLayer`` … ``Transformer`` with PyTorch's interface, for ported code;
* :mod:`tinylm.nn.recurrent` — ``LSTMCell``, ``LSTM`` (PyTorch's parameters, plus ``lengths=``
  for padded batches), ``RNNCell``, ``RNN``, ``GRUCell``, ``GRU``; they take a ``PackedSequence``;
* :mod:`tinylm.nn.init` — PyTorch's in-place initialisers (``normal_``, ``xavier_uniform_`` …);
* :mod:`tinylm.nn.utils` — ``clip_grad_norm_``, ``clip_grad_value_``; ``utils.rnn``: padded and
  packed sequences (``pad_sequence``, ``pack_padded_sequence``, ``PackedSequence`` …).
* :mod:`tinylm.nn.lora` — ``LoRALinear`` (a frozen Linear plus a trainable low-rank update)
  and the helpers that adapt a whole model: ``apply_lora``, ``merge_lora``,
  ``unmerge_lora``, ``lora_state_dict``, ``load_lora_state_dict``.
* :mod:`tinylm.nn.more_layers` — ``PReLU``, ``GroupNorm``, ``GLU``, ``Hardtanh`` and the other
  activations of ``F``'s ``more_activations``, ``PairwiseDistance``, ``CosineSimilarity``;
  :mod:`tinylm.nn.more_losses` — ``TripletMarginLoss``, ``GaussianNLLLoss`` and the rest;
  :mod:`tinylm.nn.more_modules` — ``RReLU``, ``Softmax2d``, ``AlphaDropout``, ``Dropout1d``,
  ``MultiMarginLoss``, ``TripletMarginWithDistanceLoss``; :mod:`tinylm.nn.padding` — the
  padding layers (``ZeroPad1d`` … ``CircularPad2d``);
* :mod:`tinylm.nn.conv` — ``Conv1d``, ``ConvTranspose1d``; :mod:`tinylm.nn.pooling` —
  ``MaxPool1d``, ``AvgPool1d``, ``LPPool1d``, ``AdaptiveAvgPool1d``, ``AdaptiveMaxPool1d``;
  :mod:`tinylm.nn.embedding_bag` — ``EmbeddingBag``, ``Bilinear``;
* :mod:`tinylm.nn.conv2d` — ``Conv2d``, ``ConvTranspose2d``; :mod:`tinylm.nn.pooling2d` —
  ``MaxPool2d``, ``AvgPool2d``, ``LPPool2d``, ``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d``;
  :mod:`tinylm.nn.vision` — ``BatchNorm2d``, ``Dropout2d``, ``Unfold``, ``Fold``,
  ``PixelShuffle``, ``PixelUnshuffle``, ``Upsample`` …;
* :mod:`tinylm.nn.quantized` — int8 weight-only inference: ``QuantizedLinear``,
  ``QuantizedEmbedding``, ``quantize_int8`` (also ``tinylm.quantize_int8``).
"""

from tinylm.nn import functional, init, utils
from tinylm.nn.conv import Conv1d, ConvTranspose1d
from tinylm.nn.conv2d import Conv2d, ConvTranspose2d
from tinylm.nn.embedding_bag import Bilinear, EmbeddingBag
from tinylm.nn.instance_norm import (
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LocalResponseNorm,
)
from tinylm.nn.layers import (
    ELU,
    GELU,
    BatchNorm1d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    LearnedPositionalEmbedding,
    Linear,
    LogSoftmax,
    ReLU,
    RMSNorm,
    Sigmoid,
    SiLU,
    SinusoidalPositionalEncoding,
    Softmax,
    Softplus,
    Tanh,
    Unflatten,
)
from tinylm.nn.lora import (
    LoRALinear,
    apply_lora,
    load_lora_state_dict,
    lora_state_dict,
    merge_lora,
    unmerge_lora,
)
from tinylm.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from tinylm.nn.module import (
    Buffer,
    IncompatibleKeys,
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    ParameterDict,
    ParameterList,
    Sequential,
)
from tinylm.nn.more_layers import (
    CELU,
    GLU,
    SELU,
    CosineSimilarity,
    GroupNorm,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    Mish,
    PairwiseDistance,
    PReLU,
    ReLU6,
    Softmin,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)
from tinylm.nn.more_losses import (
    CosineEmbeddingLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelSoftMarginLoss,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from tinylm.nn.more_modules import (
    AlphaDropout,
    Dropout1d,
    MultiMarginLoss,
    RReLU,
    Softmax2d,
    TripletMarginWithDistanceLoss,
)
from tinylm.nn.multilabel_margin_loss import MultiLabelMarginLoss
from tinylm.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)
from tinylm.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveMaxPool1d,
    AvgPool1d,
    LPPool1d,
    MaxPool1d,
)
from tinylm.nn.pooling2d import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool2d,
    LPPool2d,
    MaxPool2d,
    MaxUnpool2d,
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
from tinylm.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tinylm.nn.transformer import MLP, KVCache, MultiHeadAttention, TransformerBlock
from tinylm.nn.vision import (
    BatchNorm2d,
    ChannelShuffle,
    Dropout2d,
    Fold,
    PixelShuffle,
    PixelUnshuffle,
    Unfold,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)

__all__ = [
    "BatchNorm1d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "HuberLoss",
    "Identity",
    "GRU",
    "GRUCell",
    "IncompatibleKeys",
    "KLDivLoss",
    "KVCache",
    "L1Loss",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "LearnedPositionalEmbedding",
    "Linear",
    "LoRALinear",
    "LogSoftmax",
    "MLP",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiHeadAttention",
    "MultiheadAttention",
    "NLLLoss",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "QuantizedEmbedding",
    "QuantizedLinear",
    "RMSNorm",
    "RNN",
    "RNNCell",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SinusoidalPositionalEncoding",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "Transformer",
    "TransformerBlock",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Unflatten",
    "apply_lora",
    "functional",
    "init",
    "load_lora_state_dict",
    "lora_state_dict",
    "merge_lora",
    "quantize_int8",
    "unmerge_lora",
    "utils",
    # more_layers, more_losses
    "CELU",
    "CosineEmbeddingLoss",
    "CosineSimilarity",
    "GLU",
    "GaussianNLLLoss",
    "GroupNorm",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HingeEmbeddingLoss",
    "LogSigmoid",
    "MarginRankingLoss",
    "Mish",
    "MultiLabelSoftMarginLoss",
    "PReLU",
    "PairwiseDistance",
    "PoissonNLLLoss",
    "ReLU6",
    "SELU",
    "SoftMarginLoss",
    "Softmin",
    "Softshrink",
    "Softsign",
    "Tanhshrink",
    "Threshold",
    "TripletMarginLoss",
    # more_modules, padding, module
    "AlphaDropout",
    "Buffer",
    "CircularPad1d",
    "CircularPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "Dropout1d",
    "MultiMarginLoss",
    "RReLU",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "Softmax2d",
    "TripletMarginWithDistanceLoss",
    "ZeroPad1d",
    "ZeroPad2d",
    # conv, pooling, embedding_bag
    "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d",
    "AvgPool1d",
    "Bilinear",
    "Conv1d",
    "ConvTranspose1d",
    "EmbeddingBag",
    "LPPool1d",
    "MaxPool1d",
    # instance_norm, multilabel_margin_loss
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LocalResponseNorm",
    "MultiLabelMarginLoss",
    # conv2d, pooling2d, vision
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BatchNorm2d",
    "ChannelShuffle",
    "Conv2d",
    "ConvTranspose2d",
    "Dropout2d",
    "Fold",
    "LPPool2d",
    "MaxPool2d",
    "MaxUnpool2d",
    "PixelShuffle",
    "PixelUnshuffle",
    "Unfold",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
]
