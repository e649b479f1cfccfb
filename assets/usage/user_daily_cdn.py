"""usage.user_daily_cdn: what each user's objects cost the CDN each day — requests, bytes to viewers,
cache hits and origin fetches, errors, time to first byte and referer hosts — per CloudFront distribution
and edge region.

Why per edge region: CloudFront bills data transfer and requests per region of the edge that served them
(``US-DataTransfer-Out-Bytes``, ``EU-Requests-Tier2-HTTPS``), so the cost split
(``cost.user_daily_cost``) matches each region's line items with the bytes and requests logged there.
The definitions of hits, misses and origin fetches are in ``bucketlens/usage/user_daily_cdn.sql``.
A store without CloudFront logs gets an empty table (the raw table is created empty), never an error.
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    detail_rows,
    int_figures,
    load_in_warehouse,
    loaded_days,
    stage_and_replace,
    window_figures,
)
from bucketlens.formats import cloudfront_schema
from bucketlens.usage import USER_DAILY_CDN_SQL
from resources.warehouse import Warehouse

ASSET = dg.AssetKey("user_daily_cdn")
TABLE = "usage.user_daily_cdn"
STAGE = "stage_user_daily_cdn"
TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    usage_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    distribution_id VARCHAR NOT NULL,
    edge_region VARCHAR NOT NULL,
    requests BIGINT,
    https_requests BIGINT,
    http_requests BIGINT,
    bytes_sent BIGINT,
    hits BIGINT,
    misses BIGINT,
    origin_fetches BIGINT,
    hit_bytes BIGINT,
    miss_bytes BIGINT,
    hit_ratio DOUBLE,
    byte_hit_ratio DOUBLE,
    errors_4xx BIGINT,
    errors_5xx BIGINT,
    ttfb_p50_ms DOUBLE,
    ttfb_p95_ms DOUBLE,
    referer_hosts BIGINT,
    user_referer_hosts BIGINT
)"""
STAGE_SQL = f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {USER_DAILY_CDN_SQL}"
COUNTS = ("requests", "bytes_sent", "hits", "origin_fetches", "users")
FIGURES_SQL = f"""
SELECT coalesce(u.usage_date, l.usage_date) AS usage_date, u.requests, u.bytes_sent, u.hits, u.origin_fetches,
       u.users, coalesce(l.logged, 0) AS logged, coalesce(l.logged_bytes, 0) AS logged_bytes
FROM (SELECT usage_date, sum(requests) AS requests, sum(bytes_sent) AS bytes_sent, sum(hits) AS hits,
             sum(origin_fetches) AS origin_fetches,
             count(DISTINCT user_id) FILTER (WHERE user_id <> '_shared') AS users
      FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY ALL) u
FULL JOIN (SELECT usage_date, count(*) AS logged, coalesce(sum(bytes_sent), 0) AS logged_bytes
           FROM raw.cdn_requests WHERE usage_date BETWEEN $start AND $end GROUP BY ALL) l USING (usage_date)
"""
TOP_USERS_SQL = f"""
SELECT user_id, sum(requests), sum(bytes_sent), round(sum(hits) / nullif(sum(hits) + sum(misses), 0), 4)
FROM {TABLE} WHERE usage_date = ? GROUP BY ALL ORDER BY 3 DESC, 1 LIMIT 10
"""
TOTALS = CheckSpec(
    "totals_match_cdn_logs",
    "Per-user CDN requests and bytes add up to the day's rows of raw.cdn_requests.",
    blocking=True,
)


def load_window(con, days) -> list[DayResult]:
    """Stage the window with one query, replace exactly its days, check each day against the raw rows."""
    ensure_tables(con)
    rows = stage_and_replace(con, STAGE_SQL, TABLE, STAGE, days)
    top = detail_rows(con, TOP_USERS_SQL, days)
    results = []
    for day, f, metadata in loaded_days(rows, window_figures(con, FIGURES_SQL, days)):
        metadata |= int_figures(f, COUNTS)
        if top:
            metadata["top_users"] = markdown_table(["user", "requests", "bytes", "hit ratio"], top)
        requests, bytes_sent = int(f.get("requests") or 0), int(f.get("bytes_sent") or 0)
        logged, logged_bytes = int(f.get("logged") or 0), int(f.get("logged_bytes") or 0)
        check = Check(
            requests == logged and bytes_sent == logged_bytes,
            {"per_user_requests": requests, "cdn_log_rows": logged, "per_user_bytes": bytes_sent,
             "cdn_log_bytes": logged_bytes},
        )  # fmt: skip
        results.append(DayResult(day, metadata, {TOTALS.name: check}))
    return results


def ensure_tables(con) -> None:
    """The raw table (empty for a source without CloudFront logs) and this one."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(cloudfront_schema.TABLE_DDL)
    con.execute(TABLE_DDL)


@daily_asset("user_daily_cdn", "usage", checks=(TOTALS,), deps=("cdn_requests",))
def user_daily_cdn(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per user × distribution × edge region and day: requests (HTTP / HTTPS), bytes to viewers,
    hits, misses and origin fetches, hit ratios by requests and bytes, 4xx/5xx, TTFB p50/p95, referer hosts."""
    return load_in_warehouse(context, warehouse, load_window)
