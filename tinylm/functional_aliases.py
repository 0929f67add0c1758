"""The functions of ``torch.nn.functional`` that PyTorch also has at the top level
(``torch.layer_norm``, ``torch.conv1d`` …), with the top-level signatures, which are not
always F's: ``embedding(weight, input)`` takes its arguments the other way round,
``batch_norm`` takes weight and bias first and every argument, ``dropout(input, p, train)``
has no defaults, ``adaptive_max_pool1d`` returns (values, indices), and the losses take
``reduction`` as an int (0 "none", 1 "mean", 2 "sum") whose default, in PyTorch 2.13, is
0: no reduction. Each is one call of
:mod:`tinylm.nn.functional`, where the arithmetic is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tinylm.nn.functional as F
from tinylm import tensor_inplace
from tinylm.autograd import TinyLMError
from tinylm.dtypes import get_default_dtype
from tinylm.nn.functional.common import check_probability

if TYPE_CHECKING:  # type hints only
    from tinylm.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "alpha_dropout",
    "avg_pool1d",
    "batch_norm",
    "bilinear",
    "binary_cross_entropy_with_logits",
    "celu",
    "celu_",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "dropout",
    "embedding",
    "group_norm",
    "hardshrink",
    "hinge_embedding_loss",
    "instance_norm",
    "kl_div",
    "layer_norm",
    "margin_ranking_loss",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "prelu",
    "relu_",
    "rms_norm",
    "rrelu",
    "rrelu_",
    "selu",
    "selu_",
    "threshold",
    "threshold_",
    "triplet_margin_loss",
]

# torch's in-place top-level forms that F lacks (tinylm/__init__.py exports them too)
IN_PLACE = ["alpha_dropout_", "dropout_"]

# the same signatures as F's (or F's less its ``inplace`` flag, passed as False)
conv1d = F.conv1d
conv_transpose1d = F.conv_transpose1d
conv2d, conv_transpose2d = F.conv2d, F.conv_transpose2d
pixel_shuffle, pixel_unshuffle = F.pixel_shuffle, F.pixel_unshuffle
adaptive_avg_pool1d = F.adaptive_avg_pool1d
bilinear = F.bilinear
cosine_similarity = F.cosine_similarity
pairwise_distance = F.pairwise_distance
prelu = F.prelu
hardshrink = F.hardshrink
relu_, selu_, celu_, rrelu_, threshold_ = F.relu_, F.selu_, F.celu_, F.rrelu_, F.threshold_

REDUCTIONS = ("none", "mean", "sum")  # torch's top-level losses take their index


def reduction_name(op: str, reduction: Any) -> str:
    """The name of PyTorch's int ``reduction`` (0 "none", 1 "mean", 2 "sum")."""
    if isinstance(reduction, bool) or not isinstance(reduction, int) or not 0 <= reduction <= 2:
        raise TinyLMError(
            f"{op}: reduction must be an int at the top level, as torch.{op}'s: 0 (none), "
            f"1 (mean) or 2 (sum); got {reduction!r} (F.{op} takes the names)"
        )
    return REDUCTIONS[reduction]


def layer_norm(
    input: Tensor,  # noqa: A002 - PyTorch's name
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
    cudnn_enable: bool = True,
) -> Tensor:
    """F.layer_norm (``cudnn_enable`` is a CUDA hint and is ignored, as on PyTorch's CPU)."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def rms_norm(
    input: Tensor,  # noqa: A002
    normalized_shape: Any,
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    return F.rms_norm(input, normalized_shape, weight, eps)


def group_norm(
    input: Tensor,  # noqa: A002
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
    cudnn_enabled: bool = True,
) -> Tensor:
    return F.group_norm(input, num_groups, weight, bias, eps)


def batch_norm(
    input: Tensor,  # noqa: A002
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    """F.batch_norm with torch.batch_norm's order: weight and bias before the running
    statistics, and no defaults."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """F.dropout(input, p, training=train)."""
    return F.dropout(input, p, train)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    return F.alpha_dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """torch.dropout_: :func:`dropout` written into input (tinylm/tensor_inplace.py's rules)."""
    return _dropout_into("dropout_", F.dropout, input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """torch.alpha_dropout_: :func:`alpha_dropout` written into input."""
    return _dropout_into("alpha_dropout_", F.alpha_dropout, input, p, train)


def _dropout_into(op: str, dropout: Any, input: Tensor, p: float, train: bool) -> Tensor:  # noqa: A002
    """As torch: out of training or with p = 0, input is left as it is (not written, its
    version unchanged, even if it requires grad); p = 1 writes zeros (an int input too);
    otherwise the float result of ``dropout`` is written, which an int input cannot hold."""
    p = check_probability(op[:-1], p)
    if not train or p == 0.0:
        return input
    if p == 1.0:
        return tensor_inplace.write_into(input, op, lambda x: x * 0)
    default = get_default_dtype()
    return tensor_inplace.write_into(
        input, op, lambda x: dropout(x if x.is_floating_point() else x.to(default), p, True)
    )


def embedding(
    weight: Tensor,
    input: Any,  # noqa: A002
    padding_idx: int = -1,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """F.embedding(input, weight): the table comes first here, as in torch.embedding, whose
    padding_idx −1 means none (it only stops that row's gradient)."""
    if scale_grad_by_freq or sparse:
        raise TinyLMError("embedding: scale_grad_by_freq and sparse are not supported")
    return F.embedding(input, weight, None if padding_idx == -1 else padding_idx)


def max_pool1d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = (),
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> Tensor:
    """F.max_pool1d (torch's default stride ``[]`` means the kernel size)."""
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool2d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = (),
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> Tensor:
    """F.max_pool2d (torch's default stride ``[]`` means the kernel size)."""
    return F.max_pool2d(input, kernel_size, stride or None, padding, dilation, ceil_mode)


def max_pool1d_with_indices(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = (),
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
) -> tuple[Tensor, Tensor]:
    """F.max_pool1d with return_indices: (values, indices)."""
    return F.max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode, True)


def avg_pool1d(
    input: Tensor,  # noqa: A002
    kernel_size: Any,
    stride: Any = (),
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    return F.avg_pool1d(input, kernel_size, stride or None, padding, ceil_mode, count_include_pad)


def adaptive_max_pool1d(input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:  # noqa: A002
    """(values, indices), always, as torch.adaptive_max_pool1d."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def selu(input: Tensor) -> Tensor:  # noqa: A002
    return F.selu(input)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:  # noqa: A002
    return F.celu(input, alpha)


def rrelu(
    input: Tensor,  # noqa: A002
    lower: float = 1 / 8,
    upper: float = 1 / 3,
    training: bool = False,
    generator: Any = None,
) -> Tensor:
    if generator is not None:
        raise TinyLMError("rrelu: generator is not supported; seed with tinylm.manual_seed")
    return F.rrelu(input, lower, upper, training)


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:  # noqa: A002
    return F.threshold(input, threshold, value)


def kl_div(
    input: Tensor,  # noqa: A002
    target: Tensor,
    reduction: int = 0,
    *,
    log_target: bool = False,
) -> Tensor:
    """F.kl_div, unreduced by default; reduction 1 is the mean over all elements (there is
    no "batchmean" here)."""
    name = reduction_name("kl_div", reduction)
    return F.kl_div(input, target, reduction=name, log_target=log_target)


def binary_cross_entropy_with_logits(
    input: Tensor,  # noqa: A002
    target: Tensor,
    weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    reduction: int = 0,
) -> Tensor:
    """F.binary_cross_entropy_with_logits, with pos_weight before reduction (an int)."""
    name = reduction_name("binary_cross_entropy_with_logits", reduction)
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=name, pos_weight=pos_weight
    )


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: int = 0
) -> Tensor:
    name = reduction_name("margin_ranking_loss", reduction)
    return F.margin_ranking_loss(input1, input2, target, margin, reduction=name)


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: int = 0
) -> Tensor:
    name = reduction_name("cosine_embedding_loss", reduction)
    return F.cosine_embedding_loss(input1, input2, target, margin, reduction=name)


def poisson_nll_loss(
    input: Tensor,  # noqa: A002
    target: Tensor,
    log_input: bool,
    full: bool,
    eps: float,
    reduction: int,
) -> Tensor:
    """F.poisson_nll_loss; every argument required, as torch.poisson_nll_loss's."""
    name = reduction_name("poisson_nll_loss", reduction)
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=name)


def hinge_embedding_loss(
    input: Tensor,  # noqa: A002 - PyTorch's name
    target: Tensor,
    margin: float = 1.0,
    reduction: int = 0,
) -> Tensor:
    """F.hinge_embedding_loss, with ``reduction`` an int."""
    name = reduction_name("hinge_embedding_loss", reduction)
    return F.hinge_embedding_loss(input, target, margin, reduction=name)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: int = 0,
) -> Tensor:
    """F.triplet_margin_loss, with ``reduction`` an int."""
    name = reduction_name("triplet_margin_loss", reduction)
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=name)


def instance_norm(
    input: Tensor,  # noqa: A002
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    use_input_stats: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    """F.instance_norm with torch.instance_norm's order (weight and bias first, every
    argument required; ``cudnn_enabled`` is a CUDA hint and is ignored)."""
    return F.instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )
