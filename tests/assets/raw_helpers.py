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


def materialize_range(
    home: Path, source: str | Path, users_db: str, days: list[date], assets, **env
) -> dg.ExecuteInProcessResult:
    """One run over ``days`` (a backfill window, as ``bucketlens run --start --end`` launches it)."""
    from assets.partitions import RANGE_END_TAG, RANGE_START_TAG

    with bucketlens_env(home, source, users_db, **env):
        defs = dg.Definitions(assets=assets, resources=build_resources(Settings.from_env()))
        job = defs.resolve_implicit_global_asset_job_def()
        tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
        return job.execute_in_process(tags=tags, raise_on_error=False)


# When a row was written, not what it says: a rewrite of the same rows changes only these.
VOLATILE_COLUMNS = {"loaded_at"}


def fingerprint(home: Path) -> dict[str, tuple[int, int]]:
    """Every warehouse table's row count and a content hash (order-free; doubles rounded to 1e-6, as
    DuckDB's parallel sums may differ in the last bit; ``loaded_at`` left out)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        columns: dict[str, list[str]] = {}
        for schema, table, column, data_type in con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall():
            if column in VOLATILE_COLUMNS:
                continue
            expr = f'round("{column}", 6)' if data_type in ("DOUBLE", "FLOAT") else f'"{column}"'
            columns.setdefault(f"{schema}.{table}", []).append(expr)
        out = {}
        for table, exprs in columns.items():
            count, digest = con.execute(
                f"SELECT count(*), coalesce(sum(hash({', '.join(exprs)})), 0) FROM {table}"
            ).fetchall()[0]
            out[table] = (int(count), int(digest))
        return out
    finally:
        con.close()


def total_rows(state: dict[str, tuple[int, int]]) -> int:
    return sum(count for count, _ in state.values())


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Failed step -> its dg.Failure description (None for an unexpected exception: a traceback)."""
    return {
        e.step_key: (
            e.step_failure_data.user_failure_data.description
            if e.step_failure_data.user_failure_data
            else None
        )
        for e in result.get_step_failure_events()
    }


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}
