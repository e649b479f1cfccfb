"""Helpers for raw-asset tests: build resources for a test home and read the warehouse back."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from assets.raw import RAW_ASSETS
from bucketlens.settings import Settings
from resources import build_resources
from tests.conftest import bucketlens_env


def materialize_day(
    home: Path, source: str | Path, users_db: str, day: date, assets=None, **env
) -> dg.ExecuteInProcessResult:
    with bucketlens_env(home, source, users_db, **env):
        resources = build_resources(Settings.from_env())
        return dg.materialize(
            assets or RAW_ASSETS, partition_key=day.isoformat(), resources=resources, raise_on_error=False
        )


def query(home: Path, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def inventory_manifest(root: Path, day: date) -> tuple[Path, dict]:
    (path,) = sorted(root.glob(f"inventory/*/*/{day.isoformat()}T*Z/manifest.json"))
    return path, json.loads(path.read_text())


def inventory_csv_rows(root: Path, day: date) -> list[list[str]]:
    """Rows of the day's CSV inventory read with Python's csv module: an independent count."""
    _, manifest = inventory_manifest(root, day)
    rows = []
    for f in manifest["files"]:
        with gzip.open(root / f["key"], "rt", newline="") as fh:
            rows.extend(csv.reader(fh))
    return rows


def failure_messages(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None:
            messages.append(error.message)
            error = error.cause
    return "\n".join(messages)
