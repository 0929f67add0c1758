"""The functions of neural networks (``import tinylm.nn.functional as F``).

Each function is derived by hand. Where the composed backward (what autograd would build
from ``exp``, ``sum``, ``log`` …) is slower or less stable than the gradient written out on
paper, the function is its own :class:`~tinylm.autograd.Function`, defined right above its
public wrapper with the derivation in its docstring. One file per family:

* :mod:`~tinylm.nn.functional.activations` — ``relu``, ``tanh``, ``sigmoid``, ``softmax``,
  ``log_softmax``, ``gelu``, ``silu``, ``leaky_relu``, ``softplus``, ``elu``
* :mod:`~tinylm.nn.functional.linear` — ``linear``, ``embedding``
* :mod:`~tinylm.nn.functional.dropout` — ``dropout``
* :mod:`~tinylm.nn.functional.normalization` — ``layer_norm``, ``rms_norm``, ``normalize``,
  ``cosine_similarity``
* :mod:`~tinylm.nn.functional.losses` — ``cross_entropy``, ``nll_loss``, the binary
  cross-entropies, ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``, ``kl_div``
* :mod:`~tinylm.nn.functional.attention` — ``scaled_dot_product_attention``,
  ``packed_self_attention``, ``cached_self_attention``, ``attention_weights``,
  ``causal_mask``
* :mod:`~tinylm.nn.functional.shaping` — ``one_hot``, ``pad``
* :mod:`~tinylm.nn.functional.recurrent` — ``lstm_cell``, ``lstm_layer``, ``rnn_cell``,
  ``rnn_layer``, ``gru_cell``, ``gru_layer``

The heavy ones (``softmax``, ``layer_norm``, ``gelu``, ``cross_entropy``, attention without
a mask) call the kernel registry (:mod:`tinylm.kernels`), which hands out the Numba kernel on
the CPU, the CUDA kernel on a GPU, or the plain numpy version in ``kernels/reference.py``;
each of their docstrings names the reference function it matches.

Shapes: ``N`` rows (a batch, or batch × time flattened), ``C`` classes or channels,
``B`` batch, ``H`` heads, ``T`` time steps, ``D`` head size.
"""

from tinylm.nn.functional.activations import (
    GELU_FORMS,
    elu,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from tinylm.nn.functional.attention import (
    attention_weights,
    cached_self_attention,
    causal_mask,
    packed_self_attention,
    scaled_dot_product_attention,
)
from tinylm.nn.functional.dropout import dropout
from tinylm.nn.functional.linear import embedding, linear
from tinylm.nn.functional.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from tinylm.nn.functional.normalization import (
    batch_norm,
    cosine_similarity,
    layer_norm,
    normalize,
    rms_norm,
)
from tinylm.nn.functional.recurrent import (
    gru_cell,
    gru_layer,
    lstm_cell,
    lstm_layer,
    rnn_cell,
    rnn_layer,
)
from tinylm.nn.functional.shaping import PAD_MODES, one_hot, pad

__all__ = [
    "GELU_FORMS",
    "PAD_MODES",
    "attention_weights",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cached_self_attention",
    "causal_mask",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "gru_cell",
    "gru_layer",
    "lstm_cell",
    "lstm_layer",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "packed_self_attention",
    "pad",
    "relu",
    "rnn_cell",
    "rnn_layer",
    "rms_norm",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
]
