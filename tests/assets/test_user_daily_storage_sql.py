"""usage.user_daily_storage's SQL ranks only the copies whose content hash is repeated (issue 16): its rows
must be exactly those of the query that ranked every current copy, kept here frozen as the reference.

Why these cases: a copy's duplicate status changes when its group changes — a copy deleted, an object
overwritten (the old version becomes noncurrent), a delete marker put or removed (the version behind it
is current again with its old last_modified), a storage-class transition of the oldest copy — and the
query must be the same over a window as day by day, on a first day and when an old day is rerun. The
crafted days below hold each of those events, with the expected duplicate bytes worked out by hand; the
tiny generated month and (opt-in, ``-m slow``) a 1 M-object benchmark inventory with copies added are
compared with the frozen query row for row.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from assets.raw.inventory_objects import inventory_objects
from assets.usage.user_daily_storage import TABLE_DDL, load_window
from bucketlens.formats.inventory import TABLE_DDL as INVENTORY_DDL
from bucketlens.settings import Settings
from bucketlens.usage import USER_DAILY_STORAGE_SQL
from resources import build_resources
from resources.warehouse import Warehouse
from tests.conftest import bucketlens_env
from tests.rows import insert_rows

# The query before issue 16, verbatim: every current copy ranked by (day, user, ETag, size).
FROZEN_SQL = """
WITH versions AS (
    SELECT snapshot_date AS usage_date, user_id, coalesce(storage_class, 'STANDARD') AS storage_class,
           coalesce(size, 0) AS size, e_tag, coalesce(is_latest, true) AS is_latest, last_modified
    FROM raw.inventory_objects
    WHERE snapshot_date BETWEEN $start AND $end AND NOT coalesce(is_delete_marker, false)
),
copies AS (
    SELECT usage_date, user_id, storage_class, size,
           row_number() OVER (PARTITION BY usage_date, user_id, e_tag, size
                              ORDER BY last_modified, storage_class) AS copy_no
    FROM versions
    WHERE is_latest AND e_tag IS NOT NULL AND size > 0
),
duplicates AS (
    SELECT usage_date, user_id, storage_class, sum(size) AS duplicate_bytes
    FROM copies WHERE copy_no > 1 GROUP BY ALL
),
per_class AS (
    SELECT usage_date, user_id, storage_class,
           count(*) AS object_count,
           sum(size) AS bytes,
           sum(size)::HUGEINT * 24 AS byte_hours,
           coalesce(sum(size) FILTER (WHERE last_modified >= usage_date::TIMESTAMP - INTERVAL 1 DAY), 0) AS bytes_added,
           coalesce(sum(size) FILTER (WHERE NOT is_latest), 0) AS noncurrent_bytes,
           count(*) FILTER (WHERE size < 131072) AS small_object_count
    FROM versions GROUP BY ALL
)
SELECT p.usage_date, p.user_id, p.storage_class, p.object_count, p.bytes::BIGINT AS bytes,
       p.byte_hours, p.bytes_added::BIGINT AS bytes_added,
       coalesce(d.duplicate_bytes, 0)::BIGINT AS duplicate_bytes, p.noncurrent_bytes::BIGINT AS noncurrent_bytes,
       p.small_object_count
FROM per_class p LEFT JOIN duplicates d USING (usage_date, user_id, storage_class)
"""
COLUMNS = (
    "usage_date, user_id, storage_class, object_count, bytes, byte_hours, bytes_added, duplicate_bytes, "
    "noncurrent_bytes, small_object_count"
)

D1, D2, D3, D4 = (date(2026, 10, 1) + timedelta(days=i) for i in range(4))
A, B, C, D = ('"aaa"', 1000), ('"bbb"', 500), ('"ccc"', 300), ('"ddd"', 100)  # (ETag, size) of a content


def _version(day, user, key, content, modified, cls="STANDARD", latest=True, version="v1", marker=False):
    e_tag, size = content if content else (None, None)
    return (day, "photos", f"users/{user}/{key}", version, latest, marker, size, modified, cls, e_tag, user,
            False, None, f"manifest-{day}")  # fmt: skip


def _crafted_inventory() -> list[tuple]:
    """Four days of two versioned users plus a third arriving on day 4 (see the expected values)."""
    jan, feb, mar = datetime(2026, 1, 1), datetime(2026, 2, 1), datetime(2026, 3, 1)
    overwrite = datetime(2026, 10, 1, 10)  # after the start of D1: bytes added on D2
    rows = []
    for day in (D1, D2, D3, D4):
        alice = [
            # content A: k1 (oldest), k2, k3 — k1 deleted on D2, k2 and k3 change class on D3, k2 deleted on D4
            *([_version(day, "alice", "k1", A, jan)] if day == D1 else []),
            *(
                [_version(day, "alice", "k2", A, feb, "GLACIER" if day == D3 else "STANDARD")]
                if day != D4
                else []
            ),
            _version(day, "alice", "k3", A, mar, {D1: "GLACIER", D2: "GLACIER"}.get(day, "DEEP_ARCHIVE")),
            # k4 holds the same ETag with another size on D1, is overwritten with content A on D2
            _version(day, "alice", "k4", ('"aaa"', 999), jan, latest=day == D1),
            *([_version(day, "alice", "k4", A, overwrite, version="v2")] if day != D1 else []),
            # content B twice with the same last_modified, one without a class (STANDARD); k5 deleted on D4
            *([_version(day, "alice", "k5", B, jan, cls=None)] if day != D4 else []),
            _version(day, "alice", "k6", B, jan),
            # no ETag, or empty: never duplicates
            _version(day, "alice", "k7", (None, 700), jan),
            _version(day, "alice", "k8", (None, 700), jan),
            _version(day, "alice", "k9", ('"e0"', 0), jan),
            _version(day, "alice", "k10", ('"e0"', 0), jan),
        ]
        # bob: content A once (alice's copies are not his), content C twice; k3 hidden by a delete marker
        # on D2 (its version noncurrent), the marker removed on D3 (the version current again)
        bob = [
            _version(day, "bob", "k1", A, jan),
            _version(day, "bob", "k2", C, datetime(2026, 4, 1), "DEEP_ARCHIVE"),
            _version(day, "bob", "k3", C, datetime(2026, 5, 1), latest=day != D2),
            *([_version(day, "bob", "k3", None, overwrite, latest=True, version="dm", marker=True)] if day == D2 else []),
        ]  # fmt: skip
        carol = [_version(day, "carol", f"k{i}", D, jan) for i in (1, 2)] if day == D4 else []
        rows += alice + bob + carol
    return rows


# Hand-worked duplicate bytes (non-zero only), per day: every copy after the oldest of its content.
EXPECTED_DUPLICATES = {
    D1: {("alice", "STANDARD"): 1000 + 500, ("alice", "GLACIER"): 1000, ("bob", "STANDARD"): 300},
    # k1 deleted (k2 oldest, k3 duplicate); k4 overwritten with A: a duplicate; bob's k3 behind a marker
    D2: {("alice", "STANDARD"): 1000 + 500, ("alice", "GLACIER"): 1000},
    # k2 (oldest) to GLACIER, k3 to DEEP_ARCHIVE: k3's bytes move class; bob's k3 current again
    D3: {("alice", "STANDARD"): 1000 + 500, ("alice", "DEEP_ARCHIVE"): 1000, ("bob", "STANDARD"): 300},
    # k2 deleted: k3 oldest, k4 the duplicate; k5 deleted: B alone; carol arrives with two copies
    D4: {("alice", "STANDARD"): 1000, ("bob", "STANDARD"): 300, ("carol", "STANDARD"): 100},
}


def _load(con, rows) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(INVENTORY_DDL)
    insert_rows(con, f"INSERT INTO raw.inventory_objects VALUES ({', '.join('?' * 14)})", rows)


def _assert_same_rows(con, sql_a: str, sql_b: str, start: date, end: date) -> int:
    """Rows of both queries over the window, compared as multisets; returns how many there are."""
    window = {"start": start, "end": end}
    con.execute(f"CREATE OR REPLACE TEMP TABLE a AS {sql_a}", window)
    con.execute(f"CREATE OR REPLACE TEMP TABLE b AS {sql_b}", window)
    only_a = con.execute("SELECT * FROM a EXCEPT ALL SELECT * FROM b").fetchall()
    only_b = con.execute("SELECT * FROM b EXCEPT ALL SELECT * FROM a").fetchall()
    assert (only_a, only_b) == ([], [])
    return int(con.execute("SELECT count(*) FROM a").fetchall()[0][0])


def _duplicates(con, table: str) -> dict[date, dict[tuple[str, str], int]]:
    out: dict[date, dict[tuple[str, str], int]] = {}
    for day, user, cls, dup in con.execute(
        f"SELECT usage_date, user_id, storage_class, duplicate_bytes FROM {table} WHERE duplicate_bytes <> 0"
    ).fetchall():
        out.setdefault(day, {})[(user, cls)] = dup
    return out


def test_each_event_gives_the_hand_worked_duplicates_and_the_frozen_querys_rows():
    con = duckdb.connect()
    _load(con, _crafted_inventory())
    # the window at once, each day alone, and the first day (no day before it in the table)
    rows = _assert_same_rows(con, USER_DAILY_STORAGE_SQL, FROZEN_SQL, D1, D4)
    assert rows == 18  # user × class rows of the four days: 4, 4, 5, 5
    for day in (D1, D2, D3, D4):
        _assert_same_rows(con, USER_DAILY_STORAGE_SQL, FROZEN_SQL, day, day)
    con.execute(f"CREATE TEMP TABLE new AS {USER_DAILY_STORAGE_SQL}", {"start": D1, "end": D4})
    assert _duplicates(con, "new") == EXPECTED_DUPLICATES
    # the overwritten k4 v1 (999 bytes) is noncurrent from D2; the overwrite (1000 bytes) was added on D2
    noncurrent, added = con.execute(
        "SELECT noncurrent_bytes, bytes_added FROM new WHERE usage_date = ? AND user_id = 'alice' "
        "AND storage_class = 'STANDARD'",
        [D2],
    ).fetchall()[0]
    assert (noncurrent, added) == (999, 1000)


def test_the_asset_over_a_window_and_an_old_day_rerun_equal_the_frozen_query(tmp_path):
    warehouse = Warehouse(database=str(tmp_path / "warehouse.duckdb"))
    with warehouse.connect() as con:
        _load(con, _crafted_inventory())
        con.execute(TABLE_DDL)
        load_window(con, [D1, D2, D3, D4])
        load_window(con, [D2])  # an old day rerun alone replaces only that day
        con.execute(f"CREATE TEMP TABLE frozen AS {FROZEN_SQL}", {"start": D1, "end": D4})
        table = f"(SELECT {COLUMNS} FROM usage.user_daily_storage)"
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(18,)]
        assert con.execute(f"SELECT * FROM {table} EXCEPT ALL SELECT * FROM frozen").fetchall() == []
        assert con.execute(f"SELECT * FROM frozen EXCEPT ALL SELECT * FROM {table}").fetchall() == []
        assert _duplicates(con, "usage.user_daily_storage") == EXPECTED_DUPLICATES


def test_the_tiny_generated_month_equals_the_frozen_query(tiny_source, tmp_path):
    days = [tiny_source.start + timedelta(days=i) for i in range(tiny_source.days)]
    tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
    with bucketlens_env(tmp_path, tiny_source.root, tiny_source.users_db):
        result = dg.materialize(
            [inventory_objects], tags=tags, resources=build_resources(Settings.from_env())
        )
    assert result.success
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    rows = _assert_same_rows(con, USER_DAILY_STORAGE_SQL, FROZEN_SQL, days[0], days[-1])
    for day in (days[0], days[-1]):
        _assert_same_rows(con, USER_DAILY_STORAGE_SQL, FROZEN_SQL, day, day)
    con.execute(f"CREATE TEMP TABLE new AS {USER_DAILY_STORAGE_SQL}", {"start": days[0], "end": days[-1]})
    # the generator's ground truth: the copies it injected for a duplicate-data abuser waste these bytes
    labels = [json.loads(line) for line in tiny_source.summary.labels_path.read_text().splitlines()]
    injected = {
        (date.fromisoformat(x["details"]["inventory_snapshot"]), x["user_id"]): x["details"]["wasted_bytes"]
        for x in labels
        if x["pattern"] == "duplicate_data"
    }
    assert injected and rows > 1000
    for (day, user), wasted in injected.items():
        measured = con.execute(
            "SELECT sum(duplicate_bytes) FROM new WHERE usage_date = ? AND user_id = ?", [day, user]
        ).fetchall()
        assert measured == [(wasted,)], (day, user)


@pytest.mark.slow
def test_a_million_object_inventory_with_copies_equals_the_frozen_query(tmp_path):
    """The benchmark's 1 M-object inventory (no copies of its own) with ~60 % more versions added as
    copies of its objects under the same user: other classes, older/newer/equal last_modified, some
    noncurrent, deleted (markers), empty or without an ETag: 1.6 M versions, 486 k of them duplicates."""
    from synthetic import generate_inventory_snapshot

    generate_inventory_snapshot(tmp_path / "source", D1, 1_000_000, seed=1, inventory_format="parquet")
    with bucketlens_env(tmp_path / "home", tmp_path / "source"):
        result = dg.materialize(
            [inventory_objects], partition_key=D1.isoformat(), resources=build_resources(Settings.from_env())
        )
    assert result.success
    con = duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"))
    con.execute("""
        INSERT INTO raw.inventory_objects
        SELECT snapshot_date, bucket, key || '.copy' || c, version_id,
               CASE WHEN hash(key, c) % 10 = 0 THEN false ELSE is_latest END,
               CASE WHEN hash(key, c) % 23 = 0 THEN true ELSE is_delete_marker END,
               CASE WHEN hash(key, c) % 31 = 0 THEN 0 ELSE size END,
               CASE hash(key, c) % 4 WHEN 0 THEN last_modified WHEN 1 THEN last_modified + INTERVAL 3 DAY
                    WHEN 2 THEN last_modified - INTERVAL 1 HOUR ELSE TIMESTAMP '2026-09-30 12:00:00' END,
               CASE hash(key, c) % 5 WHEN 0 THEN NULL WHEN 1 THEN 'STANDARD' WHEN 2 THEN 'GLACIER'
                    ELSE storage_class END,
               CASE WHEN hash(key, c) % 37 = 0 THEN NULL ELSE e_tag END,
               user_id, is_multipart_uploaded, intelligent_tiering_access_tier, manifest_key
        FROM raw.inventory_objects, range(1, 4) AS r(c)
        WHERE hash(key) % 10 < 3 AND c <= 1 + hash(key) % 3""")
    assert _assert_same_rows(con, USER_DAILY_STORAGE_SQL, FROZEN_SQL, D1, D1) > 10_000
    con.execute(f"CREATE TEMP TABLE new AS {USER_DAILY_STORAGE_SQL}", {"start": D1, "end": D1})
    assert con.execute("SELECT sum(duplicate_bytes) > 0 FROM new").fetchall() == [(True,)]
