"""A 10 M-object inventory report streams through bounded memory (opt in with ``-m slow``)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

SCRIPT = """
import resource, sys
from datetime import date
from pathlib import Path
from synthetic import generate_inventory_snapshot
stats = generate_inventory_snapshot(Path(sys.argv[1]), date(2026, 10, 1), 10_000_000, seed=7)
assert stats.rows == 10_000_000, stats.rows
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_ten_million_objects_under_1_5_gb(tmp_path):
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, check=True
    )
    peak_kb = int(done.stdout.split()[-1])
    assert peak_kb < 1.5 * 1024 * 1024, f"peak RSS {peak_kb / 1024:.0f} MiB"
    assert time.monotonic() - began < 90
