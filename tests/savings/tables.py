"""A tiny warehouse for the savings tests: the contract's raw tables with rows written by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb

from assets.raw.users import TABLE_DDL as USERS_DDL
from bucketlens.formats.access_log import TABLE_DDL as REQUESTS_DDL
from bucketlens.formats.inventory import TABLE_DDL as INVENTORY_DDL
from tests.rows import insert_rows

DAY = date(2026, 12, 5)
BUCKET = "photos-prod"
KIB, MIB, GIB = 1024, 1024**2, 1024**3


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for schema in ("raw", "usage", "cost", "savings"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(INVENTORY_DDL)
    con.execute(REQUESTS_DDL)
    con.execute(USERS_DDL)
    return con


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour)


def objects(
    con,
    user: str,
    count: int,
    size: int,
    age_days: int,
    *,
    day: date = DAY,
    name: str = "obj",
    storage_class: str = "STANDARD",
    latest: bool = True,
    marker: bool = False,
    version: str = "v1",
    modified: datetime | None = None,
) -> list[str]:
    """``count`` versions of ``size`` bytes under ``users/<user>/``, listed by the inventory of ``day``,
    uploaded ``age_days`` before it; returns their keys."""
    keys = [f"users/{user}/{name}-{i:05d}.jpg" for i in range(count)]
    stamp = modified or at(day - timedelta(days=age_days))
    insert_rows(
        con,
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, version_id, is_latest, is_delete_marker, "
        "size, last_modified, storage_class, e_tag, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (day, BUCKET, k, version, latest, marker, None if marker else size, stamp,
             None if marker else storage_class, None if marker else f"etag-{k}-{version}", user)
            for k in keys
        ],
    )  # fmt: skip
    return keys


def request(
    con,
    day: date,
    operation: str,
    key: str | None,
    user: str,
    *,
    status: int | None = 200,
    bytes_sent: int | None = None,
    object_size: int | None = None,
    uri: str | None = None,
    version_id: str | None = None,
    turn_ms: int | None = None,
    hour: int = 12,
    request_id: str | None = None,
) -> None:
    con.execute(
        "INSERT INTO raw.access_log_requests (request_time, bucket, request_id, operation, key, http_status, "
        "bytes_sent, object_size, user_id, request_uri, version_id, turn_around_time_ms, usage_date) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [at(day, hour), BUCKET, request_id or f"{operation}-{key}-{day}-{hour}", operation, key, status,
         bytes_sent, object_size, user, uri, version_id, turn_ms, day],
    )  # fmt: skip


def observed(con, day: date = DAY, days: int = 30) -> None:
    """One request on each of the ``days`` days ending ``day``: the access logs cover the history."""
    for i in range(days):
        request(con, day - timedelta(days=i), "REST.GET.BUCKET", None, "_shared", request_id=f"list-{i}")


def users(con, rows: list[tuple[str, str]], day: date = DAY) -> None:
    insert_rows(
        con,
        "INSERT INTO raw.users VALUES (?, ?, 'personal', 2199023255552, TIMESTAMP '2025-01-01', ?)",
        [(day, u, status) for u, status in rows],
    )
