"""The raw layer on generated data: values, idempotent reruns, bad input, restatements, S3."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from tests.assets.raw_helpers import (
    failure_messages,
    inventory_csv_rows,
    inventory_manifest,
    materialize_day,
    query,
)

ROW_COUNTS = {
    "inventory_objects": "SELECT count(*) FROM raw.inventory_objects WHERE snapshot_date = ?",
    "access_log_requests": "SELECT count(*) FROM raw.access_log_requests WHERE usage_date = ?",
    "cloudwatch_metrics": "SELECT count(*) FROM raw.cloudwatch_metrics WHERE usage_date = ?",
    "users": "SELECT count(*) FROM raw.users WHERE snapshot_date = ?",
}


def counts(home, day):
    return {name: query(home, sql, [day])[0][0] for name, sql in ROW_COUNTS.items()}


def inventory_rows(home, day) -> int:
    return query(home, ROW_COUNTS["inventory_objects"], [day])[0][0]


@pytest.fixture
def source_copy(tiny_source, tmp_path):
    """A private copy of the tiny source that a test may corrupt."""
    root = tmp_path / "source"
    shutil.copytree(tiny_source.root, root)
    return root


def test_one_day_loads_every_source_with_the_files_values(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=8)
    result = materialize_day(tmp_path, tiny_source.root, tiny_source.users_db, day)
    assert result.success, failure_messages(result)

    csv_rows = inventory_csv_rows(tiny_source.root, day)
    assert counts(tmp_path, day)["inventory_objects"] == len(csv_rows)
    sizes = sum(int(r[5]) for r in csv_rows if r[5])
    assert (
        query(tmp_path, "SELECT sum(size) FROM raw.inventory_objects WHERE snapshot_date = ?", [day])[0][0]
        == sizes
    )

    # Every loaded request happened on the day (late deliveries were found in the next day's objects).
    (first, last, n) = query(
        tmp_path,
        "SELECT min(request_time), max(request_time), count(*) FROM raw.access_log_requests WHERE usage_date = ?",
        [day],
    )[0]
    assert first.date() == day and last.date() == day and n > 100
    # Users are those signed up by the end of the day, read through the configured query.
    import sqlite3

    with sqlite3.connect(tiny_source.root / "users.sqlite") as db:
        expected_users = db.execute(
            "SELECT count(*) FROM users WHERE created_at < ?", [str(day + timedelta(days=1))]
        ).fetchone()[0]
    assert counts(tmp_path, day)["users"] == expected_users
    # CloudWatch storage equals the bytes of the inventory, as S3 reports both from the same state.
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["manifests_verified"] and checks["keys_not_null"] and checks["unique_versions"]
    assert checks["storage_metrics_present"] and checks["user_ids_unique"]


def test_rerunning_a_day_replaces_it_without_duplicates(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=5)
    first = materialize_day(tmp_path, tiny_source.root, tiny_source.users_db, day)
    before = counts(tmp_path, day)
    cost_before = query(tmp_path, "SELECT count(*), sum(unblended_cost) FROM raw.cost_line_items")[0]
    second = materialize_day(tmp_path, tiny_source.root, tiny_source.users_db, day)
    assert first.success and second.success
    assert counts(tmp_path, day) == before
    assert query(tmp_path, "SELECT count(*), sum(unblended_cost) FROM raw.cost_line_items")[0] == cost_before
    assert all(v > 0 for v in before.values()), before


def test_checksum_mismatch_fails_naming_the_file_and_keeps_the_loaded_rows(
    tiny_source, source_copy, tmp_path
):
    day = tiny_source.start + timedelta(days=3)
    from assets.raw import inventory_objects

    ok = materialize_day(tmp_path, source_copy, tiny_source.users_db, day, assets=[inventory_objects])
    assert ok.success
    loaded = inventory_rows(tmp_path, day)

    _, manifest = inventory_manifest(source_copy, day)
    data_key = manifest["files"][0]["key"]
    data = bytearray((source_copy / data_key).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content: only the MD5 can tell
    (source_copy / data_key).write_bytes(bytes(data))

    bad = materialize_day(tmp_path, source_copy, tiny_source.users_db, day, assets=[inventory_objects])
    assert not bad.success
    message = failure_messages(bad)
    assert data_key in message and "MD5" in message.upper()
    assert inventory_rows(tmp_path, day) == loaded  # nothing lost, nothing doubled


def test_corrupt_manifest_checksum_fails(tiny_source, source_copy, tmp_path):
    day = tiny_source.start + timedelta(days=2)
    manifest_path, _ = inventory_manifest(source_copy, day)
    manifest_path.with_name("manifest.checksum").write_text("0" * 32)
    from assets.raw import inventory_objects

    bad = materialize_day(tmp_path, source_copy, tiny_source.users_db, day, assets=[inventory_objects])
    assert not bad.success
    assert "manifest.json" in failure_messages(bad)
    # Verification happens before the warehouse is opened: nothing of the partition exists anywhere.
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_malformed_log_lines_are_quarantined_with_file_and_line(tiny_source, source_copy, tmp_path):
    day = tiny_source.start + timedelta(days=4)
    logs = sorted(p for p in (source_copy / "access-logs").rglob(f"{day.isoformat()}-1*") if p.is_file())
    target = logs[0]
    lines = target.read_text().splitlines(keepends=True)
    lines.insert(1, 'this is not an access log line "with an open quote\n')
    target.write_text("".join(lines))
    from assets.raw import access_log_requests

    result = materialize_day(tmp_path, source_copy, tiny_source.users_db, day, assets=[access_log_requests])
    assert result.success, failure_messages(result)
    rows = query(
        tmp_path,
        "SELECT file, line_number, raw_text FROM raw.quarantine WHERE source = 'access_log_requests' AND raw_text LIKE 'this is not%'",
    )
    assert rows == [
        (target.relative_to(source_copy).as_posix(), 2, 'this is not an access log line "with an open quote')
    ]
    (mat,) = result.get_asset_materialization_events()
    assert mat.materialization.metadata["quarantined_lines"].value >= 1


def _restate(root, period: str, factor: Decimal) -> str:
    """Write a new execution of the export with every cost scaled, and point the manifest at it."""
    import duckdb

    (manifest_path,) = root.glob(f"cur/*/metadata/BILLING_PERIOD={period}/*-Manifest.json")
    manifest = json.loads(manifest_path.read_text())
    old_key = manifest["dataFiles"][0].split("/cur/", 1)[1]
    old = root / "cur" / old_key
    new_id = "restated-by-test"
    new = old.parent.parent / new_id / old.name
    new.parent.mkdir(parents=True)
    duckdb.sql(
        f"COPY (SELECT * REPLACE (line_item_unblended_cost * {factor} AS line_item_unblended_cost) "
        f"FROM read_parquet('{old}')) TO '{new}' (FORMAT parquet)"
    )
    manifest["executionId"] = new_id
    manifest["dataFiles"] = [f"s3://bucket/cur/{new.relative_to(root / 'cur').as_posix()}"]
    manifest_path.write_text(json.dumps(manifest))
    return new_id


def test_cost_restatement_replaces_the_whole_billing_period(tiny_source, source_copy, tmp_path):
    from assets.raw import cost_line_items

    day = tiny_source.start + timedelta(days=2)
    period = day.strftime("%Y-%m")
    assert materialize_day(tmp_path, source_copy, tiny_source.users_db, day, assets=[cost_line_items]).success
    n_before, total_before = query(
        tmp_path,
        "SELECT count(*), sum(unblended_cost) FROM raw.cost_line_items WHERE billing_period = ?",
        [period],
    )[0]
    assert n_before > 0

    new_id = _restate(source_copy, period, Decimal(2))
    other_day = day + timedelta(days=1)  # any day of the period picks up the restatement
    assert materialize_day(
        tmp_path, source_copy, tiny_source.users_db, other_day, assets=[cost_line_items]
    ).success
    n_after, total_after = query(
        tmp_path,
        "SELECT count(*), sum(unblended_cost) FROM raw.cost_line_items WHERE billing_period = ?",
        [period],
    )[0]
    assert n_after == n_before  # replaced, not appended
    assert abs(total_after - 2 * total_before) <= Decimal("0.000001") * n_before
    assert query(
        tmp_path, "SELECT DISTINCT execution_id FROM raw.cost_line_items WHERE billing_period = ?", [period]
    ) == [(new_id,)]
    assert query(
        tmp_path, "SELECT execution_id FROM raw.cost_exports WHERE billing_period = ?", [period]
    ) == [(new_id,)]


def test_an_s3_source_loads_the_same_rows_as_the_directory(tiny_source, tmp_path, monkeypatch):
    day = tiny_source.start + timedelta(days=8)
    local_home, s3_home = tmp_path / "local", tmp_path / "s3"
    assert materialize_day(local_home, tiny_source.root, tiny_source.users_db, day).success
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="photos-exports")
        # every file of the 10 days (~3,100); put_object is one call, upload_file's transfer manager ~2x that
        for path in tiny_source.root.rglob("*"):
            if path.is_file() and path.name != "users.sqlite":
                key = "prod/" + path.relative_to(tiny_source.root).as_posix()
                s3.put_object(Bucket="photos-exports", Key=key, Body=path.read_bytes())
        result = materialize_day(
            s3_home,
            "s3://photos-exports/prod",
            tiny_source.users_db,
            day,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
    assert result.success, failure_messages(result)
    assert counts(s3_home, day) == counts(local_home, day)
    digest = (
        "SELECT sum(hash(key, version_id, size, user_id)) FROM raw.inventory_objects WHERE snapshot_date = ?"
    )
    assert query(s3_home, digest, [day]) == query(local_home, digest, [day])


def test_objects_outside_the_key_pattern_are_shared(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=6)
    from assets.raw import inventory_objects

    assert materialize_day(
        tmp_path, tiny_source.root, tiny_source.users_db, day, assets=[inventory_objects]
    ).success
    rows = query(
        tmp_path,
        "SELECT count(*) FILTER (WHERE user_id = '_shared' AND starts_with(key, 'users/')), "
        "count(*) FILTER (WHERE user_id <> '_shared' AND NOT starts_with(key, 'users/' || user_id || '/')), "
        "count(*) FILTER (WHERE user_id = '_shared') FROM raw.inventory_objects WHERE snapshot_date = ?",
        [day],
    )[0]
    assert rows[0] == 0 and rows[1] == 0  # every users/<id>/ key is its user's, nothing else is
    assert rows[2] > 0  # app/ and tmp/ objects exist and are _shared


def test_day_without_inventory_fails_clearly(tiny_source, tmp_path):
    from assets.raw import inventory_objects

    day = tiny_source.start + timedelta(days=tiny_source.days + 3)
    result = materialize_day(
        tmp_path, tiny_source.root, tiny_source.users_db, day, assets=[inventory_objects]
    )
    assert not result.success
    assert f"No S3 Inventory manifest for {day}" in failure_messages(result)
