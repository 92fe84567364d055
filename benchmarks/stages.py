"""Where a benchmark's time goes: wall and CPU seconds per (method, stage), summed over clips.

    times = StageTimes()
    with times.stage("selfsvd", "method"):
        outputs = method.desmoke(clip)
    times.merge(worker_times)                 # a worker process's figures
    times.rows()                              # [{"method", "stage", "wall_s", "cpu_s", "calls"}, ...]

Stages (:data:`STAGES`): ``decode`` (reading a clip's frames, masks and references), ``method``
(desmoking), ``media`` (preview video and sample frames), ``protocol`` (the card's reference and
resize), ``flows`` (the alignment of each output onto its reference, and the flows between
consecutive inputs that the warp error needs), ``metric:<name>`` (one per metric, alignment
excluded) and ``write`` (the per-frame cache). Work shared by every method of a clip (decoding, the
input flows) is booked under the method :data:`SHARED`. CPU seconds are this process's, all threads
(:func:`time.process_time`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SHARED", "STAGES", "StageTimes"]

STAGES = ("decode", "method", "media", "protocol", "flows", "metric", "write")
#: The "method" under which work shared by every method of a clip is booked.
SHARED = "(shared)"


@dataclass
class StageTimes:
    """Wall and CPU seconds and call counts per ``(method, stage)``."""

    wall: dict[tuple[str, str], float] = field(default_factory=dict)
    cpu: dict[tuple[str, str], float] = field(default_factory=dict)
    calls: dict[tuple[str, str], int] = field(default_factory=dict)

    @contextmanager
    def stage(self, method: str, stage: str) -> Iterator[None]:
        """Time the ``with`` block and add it to ``(method, stage)`` (also when the block raises)."""
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(method, stage, time.perf_counter() - w0, time.process_time() - c0)

    def add(self, method: str, stage: str, wall_s: float, cpu_s: float, calls: int = 1) -> None:
        key = (method, stage)
        self.wall[key] = self.wall.get(key, 0.0) + wall_s
        self.cpu[key] = self.cpu.get(key, 0.0) + cpu_s
        self.calls[key] = self.calls.get(key, 0) + calls

    def merge(self, other: StageTimes) -> None:
        """Add ``other``'s figures to these."""
        for key in other.wall:
            self.add(*key, other.wall[key], other.cpu[key], other.calls[key])

    def rows(self) -> list[dict[str, Any]]:
        """One dict per ``(method, stage)``: ``method``, ``stage``, ``wall_s``, ``cpu_s``, ``calls``."""
        return [{"method": m, "stage": s, "wall_s": self.wall[(m, s)], "cpu_s": self.cpu[(m, s)],
                 "calls": self.calls[(m, s)]} for m, s in sorted(self.wall)]
