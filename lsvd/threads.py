"""CPU threads that follow the CPUs this process may use.

Torch's default intra-op thread count is the machine's core count, and its OpenMP threads spin
while they wait for each other. Where other CPU-heavy processes already run (or inside a
CPU-limited container) that oversubscribes the cores and training collapses instead of slowing
down (measured on 2 cores: 2 it/s alone, 0.02 it/s beside another heavy job; 0.5 it/s with one
thread). :func:`configure_threads` therefore uses

    threads = CPUs in this process's affinity mask - CPUs busy with other runnable tasks now, >= 1

in torch and OpenCV, so a loaded machine slows work in proportion. The count is logged and is
part of every run's provenance: results are reproducible for the same seed *and thread count*, so
pin it (``--threads N``, or ``LSVD_THREADS=N``) to compare runs made under different loads.
Commands call it once at start-up; library code never changes threads on its own.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

__all__ = ["busy_cpus", "choose_threads", "configure_threads", "usable_cpus"]

log = logging.getLogger(__name__)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask; the core count where there is none)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def busy_cpus(samples: int = 5, interval_s: float = 0.05) -> int:
    """CPUs kept busy by other processes now: runnable tasks in ``/proc/loadavg`` minus this one.

    The fewest over ``samples`` readings ``interval_s`` apart, so that a short-lived process (a
    shell command) is not counted; not a load average, which lags by minutes and would still count
    a job that just ended. 0 where unknown.
    """
    counts = []
    for k in range(samples):
        if k:
            time.sleep(interval_s)
        try:
            counts.append(int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]))
        except (OSError, IndexError, ValueError):
            return 0
    return max(0, min(counts) - 1)


def choose_threads(requested: int | None = None) -> int:
    """``requested``, else ``$LSVD_THREADS``, else ``$OMP_NUM_THREADS``, else usable minus busy CPUs (>= 1)."""
    for value, source in ((requested, "--threads"), (os.environ.get("LSVD_THREADS"), "LSVD_THREADS"),
                          (os.environ.get("OMP_NUM_THREADS"), "OMP_NUM_THREADS")):
        if value in (None, ""):
            continue
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{source}: expected a positive integer number of threads, found {value!r}") from None
        if n < 1:
            raise ValueError(f"{source}: expected a positive integer number of threads, found {n}")
        return n
    return max(1, usable_cpus() - busy_cpus())


def configure_threads(requested: int | None = None) -> int:
    """Set torch's and OpenCV's thread counts to :func:`choose_threads`; returns the count."""
    import cv2
    import torch

    n = choose_threads(requested)
    usable = usable_cpus()
    if requested is None and n < usable and not os.environ.get("LSVD_THREADS") and not os.environ.get(
            "OMP_NUM_THREADS"):
        log.warning("the machine is busy (load %d of %d usable CPUs): using %d thread(s). Results depend on the "
                    "thread count; pass --threads %d (or LSVD_THREADS=%d) to reproduce an unloaded run",
                    busy_cpus(), usable, n, usable, usable)
    torch.set_num_threads(n)
    cv2.setNumThreads(n)
    return n
