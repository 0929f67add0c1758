"""tinylm/allocator.py: after ``import tinylm`` glibc keeps freed memory for the next array
(no fresh, zero-filled pages per allocation); TINYLM_MALLOC=default leaves glibc alone."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or not platform.libc_ver()[0] == "glibc",
    reason="the setting is glibc's (Linux)",
)

CHILD = """
import resource, numpy as np, tinylm
from tinylm import allocator
print("set", allocator.keep_freed_memory())
def step():  # as a training step: many 1 MiB arrays alive at once, then all freed
    arrays = [np.ones(1 << 18, np.float32) for _ in range(20)]
    del arrays
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print("faults", resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _child(**env: str) -> dict[str, str]:
    run = subprocess.run(
        [sys.executable, "-c", CHILD],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return dict(line.split() for line in run.stdout.splitlines())


@glibc
def test_freed_arrays_are_reused_without_page_faults():
    kept, default = _child(), _child(TINYLM_MALLOC="default")
    assert kept["set"] == "True" and default["set"] == "False"
    # 10 steps of 20 MiB (5,120 pages): by default glibc hands the freed top of its heap back
    # and each step faults its pages in again; kept, the memory is reused
    assert int(default["faults"]) > 10 * 2560
    assert int(kept["faults"]) < 10 * 100
