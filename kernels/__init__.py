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

if __name__ == "kernels":  # e.g. `import kernels` with the repository root on sys.path
    # Numba's on-disk cache sits beside these files and records the module name: kernels
    # compiled as `kernels.*` then fail to load as `tinylm.kernels.*` (No module named 'kernels')
    raise ImportError(
        "import tinylm.kernels, not kernels: this directory is installed as the subpackage "
        "tinylm.kernels (see pyproject.toml)"
    )

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
