"""The ``"numba"`` backend: fused CPU kernels with the ops and signatures of ``reference.py``.

Why these are faster than the reference: every separate NumPy call is one full pass over
memory and one temporary array. Here each op walks its rows once (or twice, while a row is
still in cache), in parallel, with the inner loops vectorised by LLVM.

==================  ======================================================================
``vectors.py``      512-bit vectors on AVX-512 CPUs (set before anything is compiled)
``jit.py``          JIT presets, the vectorisable ``fast_exp``, the atomic ``take_job``
``threads.py``      float32/float64 dispatch, one thread for small work, attention's pool
``rowwise.py``      softmax, log-softmax, cross-entropy, LayerNorm
``elementwise.py``  GELU (tanh and exact)
``attention.py``    blocked attention, forward and backward
``optimizers.py``   Adam / AdamW
``quantized.py``    int8 weight-only linear (inference)
``decode.py``       a transformer block's decoding step as one call (inference)
``recurrent.py``    the LSTM: the cell (gates -> c, h) and a layer's recurrence, fwd and bwd
==================  ======================================================================

Kernels are compiled lazily on first call, once for float32 and once for float64
(``cache=True`` keeps the machine code on disk, so later processes start in milliseconds).
This package exports exactly the contract functions (``reference.__all__``); the registry
imports it only when a CPU op is first looked up.
"""

# vectors first: importing it sets the vector width before any kernel is compiled or loaded
from . import vectors  # noqa: F401
from .attention import attention_backward, attention_forward
from .decode import transformer_block_decode
from .elementwise import gelu_backward, gelu_exact_backward, gelu_exact_forward, gelu_forward
from .optimizers import adam_update
from .quantized import int8_linear
from .recurrent import (
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_recurrence_backward,
    lstm_recurrence_forward,
)
from .rowwise import (
    cross_entropy_backward,
    cross_entropy_forward,
    layer_norm_backward,
    layer_norm_forward,
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)
from .threads import c_order_copy

__all__ = [
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
    "layer_norm_forward",
    "layer_norm_backward",
    "gelu_forward",
    "gelu_backward",
    "gelu_exact_forward",
    "gelu_exact_backward",
    "attention_forward",
    "attention_backward",
    "adam_update",
    "int8_linear",
    "transformer_block_decode",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "lstm_recurrence_forward",
    "lstm_recurrence_backward",
    "c_order_copy",
]
