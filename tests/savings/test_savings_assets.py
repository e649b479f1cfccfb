"""The savings assets on a generated source that spans a month end: a range run equals the same days run
one by one, the generator's labelled leaks are found, the checks pass, the weekly digest goes through the
outbox once, and leaks become info alerts."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import pytest
import yaml

from assets.alerts import ALERT_ASSETS
from assets.cost import COST_ASSETS
from assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from assets.raw import RAW_ASSETS
from assets.savings import SAVINGS_ASSETS
from assets.usage import USAGE_ASSETS
from assets.usage.service_daily_kpis import service_daily_kpis
from bucketlens.alerts.outbox import Outbox
from bucketlens.anomaly.rules import DEFAULT_RULES
from bucketlens.settings import Settings
from pipelines.runner import QUIET_CONSOLE
from resources import build_resources
from tests.conftest import bucketlens_env

START, DAYS, USERS = date(2026, 10, 26), 10, 40
WINDOW = [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]  # across the month end; 11-01 a Sunday
UPSTREAM = [*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS]
MINE = [*SAVINGS_ASSETS, service_daily_kpis]
TABLES = {
    "savings.storage_recommendations": "hash(t)",
    "savings.storage_leaks": "hash(t)",
    # a p95 of doubles may differ in the last bit with DuckDB's summation order: compare it rounded
    "usage.service_daily_kpis": "hash(usage_date, kpi, round(value, 9), numerator, denominator, display)",
}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    from synthetic import generate

    root = tmp_path_factory.mktemp("savings-source")
    summary = generate(root, START, DAYS, USERS, seed=5)
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    rules["routing"]["max_alert_age"] = "3650d"  # the generated weeks are "recent": the digest is posted
    (root / "rules.yaml").write_text(yaml.safe_dump(rules))
    return root, summary


def _env(home, root):
    return bucketlens_env(
        home, root, f"sqlite:///{root / 'users.sqlite'}", BUCKETLENS_RULES=str(root / "rules.yaml")
    )


def _run(home, root, assets, days, as_range=True):
    with _env(home, root):
        defs = dg.Definitions(assets=assets, resources=build_resources(Settings.from_env()))
        job = defs.resolve_implicit_global_asset_job_def()
        if as_range:
            tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
            runs = [job.execute_in_process(tags=tags, run_config=QUIET_CONSOLE, raise_on_error=False)]
        else:
            runs = [
                job.execute_in_process(
                    partition_key=d.isoformat(), run_config=QUIET_CONSOLE, raise_on_error=False
                )
                for d in days
            ]
    assert all(r.success for r in runs)
    return runs


@pytest.fixture(scope="module")
def upstream(source, tmp_path_factory):
    """Raw, usage and cost for every day of the source, once; each test copies the warehouse."""
    root, _ = source
    home = tmp_path_factory.mktemp("savings-upstream")
    _run(home, root, UPSTREAM, [START + timedelta(days=i) for i in range(DAYS)])
    return home


def _home(upstream, tmp_path, name):
    home = tmp_path / name
    home.mkdir()
    shutil.copy(upstream / "warehouse.duckdb", home / "warehouse.duckdb")
    return home


def _query(home, sql, params=()):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_a_range_run_equals_the_days_run_one_by_one(source, upstream, tmp_path):
    root, _ = source
    daily, ranged = _home(upstream, tmp_path, "daily"), _home(upstream, tmp_path, "range")
    _run(daily, root, MINE, WINDOW, as_range=False)
    (run,) = _run(ranged, root, MINE, WINDOW, as_range=True)
    for table, row_hash in TABLES.items():
        sql = f"SELECT usage_date, count(*), sum({row_hash}) FROM {table} t GROUP BY ALL ORDER BY usage_date"
        assert _query(ranged, sql) == _query(daily, sql), table
        assert [r[0] for r in _query(daily, sql)] == WINDOW, table
    failed = [
        (e.asset_key.to_user_string(), e.check_name)
        for e in run.get_asset_check_evaluations()
        if not e.passed
    ]
    # the leak flags are warnings that say what was found; every other check passes
    assert {name for _, name in failed} <= {
        "no_orphaned_data",
        "no_old_delete_markers",
        "no_old_noncurrent_versions",
    }


def test_the_labelled_leaks_are_found(source, upstream, tmp_path):
    root, summary = source
    home = _home(upstream, tmp_path, "leaks")
    last = START + timedelta(days=DAYS - 1)
    _run(home, root, MINE, [last])
    labels = [json.loads(x) for x in summary.labels_path.read_text().splitlines()]
    by_pattern = {p: {lab["user_id"] for lab in labels if lab["pattern"] == p} for p in
                  ("orphaned_data", "noncurrent_versions", "incomplete_multipart_uploads")}  # fmt: skip
    found = {
        p: {u: s for u, s in _query(home, "SELECT user_id, user_status FROM savings.storage_leaks "
                                          "WHERE usage_date = ? AND leak_type = ?", [last, p])}
        for p in by_pattern
    }  # fmt: skip
    absent = {u for u, s in found["orphaned_data"].items() if s == "absent from the users database"}
    assert absent == by_pattern["orphaned_data"] and absent
    # nobody else's noncurrent versions outlive the bucket's 30-day rule
    assert set(found["noncurrent_versions"]) - {"_shared"} <= by_pattern["noncurrent_versions"]
    # initiated on day 1 (visible from day 8), day 3 and day 5: only the first is 7 days old on day 9
    first = min(
        (lab for lab in labels if lab["pattern"] == "incomplete_multipart_uploads"), key=lambda x: x["date"]
    )
    assert set(found["incomplete_multipart_uploads"]) == {first["user_id"]}
    ((objects, size, keys),) = _query(
        home, "SELECT objects, bytes, keys FROM savings.storage_leaks WHERE usage_date = ? AND user_id = ? "
        "AND leak_type = 'incomplete_multipart_uploads'", [last, first["user_id"]],
    )  # fmt: skip
    assert (objects, size) == (1, first["details"]["bytes"])
    assert json.loads(keys)[0]["id"] == first["details"]["upload_id"]


def test_the_sunday_digest_goes_through_the_outbox_once(source, upstream, tmp_path):
    root, _ = source
    home = _home(upstream, tmp_path, "digest")
    for _ in range(2):  # a rerun plans the same post, which the outbox refuses
        (run,) = _run(home, root, MINE, WINDOW)
    event = next(
        e.materialization for e in run.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "weekly_savings_digest"
    )  # fmt: skip
    assert [p["identity"] for p in event.metadata["slack_posts_due"].value] == [
        "weekly_savings_digest:2026-11-01"
    ]
    box = Outbox(f"sqlite:///{home / 'outbox.sqlite'}")
    try:
        (row,) = box.due(datetime.now(UTC) + timedelta(minutes=1))
    finally:
        box.dispose()
    post = row.notification
    assert (post.identity, post.kind, post.channel) == (
        "weekly_savings_digest:2026-11-01",
        "report",
        "#storage-info",
    )
    assert post.text.startswith("Storage savings as of 2026-11-01: $") and "Leaks to clean up" in post.text


def test_leaks_become_info_alerts(source, upstream, tmp_path):
    root, summary = source
    home = _home(upstream, tmp_path, "alerts")
    last = START + timedelta(days=DAYS - 1)
    _run(home, root, [*MINE, *ALERT_ASSETS], [last])
    firing = _query(home, "SELECT rule, subject, severity FROM alerts.alert_events WHERE usage_date = ? "
                          "AND state = 'firing' AND rule IN ('orphaned_data', 'incomplete_multipart_uploads')", [last])  # fmt: skip
    labels = [json.loads(x) for x in summary.labels_path.read_text().splitlines()]
    absent = {lab["user_id"] for lab in labels if lab["pattern"] == "orphaned_data"}
    assert {("orphaned_data", f"user {u}", "info") for u in absent} <= set(firing)
    assert any(rule == "incomplete_multipart_uploads" and sev == "info" for rule, _, sev in firing)
