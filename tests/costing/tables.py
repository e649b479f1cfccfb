"""Small hand-made input tables with exactly the shapes the Dagster assets provide."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import duckdb

LINE_ITEMS_DDL = """CREATE OR REPLACE TABLE {name} (
    usage_start TIMESTAMP, usage_end TIMESTAMP, billing_period VARCHAR, line_item_type VARCHAR,
    product_code VARCHAR, usage_type VARCHAR, operation VARCHAR, resource_id VARCHAR,
    usage_amount DOUBLE, unblended_cost DECIMAL(18, 6), pricing_unit VARCHAR)"""

STORAGE_DDL = """CREATE OR REPLACE TABLE {name} (
    usage_date DATE, user_id VARCHAR, storage_class VARCHAR, object_count BIGINT, bytes BIGINT,
    byte_hours HUGEINT, bytes_added BIGINT, duplicate_bytes BIGINT, noncurrent_bytes BIGINT,
    small_object_count BIGINT)"""

REQUESTS_DDL = """CREATE OR REPLACE TABLE {name} (
    usage_date DATE, user_id VARCHAR, operation VARCHAR, storage_class VARCHAR, http_status_class VARCHAR,
    request_count BIGINT, billable_count BIGINT, error_count BIGINT, bytes_sent BIGINT,
    bytes_received BIGINT, restored_bytes BIGINT, cdn_origin_bytes BIGINT)"""

# usage.user_daily_cdn's columns that the cost split and the estimate read
CDN_DDL = """CREATE OR REPLACE TABLE {name} (
    usage_date DATE, user_id VARCHAR, distribution_id VARCHAR, edge_region VARCHAR, requests BIGINT,
    https_requests BIGINT, http_requests BIGINT, bytes_sent BIGINT, origin_fetches BIGINT, miss_bytes BIGINT)"""

# The CloudFront bill of the hand case's CDN_DAY (tests/costing/test_allocation.hand_case): usage type, cost
CLOUDFRONT_BILL = (  # nothing is logged in JP; Invalidations are nobody's; the last type is unknown
    ("US-DataTransfer-Out-Bytes", "0.340000"), ("EU-DataTransfer-Out-Bytes", "0.100001"),
    ("JP-DataTransfer-Out-Bytes", "0.050000"), ("US-Requests-Tier2-HTTPS", "0.001000"),
    ("US-Requests-Tier1", "0.000300"), ("EU-Requests-Tier1", "0.000090"), ("Invalidations", "0.005000"),
    ("US-Requests-OriginShield", "0.000700"), ("US-Executions-Mystery", "0.000010"),
)  # fmt: skip


def cloudfront_bill(day: date) -> list[tuple]:
    return [line_item(day, t, c, product_code="AmazonCloudFront") for t, c in CLOUDFRONT_BILL]


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar=false")
    return con


def line_item(
    day: date,
    usage_type: str | None,
    cost: str,
    *,
    line_item_type: str = "Usage",
    product_code: str = "AmazonS3",
    operation: str | None = None,
    usage_amount: float = 0.0,
    pricing_unit: str | None = None,
) -> tuple:
    start = datetime(day.year, day.month, day.day)
    return (
        start,
        start + timedelta(days=1),
        f"{day:%Y-%m}",
        line_item_type,
        product_code,
        usage_type,
        operation,
        "my-bucket",
        usage_amount,
        cost,
        pricing_unit,
    )


def storage_row(
    day: date,
    user: str,
    storage_class: str,
    byte_hours: int,
    object_count: int = 0,
    small_object_count: int = 0,
) -> tuple:
    return (day, user, storage_class, object_count, byte_hours // 24, byte_hours, 0, 0, 0, small_object_count)


def request_row(
    day: date,
    user: str,
    operation: str,
    storage_class: str = "STANDARD",
    *,
    status: str = "2xx",
    count: int = 1,
    billable: int | None = None,
    errors: int = 0,
    sent: int = 0,
    received: int = 0,
    restored: int = 0,
    cdn_origin: int = 0,
) -> tuple:
    """``cdn_origin``: the part of ``sent`` CloudFront fetched from S3 (its origin), not internet egress."""
    billable = count if billable is None else billable
    return (
        day,
        user,
        operation,
        storage_class,
        status,
        count,
        billable,
        errors,
        sent,
        received,
        restored,
        cdn_origin,
    )


def create(con: duckdb.DuckDBPyConnection, ddl: str, name: str, rows: Iterable[Sequence]) -> None:
    con.execute(ddl.format(name=name))
    rows = list(rows)
    if rows:  # one literal statement: binding is slow for the property test's hundreds of rows
        values = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
        con.execute(f"INSERT INTO {name} VALUES {values}")


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def cdn_usage_row(
    day: date,
    user: str,
    region: str,
    *,
    https: int = 0,
    http: int = 0,
    sent: int = 0,
    origin: int = 0,
    miss_bytes: int = 0,
) -> tuple:
    return (day, user, "E1DIST", region, https + http, https, http, sent, origin, miss_bytes)


def make_tables(con, line_items=(), storage=(), requests=(), cdn=()) -> None:
    create(con, LINE_ITEMS_DDL, "line_items", line_items)
    create(con, STORAGE_DDL, "storage", storage)
    create(con, REQUESTS_DDL, "requests", requests)
    create(con, CDN_DDL, "cdn", cdn)
