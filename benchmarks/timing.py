"""What makes a speed figure trustworthy on a shared, drifting machine.

* **Paired rounds.** The compared programs take turns, round after round, and each round's
  ratio is taken between neighbours in time, so a drift of the machine's speed over minutes
  cancels. :func:`ratio_summary` reports the median ratio and the spread of the rounds' ratios
  (10th to 90th percentile, relative to the median); a spread over ``UNSTABLE_SPREAD`` marks
  the run unstable: its figure is not a figure.
* **The other program's threads asleep.** OpenBLAS's idle threads spin ~100 ms after a
  product and OpenMP's (PyTorch's) for a while after a parallel region: a round that starts
  right after the other program's round shares the cores with them, and its first rows lose
  up to half their speed (softmax 768×1024: 0.22 ms after a pause, 0.40 ms right after the
  other process's LSTM). :func:`settle` waits ``SETTLE_S`` before each turn.
* **Nobody else on the cores.** :class:`OthersCPU` measures the CPU time that processes other
  than the measured ones used during a round (Linux: ``/proc``). A round in which they used
  more than ``BUSY_CORES`` of a core is reported as disturbed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

UNSTABLE_SPREAD = 0.20  # (p90 − p10) / median of the per-round ratios
BUSY_CORES = 0.10  # CPU used by other processes during a round, in cores
SETTLE_S = 0.25  # longer than OpenBLAS's spin after a product (~0.1 s measured)


def settle(seconds: float | None = None) -> None:
    """Wait until the threads of whatever ran last have gone to sleep (see the module's
    docstring): call it before each program's turn. ``seconds`` defaults to ``SETTLE_S``."""
    time.sleep(SETTLE_S if seconds is None else seconds)


def busy_ticks() -> int | None:
    """All CPUs' busy time since boot (user, nice, system, irq, softirq, steal), in ticks."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return user + nice + system + irq + softirq + steal


def process_ticks(pid: int) -> int:
    """CPU time of process ``pid`` (all its threads), in ticks; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return int(fields[11]) + int(fields[12])  # utime, stime


class OthersCPU:
    """CPU (in cores) used by processes other than ``pids`` between ``start()`` and ``stop()``.

    ``stop()`` returns None where /proc is missing (not Linux): then nothing is known.
    """

    def __init__(self, pids: list[int], read_busy=None, read_process=None, clock=None) -> None:
        self.pids = pids
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        # the two readers of /proc, replaceable so that the arithmetic can be tested alone
        self.read_busy = read_busy or busy_ticks
        self.read_process = read_process or process_ticks
        self.clock = clock or time.perf_counter

    def start(self) -> None:
        self._t0 = self.clock()
        self._busy0 = self.read_busy()
        self._own0 = sum(self.read_process(p) for p in self.pids)

    def stop(self) -> float | None:
        busy = self.read_busy()
        if busy is None or self._busy0 is None:
            return None
        own = sum(self.read_process(p) for p in self.pids)
        seconds = self.clock() - self._t0
        others = max(0, (busy - self._busy0) - (own - self._own0)) / self.tick
        return others / max(seconds, 1e-9)


@dataclass
class RatioSummary:
    median: float
    p10: float
    p90: float
    spread: float  # (p90 − p10) / median
    unstable: bool
    rounds: int

    def describe(self) -> str:
        verdict = (
            f"UNSTABLE: spread {self.spread:.0%} > {UNSTABLE_SPREAD:.0%}, not a figure"
            if self.unstable
            else f"stable: spread {self.spread:.0%} ≤ {UNSTABLE_SPREAD:.0%}"
        )
        return (
            f"median {self.median:.2f}x over {self.rounds} paired rounds "
            f"(10th-90th percentile {self.p10:.2f}x-{self.p90:.2f}x; {verdict})"
        )


def ratio_summary(ratios: list[float]) -> RatioSummary:
    """The median of the per-round ratios and how widely they spread."""
    r = np.asarray(ratios, dtype=float)
    median = float(np.median(r))
    p10, p90 = (float(v) for v in np.percentile(r, [10, 90]))
    spread = (p90 - p10) / median if median > 0 else float("inf")
    return RatioSummary(median, p10, p90, spread, spread > UNSTABLE_SPREAD, len(r))
