"""``bucketlens bench``: measured, rerunnable performance figures.

``inventory-load`` generates one S3 Inventory partition of N objects and loads it through the real
``inventory_objects`` asset in a child process, so the peak RSS reported is that of the load alone
(``wait4`` rusage of the child), not of the generator or of this parent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

BENCH_DAY = date(2026, 10, 1)


@dataclass
class LoadMeasurement:
    objects: int
    inventory_format: str
    rows_loaded: int
    source_bytes: int
    generate_seconds: float
    load_seconds: float
    peak_rss_mib: float
    rows_per_second: float


def _child_load(source: str, home: str, day: str) -> None:
    """Runs in the child: materialize one inventory partition, print the row count as JSON."""
    import dagster as dg

    from assets.raw import inventory_objects
    from bucketlens.settings import Settings
    from resources import build_resources

    os.environ.update({"BUCKETLENS_HOME": home, "BUCKETLENS_SOURCE": source})
    result = dg.materialize(
        [inventory_objects], partition_key=day, resources=build_resources(Settings.from_env())
    )
    (event,) = result.get_asset_materialization_events()
    print(json.dumps({"rows": event.materialization.metadata["rows"].value}))


def measure_inventory_load(objects: int, inventory_format: str, workdir: Path, echo=print) -> LoadMeasurement:
    from bucketlens.synthetic import generate_inventory_snapshot

    source, home = workdir / "source", workdir / "home"
    echo(f"generating a {objects:,}-object {inventory_format} inventory for {BENCH_DAY} in {source} ...")
    started = time.perf_counter()
    generate_inventory_snapshot(source, BENCH_DAY, objects, seed=1, inventory_format=inventory_format)
    generate_seconds = time.perf_counter() - started
    source_bytes = sum(p.stat().st_size for p in (source / "inventory").rglob("*") if p.is_file())
    echo(
        f"generated in {generate_seconds:.1f}s ({source_bytes / 2**20:,.0f} MiB); loading in a child process ..."
    )
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "pipelines.bench", "--child", str(source), str(home), BENCH_DAY.isoformat()],
        stdout=subprocess.PIPE,
        text=True,
    )
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    load_seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"inventory load failed with exit code {child.returncode}")
    rows = json.loads(out.strip().splitlines()[-1])["rows"]
    return LoadMeasurement(
        objects=objects,
        inventory_format=inventory_format,
        rows_loaded=rows,
        source_bytes=source_bytes,
        generate_seconds=round(generate_seconds, 1),
        load_seconds=round(load_seconds, 1),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        rows_per_second=round(rows / load_seconds),
    )


def run_inventory_load(objects: int, inventory_format: str, workdir: str | None) -> int:
    with tempfile.TemporaryDirectory(prefix="bucketlens-bench-", dir=workdir) as tmp:
        m = measure_inventory_load(objects, inventory_format, Path(tmp))
    print(
        f"\ninventory-load  {m.objects:>12,} objects ({m.inventory_format})  loaded {m.rows_loaded:,} rows in "
        f"{m.load_seconds:.1f}s ({m.rows_per_second:,.0f} rows/s), peak RSS {m.peak_rss_mib:,.0f} MiB"
    )
    print(json.dumps({"inventory_load": asdict(m)}))
    return 0


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--child":
    _child_load(*sys.argv[2:])
