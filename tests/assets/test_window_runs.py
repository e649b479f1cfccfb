"""A backfill window is one run (BackfillPolicy.single_run) and must equal the same days run one by one."""

from datetime import timedelta

import dagster as dg

from assets.cost import COST_ASSETS
from assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from assets.raw import RAW_ASSETS
from assets.usage import USAGE_ASSETS
from bucketlens.settings import Settings
from resources import build_resources
from tests.assets.raw_helpers import query
from tests.conftest import bucketlens_env

ALL_ASSETS = [*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS]
TABLES = {
    "raw.inventory_objects": "snapshot_date",
    "raw.access_log_requests": "usage_date",
    "raw.cloudwatch_metrics": "usage_date",
    "raw.users": "snapshot_date",
    "usage.user_daily_storage": "usage_date",
    "usage.user_daily_requests": "usage_date",
    "usage.service_daily_metrics": "usage_date",
    "cost.user_daily_cost": "usage_date",
    "cost.plan_daily_margin": "usage_date",
    "cost.user_quota_use": "usage_date",
}


def _run(home, tiny, days, as_range: bool):
    with bucketlens_env(home, tiny.root, tiny.users_db):
        defs = dg.Definitions(assets=ALL_ASSETS, resources=build_resources(Settings.from_env()))
        job = defs.resolve_implicit_global_asset_job_def()
        if as_range:
            tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
            assert job.execute_in_process(tags=tags).success
        else:
            for day in days:
                assert job.execute_in_process(partition_key=day.isoformat()).success


# Averages of doubles may differ in the last bit with DuckDB's summation order: compare them rounded.
ROW_HASH = {
    "usage.service_daily_metrics": "hash(bucket, total_bytes, object_count, active_users, request_count, "
    "round(error_rate, 9), round(availability, 9), round(avg_latency_ms, 6), peak_hour_requests)",
}


def _fingerprint(home, days):
    """Row count and a content hash per table and day."""
    out = {}
    for table, column in TABLES.items():
        row_hash = ROW_HASH.get(table, "hash(t)")
        for day in days:
            out[(table, day)] = query(
                home, f"SELECT count(*), sum({row_hash}) FROM {table} t WHERE {column} = ?", [day]
            )[0]
    out["raw.cost_line_items"] = query(home, "SELECT count(*), sum(unblended_cost) FROM raw.cost_line_items")[
        0
    ]
    return out


def test_a_three_day_range_run_equals_three_daily_runs_across_a_month_boundary(tiny_source, tmp_path):
    # Days 7..9 of the tiny set, and the first CUR period; the 10-day set starts 2026-10-01, so use the
    # last three days, which also include the day without a cost export (estimated).
    days = [tiny_source.start + timedelta(days=i) for i in (7, 8, 9)]
    _run(tmp_path / "daily", tiny_source, days, as_range=False)
    _run(tmp_path / "range", tiny_source, days, as_range=True)
    daily, ranged = _fingerprint(tmp_path / "daily", days), _fingerprint(tmp_path / "range", days)
    assert ranged == daily
    assert all(n > 0 for (n, _) in daily.values())


def test_rerunning_a_range_replaces_it(tiny_source, tmp_path):
    days = [tiny_source.start + timedelta(days=i) for i in (4, 5)]
    _run(tmp_path, tiny_source, days, as_range=True)
    first = _fingerprint(tmp_path, days)
    _run(tmp_path, tiny_source, days, as_range=True)
    assert _fingerprint(tmp_path, days) == first
