"""The differentiable operations of the Tensor, one ``Function`` each.

Each op is a forward rule and a backward rule, side by side, on raw arrays. Read
``backward`` next to the derivative it implements: for y = f(x) and an upstream
gradient g = dL/dy, it returns dL/dx = g · dy/dx (the chain rule). Broadcasting is undone
by the engine (``tinylm.autograd.unbroadcast``), so binary ops return gradients of the
broadcast shape.

* :mod:`~tinylm.ops.elementwise` — ``+ − × ÷ **``, max/min, where; exp, log, tanh, σ, …
* :mod:`~tinylm.ops.reductions` — sum, mean, max, min, cumsum; softmax and log-softmax
  (kernels)
* :mod:`~tinylm.ops.shape` — reshape, permute, expand, flip, roll, indexing (also what gather and
  index_select are), scatter_add, concat, stack, tril, masked_fill; copies to fresh memory,
  another dtype, another device
* :mod:`~tinylm.ops.matmul` — ``A @ B``, einsum

The functions of neural networks (linear, layer_norm, cross_entropy, attention …) are
Functions too, each beside its public wrapper in :mod:`tinylm.nn.functional`.

Shapes in the comments: x, y … are arrays; ``g`` is dL/d(output), same shape as the output.
"""

from tinylm.ops.elementwise import (
    Abs,
    Add,
    Clamp,
    Cos,
    Div,
    Erf,
    Exp,
    Expm1,
    FloorDivide,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    NanToNum,
    Neg,
    Pow,
    PowScalar,
    Relu,
    Remainder,
    RoundedDivide,
    Rsqrt,
    Sigmoid,
    Sin,
    Sqrt,
    Step,
    Sub,
    Tanh,
    Where,
    check_broadcast,
    sigmoid_array,
)
from tinylm.ops.matmul import Einsum, MatMul, einsum_subscripts
from tinylm.ops.reductions import (
    CumSum,
    LogSoftmax,
    Max,
    Mean,
    Min,
    Prod,
    Softmax,
    Sum,
    c_order,
    normalize_axis,
)
from tinylm.ops.shape import (
    Cast,
    Clone,
    Concat,
    Expand,
    Flip,
    GetItem,
    MaskedFill,
    Permute,
    Reshape,
    Roll,
    ScatterAdd,
    Stack,
    ToDevice,
    Tril,
    Triu,
    Unsqueeze,
    along_axis_index,
)

__all__ = [
    "Abs",
    "Add",
    "Cast",
    "Clamp",
    "Clone",
    "Concat",
    "CumSum",
    "Div",
    "Exp",
    "Expand",
    "Flip",
    "FloorDivide",
    "GetItem",
    "Log",
    "LogSoftmax",
    "MaskedFill",
    "Einsum",
    "MatMul",
    "Max",
    "Maximum",
    "Mean",
    "Min",
    "Minimum",
    "Mul",
    "Neg",
    "Permute",
    "Pow",
    "PowScalar",
    "Prod",
    "Relu",
    "Remainder",
    "RoundedDivide",
    "Reshape",
    "Roll",
    "ScatterAdd",
    "Sigmoid",
    "Softmax",
    "Sqrt",
    "Stack",
    "Sub",
    "Sum",
    "Tanh",
    "ToDevice",
    "Tril",
    "Triu",
    "Unsqueeze",
    "Where",
    "along_axis_index",
    "Cos",
    "Erf",
    "Expm1",
    "Log1p",
    "NanToNum",
    "Rsqrt",
    "Sin",
    "Step",
    "check_broadcast",
    "einsum_subscripts",
    "normalize_axis",
    "sigmoid_array",
    "c_order",
]
