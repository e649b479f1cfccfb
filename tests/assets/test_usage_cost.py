"""Usage and cost layers on generated data: totals add up, the bill reconciles exactly, estimates are
replaced by actuals, nobody gets phantom cost, unknown charges are kept and reported, R2 works."""

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import dagster as dg
import duckdb
import pytest
from moto import mock_aws

from assets.cost import COST_ASSETS
from assets.cost.user_daily_cost import user_daily_cost
from assets.raw import RAW_ASSETS
from assets.raw.inventory_objects import inventory_objects
from assets.usage import USAGE_ASSETS
from assets.usage.user_daily_requests import user_daily_requests
from assets.usage.user_daily_storage import user_daily_storage
from tests.assets.raw_helpers import failure_messages, materialize_day, query

ALL = [*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS]
MICRO = Decimal("0.000001")


@pytest.fixture
def source_copy(tiny_source, tmp_path):
    root = tmp_path / "source"
    shutil.copytree(tiny_source.root, root)
    return root


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _users_db(root) -> str:
    return f"sqlite:///{root / 'users.sqlite'}"


def test_a_billed_day_reconciles_to_the_micro_dollar(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=6)
    result = materialize_day(tmp_path, tiny_source.root, tiny_source.users_db, day, assets=ALL)
    assert result.success, failure_messages(result)
    billed = query(
        tmp_path, "SELECT sum(unblended_cost) FROM raw.cost_line_items WHERE usage_start::DATE = ?", [day]
    )[0][0]
    allocated, estimates, users = query(
        tmp_path,
        "SELECT sum(amount_usd), count(*) FILTER (WHERE is_estimate), count(DISTINCT user_id) "
        "FROM cost.user_daily_cost WHERE usage_date = ?",
        [day],
    )[0]
    assert billed > 0 and allocated == billed and estimates == 0
    assert users > tiny_source.users // 2  # spread over users, not parked on _shared
    checks = _checks(result)
    assert checks["reconciles_to_the_bill"] and checks["plans_add_up_to_the_bill"]
    assert checks["bytes_match_inventory"] and checks["requests_match_logs"]
    # Usage totals equal their sources.
    inv = query(
        tmp_path,
        "SELECT sum(size) FROM raw.inventory_objects WHERE snapshot_date = ? AND NOT coalesce(is_delete_marker, false)",
        [day],
    )[0][0]
    assert (
        query(tmp_path, "SELECT sum(bytes) FROM usage.user_daily_storage WHERE usage_date = ?", [day])[0][0]
        == inv
    )
    logged = query(tmp_path, "SELECT count(*) FROM raw.access_log_requests WHERE usage_date = ?", [day])[0][0]
    assert (
        query(
            tmp_path, "SELECT sum(request_count) FROM usage.user_daily_requests WHERE usage_date = ?", [day]
        )[0][0]
        == logged
    )
    # The month-to-date margin table is in the metadata, and plans plus _shared add up to the bill.
    plans = query(tmp_path, "SELECT sum(cost_usd) FROM cost.plan_daily_margin WHERE usage_date = ?", [day])[
        0
    ][0]
    assert plans == billed
    margin = next(
        e
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey("plan_daily_margin")
    )
    assert "personal" in margin.materialization.metadata["month_to_date_margin"].value


def test_the_estimate_is_replaced_by_the_actual_when_the_export_arrives(tiny_source, source_copy, tmp_path):
    day = tiny_source.start + timedelta(days=5)
    hidden = tmp_path / "cur-not-yet"
    shutil.move(source_copy / "cur", hidden)
    first = materialize_day(tmp_path, source_copy, _users_db(source_copy), day, assets=ALL)
    assert first.success, failure_messages(first)
    estimated, flags = query(
        tmp_path,
        "SELECT sum(amount_usd), bool_and(is_estimate) FROM cost.user_daily_cost WHERE usage_date = ?",
        [day],
    )[0]
    assert estimated > 0 and flags is True
    assert _checks(first)["reconciles_to_the_bill"]  # the estimate reconciles to its own line items

    shutil.move(hidden, source_copy / "cur")
    second = materialize_day(tmp_path, source_copy, _users_db(source_copy), day, assets=ALL)
    assert second.success, failure_messages(second)
    billed = query(
        tmp_path, "SELECT sum(unblended_cost) FROM raw.cost_line_items WHERE usage_start::DATE = ?", [day]
    )[0][0]
    actual, any_estimate = query(
        tmp_path,
        "SELECT sum(amount_usd), bool_or(is_estimate) FROM cost.user_daily_cost WHERE usage_date = ?",
        [day],
    )[0]
    assert actual == billed and any_estimate is False
    assert actual != estimated  # list-price estimate vs the bill: different, and the bill wins


def test_a_user_without_activity_gets_no_cost(tiny_source, source_copy, tmp_path):
    day = tiny_source.start + timedelta(days=6)
    with sqlite3.connect(source_copy / "users.sqlite") as db:
        db.execute(
            "INSERT INTO users (user_id, plan, quota_bytes, created_at, status, email) VALUES (?, ?, ?, ?, ?, ?)",
            ["idle-user", "personal", 2 * 1024**4, "2026-01-01 00:00:00", "active", "idle@example.com"],
        )
    result = materialize_day(tmp_path, source_copy, _users_db(source_copy), day, assets=ALL)
    assert result.success, failure_messages(result)
    assert query(tmp_path, "SELECT count(*) FROM cost.user_daily_cost WHERE user_id = 'idle-user'")[0][0] == 0
    assert query(
        tmp_path,
        "SELECT stored_bytes, quota_use_pct FROM cost.user_quota_use WHERE user_id = 'idle-user' AND usage_date = ?",
        [day],
    ) == [(0, 0.0)]


def test_an_unknown_usage_type_goes_to_shared_and_is_reported(tiny_source, source_copy, tmp_path):
    day = tiny_source.start + timedelta(days=6)
    (data_file,) = [
        p for p in source_copy.glob("cur/*/data/BILLING_PERIOD=*/*/*.parquet") if _is_current(source_copy, p)
    ]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{data_file}')")
    con.execute(
        "INSERT INTO t SELECT * REPLACE ('Mystery-Feature-Units' AS line_item_usage_type, 1.234567 AS line_item_unblended_cost) "
        "FROM t WHERE line_item_usage_start_date::DATE = ? LIMIT 1",
        [day],
    )
    con.execute(f"COPY t TO '{data_file}' (FORMAT parquet)")
    con.close()
    result = materialize_day(tmp_path, source_copy, _users_db(source_copy), day, assets=ALL)
    assert result.success, failure_messages(result)
    checks = _checks(result)
    assert checks["no_unknown_usage_types"] is False and checks["reconciles_to_the_bill"] is True
    shared = query(
        tmp_path,
        "SELECT sum(amount_usd) FROM cost.user_daily_cost WHERE usage_date = ? AND user_id = '_shared' "
        "AND usage_type = 'Mystery-Feature-Units'",
        [day],
    )[0][0]
    assert shared == Decimal("1.234567")


def _is_current(root, path) -> bool:
    """The data file the export's manifest points at (the restated execution, not the superseded one)."""
    import json

    manifests = list(root.glob("cur/*/metadata/BILLING_PERIOD=*/*-Manifest.json"))
    return any(
        path.as_posix().endswith(uri.split("/cur/", 1)[1])
        for m in manifests
        for uri in json.loads(m.read_text())["dataFiles"]
    )


R2_OBJECTS = {  # key -> size in bytes
    "users/1001/photos/a.jpg": 3 * 2**20,
    "users/1001/photos/b.jpg": 5 * 2**20,
    "users/1002/photos/c.jpg": 2 * 2**20,
    "users/../escape.jpg": 2**20,
    "app/logo.png": 2**19,
}


def test_an_r2_bucket_is_listed_and_priced_with_r2_prices(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    day = datetime.now(UTC).date() - timedelta(days=1)
    users_db = tmp_path / "users.sqlite"
    with sqlite3.connect(users_db) as db:
        db.execute(
            "CREATE TABLE users (user_id TEXT, plan TEXT, quota_bytes INTEGER, created_at TEXT, status TEXT)"
        )
        db.executemany(
            "INSERT INTO users VALUES (?, 'personal', 2199023255552, '2026-01-01', 'active')",
            [("1001",), ("1002",)],
        )
    empty_source = tmp_path / "no-logs"
    empty_source.mkdir()
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="r2-photos")
        for key, size in R2_OBJECTS.items():
            s3.put_object(Bucket="r2-photos", Key=key, Body=b"x" * size)
        result = materialize_day(
            tmp_path / "home",
            empty_source,
            f"sqlite:///{users_db}",
            day,
            assets=[inventory_objects, user_daily_storage, user_daily_requests, user_daily_cost],
            BUCKETLENS_LIST_BUCKET="s3://r2-photos/",
            BUCKETLENS_PROVIDER="cloudflare_r2",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
        )
    assert result.success, failure_messages(result)
    home = tmp_path / "home"
    owners = dict(query(home, "SELECT user_id, sum(size) FROM raw.inventory_objects GROUP BY ALL"))
    assert owners == {"1001": 8 * 2**20, "1002": 2 * 2**20, "_shared": 2**20 + 2**19}
    costs = dict(
        query(
            home,
            "SELECT user_id, sum(amount_usd) FROM cost.user_daily_cost WHERE usage_date = ? GROUP BY ALL",
            [day],
        )
    )
    total = sum(costs.values())
    # R2 Standard: $0.015 per GB-month over a 30-day month; no egress, no requests here.
    expected_total = (Decimal(sum(R2_OBJECTS.values())) / 2**30 * Decimal("0.015") / 30).quantize(MICRO)
    assert abs(total - expected_total) <= MICRO
    assert query(home, "SELECT bool_and(is_estimate) FROM cost.user_daily_cost")[0][0] is True
    for user, size in owners.items():  # each share within a micro-dollar of its byte share
        assert abs(costs.get(user, Decimal(0)) - total * size / sum(owners.values())) <= MICRO


def test_a_listing_cannot_stand_for_an_old_day(tmp_path):
    from resources.inventory_source import BucketListing

    old = datetime.now(UTC).date() - timedelta(days=10)
    with pytest.raises(dg.Failure, match="cannot stand for"):
        BucketListing(url="s3://r2-photos/").prepare([old])
