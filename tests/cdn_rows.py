"""Hand-made rows of raw.cdn_requests (the contract's columns, bucketlens.formats.cloudfront_schema) for
the CDN tests: the parsers are the source half's; these tests build the table the parsers write."""

from __future__ import annotations

from datetime import date, datetime

from bucketlens.formats import cloudfront_schema
from tests.rows import insert_rows

INSERT = "INSERT INTO raw.cdn_requests BY NAME SELECT {}"
FIELDS = ("usage_date", "request_time", "distribution_id", "edge_region", "host", "uri_stem", "status",
          "referer", "protocol", "bytes_sent", "time_to_first_byte", "edge_result_type",
          "edge_detailed_result_type", "user_id", "source_file", "source_line")  # fmt: skip


def create_cdn_table(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(cloudfront_schema.TABLE_DDL)


def cdn_row(
    day: date,
    user: str,
    *,
    region: str = "US",
    result: str = "Hit",
    bytes_sent: int = 1000,
    protocol: str = "https",
    status: int = 200,
    ttfb: float = 0.01,
    referer: str | None = None,
    distribution: str = "E1DIST",
    detailed: str | None = None,
    host: str = "cdn.example.com",
) -> tuple:
    key = f"/users/{user}/photo.jpg" if user != "_shared" else "/app/logo.png"
    return (day, datetime(day.year, day.month, day.day, 12), distribution, region, host, key, status, referer,
            protocol, bytes_sent, ttfb, result, detailed or result, user, "cloudfront/E1DIST.gz", 1)  # fmt: skip


def insert_cdn_rows(con, rows) -> None:
    insert_rows(
        con,
        f"INSERT INTO raw.cdn_requests ({', '.join(FIELDS)}) VALUES ({', '.join('?' for _ in FIELDS)})",
        [list(r) for r in rows],
    )
