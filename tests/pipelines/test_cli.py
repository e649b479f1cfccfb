"""The installed `bucketlens` command end to end on a tiny generated set."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

BIN = Path(sys.executable).parent / "bucketlens"


def bucketlens(*args: str, home: Path, **env_vars: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETLENS_") and k != "DAGSTER_HOME"}
    env["BUCKETLENS_HOME"] = str(home)
    env.update(env_vars)
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=600)


def test_generate_then_run_prints_a_line_per_day_and_loads_the_warehouse(tmp_path):
    out, home = tmp_path / "src", tmp_path / "home"
    gen = bucketlens(
        "generate",
        "--out",
        str(out),
        "--start",
        "2026-09-20",
        "--days",
        "9",
        "--users",
        "40",
        "--seed",
        "3",
        home=home,
    )
    assert gen.returncode == 0, gen.stderr
    assert "Generated 9 days (2026-09-20 .. 2026-09-28) for 40 users" in gen.stdout
    assert (out / "labels.jsonl").exists() and (out / "users.sqlite").exists()

    run = bucketlens("run", "--source", str(out), "--start", "2026-09-20", "--end", "2026-09-28", home=home)
    assert run.returncode == 0, run.stdout + run.stderr
    progress = [line for line in run.stdout.splitlines() if re.match(r"\[\s*\d+/9\] 2026-09-2\d ok", line)]
    assert len(progress) == 9, run.stdout
    assert "9 of 9 day(s) succeeded in 1 run(s)" in run.stdout
    # the 9-day backfill is a single Dagster run (single-run backfill policy), as a UI backfill is
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    assert instance.get_runs_count() == 1
    (record,) = instance.get_run_records()
    assert record.dagster_run.tags["dagster/asset_partition_range_end"] == "2026-09-28"

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    per_day = con.execute(
        "SELECT snapshot_date::VARCHAR, count(*) FROM raw.inventory_objects GROUP BY 1 ORDER BY 1"
    ).fetchall()
    con.close()
    assert [d for d, _ in per_day] == [f"2026-09-{d}" for d in range(20, 29)] and all(
        n > 0 for _, n in per_day
    )
    assert (home / "dagster" / "dagster.yaml").exists()  # the UI will read the same instance


def test_bad_arguments_get_a_clear_message(tmp_path):
    bad_date = bucketlens("run", "--start", "2026-02-30", home=tmp_path)
    assert bad_date.returncode == 2 and "'2026-02-30' is not a date" in bad_date.stderr
    reversed_range = bucketlens(
        "run", "--source", str(tmp_path), "--start", "2026-10-02", "--end", "2026-10-01", home=tmp_path
    )
    assert reversed_range.returncode == 2 and "before --start" in reversed_range.stderr


def test_demo_with_json_logs_prints_json_lines_only(tmp_path):
    """``BUCKETLENS_LOG_FORMAT=json``: every line of the demo's output, generation and Dagster runs
    included, is one JSON object; the progress is events (a generated day, a materialized day) and the
    closing summary is the ``demo_finished`` event's message."""
    demo = bucketlens(
        "demo", "--users", "20", "--days", "2", "--end", "2026-09-21", "--seed", "3",
        home=tmp_path, BUCKETLENS_LOG_FORMAT="json",
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr
    records = [json.loads(line) for line in demo.stdout.splitlines()]  # raises on any other line
    events = [r["event"] for r in records if r["logger"] == "bucketlens.cli"]
    assert events == [
        "generate_started", "generate_day", "generate_day", "generate_finished",
        "demo_runs_started", "day_done", "day_done", "demo_finished",
    ]  # fmt: skip
    assert [r["day"] for r in records if r["event"] == "day_done"] == ["2026-09-20", "2026-09-21"]
    finished = records[-1]
    assert (finished["event"], finished["days"], finished["failed"]) == ("demo_finished", 2, 0)
    assert "bucketlens demo finished in" in finished["message"] and "2/2 days loaded" in finished["message"]
