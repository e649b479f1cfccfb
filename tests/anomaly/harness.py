"""Generated data → the project's real raw/usage/cost assets → a warehouse the detectors can read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from tests.conftest import bucketlens_env

START = date(2026, 10, 1)


@dataclass(frozen=True)
class Warehouse:
    path: Path
    labels: Path
    days: list[date]


def build_warehouse(root: Path, users: int, days: int, seed: int, anomalies: bool = True) -> Warehouse:
    from assets.cost import COST_ASSETS
    from assets.raw import RAW_ASSETS
    from assets.usage import USAGE_ASSETS
    from bucketlens.settings import Settings
    from bucketlens.synthetic import generate
    from pipelines.runner import RANGE_END_TAG, RANGE_START_TAG
    from resources import build_resources

    source, home = root / "source", root / "home"
    generate(source, START, days, users, seed=seed, anomalies=anomalies)
    day_list = [START + timedelta(days=i) for i in range(days)]
    with bucketlens_env(home, source, f"sqlite:///{source / 'users.sqlite'}"):
        defs = dg.Definitions(
            assets=[*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS], resources=build_resources(Settings.from_env())
        )
        tags = {RANGE_START_TAG: day_list[0].isoformat(), RANGE_END_TAG: day_list[-1].isoformat()}
        assert defs.resolve_implicit_global_asset_job_def().execute_in_process(tags=tags).success
    return Warehouse(home / "warehouse.duckdb", source / "labels.jsonl", day_list)


def connect(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(warehouse.path))
    con.execute("SET enable_progress_bar = false")
    return con
