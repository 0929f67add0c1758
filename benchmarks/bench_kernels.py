"""Kernel benchmark (reference vs Numba vs CuPy vs PyTorch); same as ``tinylm bench kernels``."""

import sys

from tinylm.kernels.bench import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
