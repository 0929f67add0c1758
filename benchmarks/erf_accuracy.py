"""The float32 ``fast_erf`` of the exact GELU (kernels/numba/jit.py) against erf in float64.

    python benchmarks/erf_accuracy.py             # every 13th float32 in [0, 5]: 83 million
    python benchmarks/erf_accuracy.py --step 1    # every float32 there (~1 billion, minutes)

The error is |fast_erf(x) − erf(x)| in units of the float32 spacing at erf(x), erf(x) taken
from ``math.erf`` in float64 (correctly rounded to far below a float32 ulp). erf is odd and
the polynomials are evaluated on |x|, so the positive half is the whole story; past 5 erf is 1
in float32. The test suite checks a sparser grid against the stated bound of 2 ulp
(tests/kernels/test_kernels_precision.py); this is the dense count behind kernels/README.md.
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=13, help="take every STEP-th float32")
    args = parser.parse_args(argv)

    from numba import njit
    from tinylm.kernels.numba.jit import FASTMATH, fast_erf

    @njit(fastmath=FASTMATH, error_model="numpy")
    def worst_ulp(bits: np.ndarray) -> tuple[float, float]:
        # the kernels' fast-math loop around fast_erf, and math.erf in float64 beside it
        x = bits.view(np.float32)
        worst, where = 0.0, 0.0
        for i in range(x.shape[0]):
            exact = math.erf(np.float64(x[i]))
            if exact == 0.0:
                continue  # erf(0) = 0, which fast_erf returns exactly (tested)
            # float32 spacing at |exact| = m·2^e, m in [0.5, 1): 2^(e−24), or the subnormals'
            ulp = max(math.ldexp(1.0, math.frexp(exact)[1] - 24), 2.0**-149)
            err = abs(np.float64(fast_erf(x[i])) - exact) / ulp
            if err > worst:
                worst, where = err, np.float64(x[i])
        return worst, where

    end = int(np.array(5.0, np.float32).view(np.int32))
    chunk = args.step * 4_000_000
    worst, where, count = 0.0, 0.0, 0
    for start in range(0, end, chunk):
        bits = np.arange(start, min(start + chunk, end), args.step, dtype=np.int32)
        w, at = worst_ulp(bits)
        count += bits.size
        if w > worst:
            worst, where = w, at
    print(f"{count:,} float32 values in [0, 5]: at most {worst:.3f} ulp from erf, at x = {where!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
