"""Float32 precision of the fused kernels when logits sit far from zero.

log-softmax and cross-entropy must compute (x - m) - log s, not x - (m + log s): with
m = 512, m + log s keeps only ~4 correct digits of log s in float32. Fast-math
reassociation can silently turn the first form into the second, so this is checked on the
compiled kernels themselves.
"""

import numpy as np
import pytest
import tinylm.kernels.numba as numba_kernels
from tinylm.kernels import reference


@pytest.mark.parametrize("offset", [0.0, 512.0, -3000.0, 1e4])
def test_log_softmax_keeps_float32_precision_far_from_zero(offset):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((7, 33)) + offset).astype(np.float32)
    exact = reference.log_softmax_forward(x.astype(np.float64))
    got = numba_kernels.log_softmax_forward(x)
    # Relative to the size of the result (≈ log 33), not to the size of the logits.
    np.testing.assert_allclose(got, exact, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("offset", [0.0, 512.0, -3000.0, 1e4])
def test_cross_entropy_keeps_float32_precision_far_from_zero(offset):
    rng = np.random.default_rng(1)
    logits = (rng.standard_normal((9, 65)) + offset).astype(np.float32)
    target = rng.integers(0, 65, 9)
    exact, _ = reference.cross_entropy_forward(logits.astype(np.float64), target, -100)
    got, _ = numba_kernels.cross_entropy_forward(logits, target, -100)
    np.testing.assert_allclose(got, exact, rtol=2e-6, atol=2e-6)
