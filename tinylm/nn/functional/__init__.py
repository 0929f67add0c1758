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
* :mod:`~tinylm.nn.functional.more_activations` — ``logsigmoid``, ``relu6``, ``hardtanh``,
  ``glu``, ``mish``, ``hardswish``, ``hardsigmoid``, ``softsign``, ``selu``, ``celu``,
  ``threshold``, ``softmin``, ``tanhshrink``, ``softshrink``, ``hardshrink``, ``prelu``,
  ``gumbel_softmax``
* :mod:`~tinylm.nn.functional.more_losses` — ``margin_ranking_loss``,
  ``cosine_embedding_loss``, ``triplet_margin_loss``, ``hinge_embedding_loss``,
  ``soft_margin_loss``, ``multilabel_soft_margin_loss``, ``gaussian_nll_loss``,
  ``poisson_nll_loss``; :mod:`~tinylm.nn.functional.distances` — ``pairwise_distance``;
  :mod:`~tinylm.nn.functional.group_norm` — ``group_norm``
* :mod:`~tinylm.nn.functional.inplace` — ``relu_``, ``elu_``, ``leaky_relu_``, ``hardtanh_``,
  ``selu_``, ``celu_``, ``threshold_``, ``rrelu_``; :mod:`~tinylm.nn.functional.noise` —
  ``rrelu``, ``alpha_dropout``, ``dropout1d``; :mod:`~tinylm.nn.functional.margin_losses` —
  ``multi_margin_loss``, ``triplet_margin_with_distance_loss``
* :mod:`~tinylm.nn.functional.convolution` — ``conv1d``, ``conv_transpose1d`` (im2col);
  :mod:`~tinylm.nn.functional.pooling` — ``max_pool1d``, ``avg_pool1d``, ``lp_pool1d``,
  ``adaptive_avg_pool1d``, ``adaptive_max_pool1d``; :mod:`~tinylm.nn.functional.embedding_bag`
  — ``embedding_bag``, ``bilinear``
* :mod:`~tinylm.nn.functional.weighted_losses` — ``cross_entropy``'s and ``nll_loss``'s
  class weights and probability targets; :mod:`~tinylm.nn.functional.multilabel_margin` —
  ``multilabel_margin_loss``; :mod:`~tinylm.nn.functional.instance_norm` — ``instance_norm``,
  ``local_response_norm``
* :mod:`~tinylm.nn.functional.convolution2d` — ``conv2d``, ``conv_transpose2d``, ``unfold``,
  ``fold`` (im2col); :mod:`~tinylm.nn.functional.pooling2d` — ``max_pool2d``, ``avg_pool2d``,
  ``lp_pool2d``, ``max_unpool2d``, ``adaptive_avg_pool2d``, ``adaptive_max_pool2d``;
  :mod:`~tinylm.nn.functional.vision` — ``dropout2d``, ``pixel_shuffle``, ``pixel_unshuffle``,
  ``interpolate``, ``upsample`` …, ``channel_shuffle``

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
from tinylm.nn.functional.convolution import conv1d, conv_transpose1d
from tinylm.nn.functional.convolution2d import conv2d, conv_transpose2d, fold, unfold
from tinylm.nn.functional.distances import pairwise_distance
from tinylm.nn.functional.dropout import dropout
from tinylm.nn.functional.embedding_bag import EMBEDDING_BAG_MODES, bilinear, embedding_bag
from tinylm.nn.functional.group_norm import group_norm
from tinylm.nn.functional.inplace import (
    celu_,
    elu_,
    hardtanh_,
    leaky_relu_,
    relu_,
    rrelu_,
    selu_,
    threshold_,
)
from tinylm.nn.functional.instance_norm import instance_norm, local_response_norm
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
from tinylm.nn.functional.margin_losses import (
    multi_margin_loss,
    triplet_margin_with_distance_loss,
)
from tinylm.nn.functional.more_activations import (
    celu,
    glu,
    gumbel_softmax,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from tinylm.nn.functional.more_losses import (
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
from tinylm.nn.functional.multilabel_margin import multilabel_margin_loss
from tinylm.nn.functional.noise import alpha_dropout, dropout1d, rrelu
from tinylm.nn.functional.normalization import (
    batch_norm,
    cosine_similarity,
    layer_norm,
    normalize,
    rms_norm,
)
from tinylm.nn.functional.pooling import (
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    avg_pool1d,
    lp_pool1d,
    max_pool1d,
)
from tinylm.nn.functional.pooling2d import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool2d,
    lp_pool2d,
    max_pool2d,
    max_unpool2d,
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
from tinylm.nn.functional.vision import (
    channel_shuffle,
    dropout2d,
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
    upsample,
    upsample_bilinear,
    upsample_nearest,
)

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
    # more_activations, more_losses, distances, group_norm
    "celu",
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "glu",
    "group_norm",
    "gumbel_softmax",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hinge_embedding_loss",
    "logsigmoid",
    "margin_ranking_loss",
    "mish",
    "multilabel_soft_margin_loss",
    "pairwise_distance",
    "poisson_nll_loss",
    "prelu",
    "relu6",
    "selu",
    "soft_margin_loss",
    "softmin",
    "softshrink",
    "softsign",
    "tanhshrink",
    "threshold",
    "triplet_margin_loss",
    # inplace, noise, margin_losses
    "alpha_dropout",
    "celu_",
    "dropout1d",
    "elu_",
    "hardtanh_",
    "leaky_relu_",
    "multi_margin_loss",
    "relu_",
    "rrelu",
    "rrelu_",
    "selu_",
    "threshold_",
    "triplet_margin_with_distance_loss",
    # convolution, pooling, embedding_bag, bilinear
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "avg_pool1d",
    "bilinear",
    "conv1d",
    "conv_transpose1d",
    "EMBEDDING_BAG_MODES",
    "embedding_bag",
    "lp_pool1d",
    "max_pool1d",
    # instance_norm, multilabel_margin
    "instance_norm",
    "local_response_norm",
    "multilabel_margin_loss",
    # convolution2d, pooling2d, vision
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "channel_shuffle",
    "conv2d",
    "conv_transpose2d",
    "dropout2d",
    "fold",
    "interpolate",
    "lp_pool2d",
    "max_pool2d",
    "max_unpool2d",
    "pixel_shuffle",
    "pixel_unshuffle",
    "unfold",
    "upsample",
    "upsample_bilinear",
    "upsample_nearest",
]
