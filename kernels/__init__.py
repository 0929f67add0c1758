"""tinylm.kernels: fast versions (Numba on CPU, CUDA C via CuPy on GPU) of tinylm's hot ops.

Installed as the subpackage ``tinylm.kernels`` (see ``package-dir`` in pyproject.toml).
Kernels see arrays only (NumPy or CuPy), never Tensors. Start reading at ``reference.py``:
every op is written there plainly, with its equation; the fast versions must agree with it.
They are the backend packages ``numba`` (CPU) and ``cuda`` (GPU), chosen by ``registry.py``;
``policy.py`` holds the decisions that callers share. ``README.md`` maps the files.

    from tinylm.kernels import lookup
    softmax = lookup("softmax_forward", "cpu")   # Numba if installed, else the reference

Importing this package imports neither Numba nor CuPy; see ``registry.py``.
"""

from .registry import (
    BACKENDS,
    DEVICES,
    OPS,
    get_backend,
    implementations,
    lookup,
    set_backend,
)

__all__ = [
    "BACKENDS",
    "DEVICES",
    "OPS",
    "get_backend",
    "implementations",
    "lookup",
    "set_backend",
]
