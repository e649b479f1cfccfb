"""How many cores this process may use: what work spread over processes or threads is sized by."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """The cores this process may run on (its affinity where the OS has one, e.g. a container's cpuset)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)
