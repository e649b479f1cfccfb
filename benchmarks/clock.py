"""Wall and CPU time of a benchmark's timed section, measured together.

Why CPU as well: a section that keeps every core busy cannot take less wall time than its CPU seconds
divided by the cores, so the CPU figure says how far a target is from what the work itself needs —
and on a shared machine it moves far less than the wall time does. ``time.process_time`` counts
every thread of the process (DuckDB's workers included), user and system time both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Clock:
    """What ``clock()`` measured; both figures are filled in when the ``with`` block ends."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def report(self, prefix: str = "") -> dict[str, float]:
        """The two figures as a child's report carries them (``seconds``, ``cpu_seconds``), named
        ``<prefix>seconds`` and ``<prefix>cpu_seconds`` when a report holds several sections."""
        return {
            f"{prefix}seconds": round(self.seconds, 3),
            f"{prefix}cpu_seconds": round(self.cpu_seconds, 3),
        }


@contextmanager
def clock() -> Iterator[Clock]:
    """Time the ``with`` block: wall seconds and this process's CPU seconds (all its threads)."""
    measured = Clock()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield measured
    finally:
        measured.seconds = time.perf_counter() - wall
        measured.cpu_seconds = time.process_time() - cpu


def cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count): the divisor of the
    least wall time a given amount of CPU work can take here."""
    return len(os.sched_getaffinity(0))
