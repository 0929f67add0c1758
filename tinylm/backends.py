"""``tinylm.backends``: the switches of ``torch.backends`` that training scripts set before they
start, so that such a script runs unchanged.

They are *permissions* for PyTorch to use faster or non-reproducible GPU algorithms
(``cudnn.benchmark``, TF32 products); none asks for different results. tinylm has no cuDNN and
never lowers a product's precision, so each is a plain attribute that keeps what was set and
changes nothing: the results are those of full float32, as with the switches off.

``tinylm.backends.mps.is_available()`` is False (no Apple GPU backend), as is
``cudnn.is_available()``.
"""

from __future__ import annotations

from types import SimpleNamespace

__all__ = ["cuda", "cudnn", "mps"]


def _false() -> bool:
    return False


#: ``torch.backends.cudnn``: ``benchmark``, ``deterministic``, ``enabled``, ``allow_tf32``
cudnn = SimpleNamespace(
    benchmark=False, deterministic=False, enabled=True, allow_tf32=True, is_available=_false
)

#: ``torch.backends.cuda.matmul``: ``allow_tf32`` and the reduced-precision reductions
cuda = SimpleNamespace(
    matmul=SimpleNamespace(
        allow_tf32=False,
        allow_fp16_reduced_precision_reduction=True,
        allow_bf16_reduced_precision_reduction=True,
    )
)

#: ``torch.backends.mps``
mps = SimpleNamespace(is_available=_false, is_built=_false)
