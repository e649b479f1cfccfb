"""The raw partitions' checks count what they claim, NULL version ids included (a bucket without
versioning lists every key with version_id NULL: two such rows of one key are a duplicate)."""

import importlib
from datetime import date

import duckdb

from bucketlens.formats import inventory as fmt

checks = importlib.import_module("assets.raw.inventory_objects")
DAY = date(2026, 10, 1)


def test_duplicates_nulls_and_owners_are_counted_per_day():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(fmt.TABLE_DDL)
    rows = [
        ("b", "users/1/a", None, "1"), ("b", "users/1/a", None, "1"),  # unversioned key listed twice: 1
        ("b", "users/2/k", "v1", "2"), ("b", "users/2/k", "v2", "2"),  # two versions: not duplicates
        ("b", "users/2/k", "v1", "2"), ("b", "users/2/k", "v1", "2"),  # v1 three times: 2
        ("b", None, None, "3"), ("b", "shared/x", None, "_shared"),
    ]  # fmt: skip
    con.executemany(
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, version_id, user_id) VALUES (?, ?, ?, ?, ?)",
        [(DAY, *r) for r in rows] + [(date(2026, 10, 2), "b", "users/1/a", None, "1")] * 2,
    )
    count = lambda sql: con.execute(sql, [DAY]).fetchall()[0][0]  # noqa: E731
    assert count(checks.DUPLICATE_VERSIONS_SQL) == 3  # hashed first, then compared exactly
    assert count(checks.NULL_KEYS_SQL) == 1
    assert count(checks.OWNERS_SQL) == 3  # users 1, 2 and 3; `_shared` is nobody


def test_repeated_requests_are_counted_per_day_without_distinct():
    from bucketlens.formats import access_log

    requests = importlib.import_module("assets.raw.access_log_requests")
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(access_log.TABLE_DDL)
    rows = [
        ("R1", "REST.GET.OBJECT", "a"), ("R1", "REST.GET.OBJECT", "a"),  # delivered twice: 1
        ("R1", "REST.HEAD.OBJECT", "a"),  # another operation of the request: not a repeat
        ("R2", "REST.GET.BUCKET", None), ("R2", "REST.GET.BUCKET", None), ("R2", "REST.GET.BUCKET", None),  # 2
    ]  # fmt: skip
    con.executemany(
        "INSERT INTO raw.access_log_requests (usage_date, request_id, operation, key, user_id) VALUES (?, ?, ?, ?, 'u')",
        [(DAY, *r) for r in rows] + [(date(2026, 10, 2), "R1", "REST.GET.OBJECT", "a")] * 2,
    )
    assert con.execute(requests.DUPLICATE_REQUESTS_SQL, [DAY]).fetchall() == [(3,)]
