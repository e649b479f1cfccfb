"""The raw partitions' checks count what they claim, NULL version ids included (a bucket without
versioning lists every key with version_id NULL: two such rows of one key are a duplicate)."""

import importlib
from datetime import date

import duckdb

from bucketlens.formats import inventory as fmt
from bucketlens.schema import QUARANTINE_DDL
from tests.rows import insert_rows

checks = importlib.import_module("assets.raw.inventory_objects")
DAY = date(2026, 10, 1)


def test_duplicates_nulls_and_owners_are_counted_per_day():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(fmt.TABLE_DDL)
    con.execute(QUARANTINE_DDL)
    rows = [
        ("b", "users/1/a", None, "1"), ("b", "users/1/a", None, "1"),  # unversioned key listed twice: 1
        ("b", "users/2/k", "v1", "2"), ("b", "users/2/k", "v2", "2"),  # two versions: not duplicates
        ("b", "users/2/k", "v1", "2"), ("b", "users/2/k", "v1", "2"),  # v1 three times: 2
        ("b", None, None, "3"), ("b", "shared/x", None, "_shared"),
    ]  # fmt: skip
    insert_rows(
        con,
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, version_id, user_id) VALUES (?, ?, ?, ?, ?)",
        [(DAY, *r) for r in rows] + [(date(2026, 10, 2), "b", "users/1/a", None, "1")] * 2,
    )
    figures = checks.window_figures(con, [DAY, date(2026, 10, 2)])  # the whole window, grouped by day
    assert figures[DAY]["duplicates"] == 3  # hashed first, then compared exactly
    assert figures[DAY]["null_keys"] == 1
    assert figures[DAY]["owners"] == 3  # users 1, 2 and 3; `_shared` is nobody
    assert figures[date(2026, 10, 2)] == {"rows": 2, "bytes": 0, "null_keys": 0, "delete_markers": 0,
                                         "noncurrent_versions": 0, "owners": 1, "duplicates": 1}  # fmt: skip


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
    insert_rows(
        con,
        "INSERT INTO raw.access_log_requests (usage_date, request_id, operation, key, user_id) VALUES (?, ?, ?, ?, 'u')",
        [(DAY, *r) for r in rows] + [(date(2026, 10, 2), "R1", "REST.GET.OBJECT", "a")] * 2,
    )
    window = {"start": DAY, "end": date(2026, 10, 2)}
    assert sorted(con.execute(requests.DUPLICATE_REQUESTS_SQL, window).fetchall()) == [
        (DAY, 3),
        (date(2026, 10, 2), 1),  # each day counted on its own
    ]
