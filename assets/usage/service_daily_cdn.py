"""usage.service_daily_cdn: the CDN's health each day per CloudFront distribution — requests, bytes
downloaded, error rates and cache hit rate — from CloudWatch's AWS/CloudFront metrics where present and
the standard logs otherwise (``bucketlens/usage/service_daily_cdn.sql``).

Why a table of its own rather than rows of ``usage.service_daily_metrics``: that table is per bucket and
its figures are S3's; the runbooks' CDN alerts (hit rate < 90 %, error rate > 5 %, bandwidth > 100 GB a
day) read this one per distribution. A source without CloudFront data has no rows here.
"""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.usage.user_daily_cdn import ensure_tables
from assets.window import (
    DayResult,
    daily_asset,
    detail_rows,
    load_in_warehouse,
    loaded_days,
    stage_and_replace,
    window_figures,
)
from bucketlens.formats import cloudwatch
from bucketlens.usage import SERVICE_DAILY_CDN_SQL
from resources.warehouse import Warehouse

TABLE = "usage.service_daily_cdn"
STAGE = "stage_service_daily_cdn"
TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    usage_date DATE NOT NULL,
    distribution_id VARCHAR NOT NULL,
    requests BIGINT,
    bytes_downloaded BIGINT,
    error_rate_4xx DOUBLE,
    error_rate_5xx DOUBLE,
    error_rate DOUBLE,
    cache_hit_rate DOUBLE,
    cache_hit_rate_source VARCHAR,
    requests_source VARCHAR,
    log_requests BIGINT,
    log_bytes BIGINT,
    log_hit_ratio DOUBLE,
    log_byte_hit_ratio DOUBLE,
    log_origin_fetches BIGINT,
    log_errors_4xx BIGINT,
    log_errors_5xx BIGINT,
    cloudwatch_cache_hit_rate DOUBLE,
    active_users BIGINT
)"""
STAGE_SQL = f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {SERVICE_DAILY_CDN_SQL}"
FIGURES_SQL = f"""
SELECT usage_date, count(*) AS distributions, sum(requests) AS requests, sum(bytes_downloaded) AS bytes,
       sum(cache_hit_rate * requests) / nullif(sum(requests) FILTER (WHERE cache_hit_rate IS NOT NULL), 0) AS hit_rate
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY ALL
"""
DETAIL_SQL = f"""
SELECT distribution_id, requests, bytes_downloaded, error_rate, cache_hit_rate, cache_hit_rate_source
FROM {TABLE} WHERE usage_date = ? ORDER BY bytes_downloaded DESC NULLS LAST, distribution_id
"""


def load_window(con, days) -> list[DayResult]:
    ensure_tables(con)
    con.execute(cloudwatch.TABLE_DDL)  # a source without CloudWatch metrics: the logs' figures only
    con.execute(TABLE_DDL)
    rows = stage_and_replace(con, STAGE_SQL, TABLE, STAGE, days)
    detail = detail_rows(con, DETAIL_SQL, days)
    results = []
    for day, f, metadata in loaded_days(rows, window_figures(con, FIGURES_SQL, days)):
        metadata["distributions"] = dg.MetadataValue.int(int(f.get("distributions") or 0))
        metadata["requests"] = dg.MetadataValue.int(int(f.get("requests") or 0))
        metadata["bytes_downloaded"] = dg.MetadataValue.int(int(f.get("bytes") or 0))
        if f.get("hit_rate") is not None:
            metadata["cache_hit_rate"] = dg.MetadataValue.float(float(f["hit_rate"]))
        if detail:
            metadata["distributions_table"] = markdown_table(
                ["distribution", "requests", "downloaded", "error rate", "hit rate", "hit rate from"],
                [(d, f"{r or 0:,}", human_bytes(b), f"{(e or 0):.2%}", "—" if h is None else f"{h:.2%}", s or "—")
                 for d, r, b, e, h, s in detail],
            )  # fmt: skip
        results.append(DayResult(day, metadata))
    return results


@daily_asset("service_daily_cdn", "usage", deps=("user_daily_cdn", "cloudwatch_metrics"))
def service_daily_cdn(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per CloudFront distribution and day: requests, bytes downloaded, 4xx / 5xx / total error
    rates, cache hit rate (CloudWatch CacheHitRate, else the logs'), with the logs' own figures beside."""
    return load_in_warehouse(context, warehouse, load_window)
