"""tinylm.kernels: fast versions (Numba on CPU, CUDA C via CuPy on GPU) of tinylm's hot ops.

Installed as the subpackage ``tinylm.kernels`` (see ``package-dir`` in pyproject.toml).
"""
