"""The inventory partition's checks count what they claim, NULL version ids included (a bucket without
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
    assert count(checks.DUPLICATE_VERSIONS_SQL) == 3
    assert count(checks.NULL_KEYS_SQL) == 1
    assert count(checks.OWNERS_SQL) == 3  # users 1, 2 and 3; `_shared` is nobody
