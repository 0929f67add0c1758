"""``tinylm.autograd.grad_mode``: PyTorch's module of the grad-mode switches
(``from torch.autograd.grad_mode import no_grad`` in a script), which are defined in
``tinylm/autograd.py``. tinylm's ``autograd`` is one file, not a package, so this module
registers itself as its submodule when ``import tinylm`` loads it.
"""

from __future__ import annotations

import sys

from tinylm import autograd
from tinylm.autograd import enable_grad, inference_mode, no_grad, set_grad_enabled

__all__ = ["enable_grad", "inference_mode", "no_grad", "set_grad_enabled"]

autograd.grad_mode = sys.modules[__name__]  # type: ignore[attr-defined]
sys.modules["tinylm.autograd.grad_mode"] = sys.modules[__name__]
