"""usage.service_daily_metrics: the bucket's health and size each day, as CloudWatch reports it,
cross-checked against the access logs and the inventory.

CloudWatch is the reference for totals (it sees every request, even those the best-effort access logs
miss); the logs and the inventory are independent witnesses, and a disagreement above 1 % is reported.
When a bucket has several request-metric filters, the one with the most requests is taken as the
whole-bucket filter (a prefix filter can never exceed it).
"""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, detail_day, window_days, window_result
from resources.warehouse import Warehouse, replace_days

ASSET = dg.AssetKey("service_daily_metrics")
DISAGREEMENT = 0.01
TABLE_DDL = """
CREATE TABLE IF NOT EXISTS usage.service_daily_metrics (
    usage_date DATE NOT NULL,
    bucket VARCHAR NOT NULL,
    total_bytes BIGINT,
    object_count BIGINT,
    active_users BIGINT,
    request_count BIGINT,
    error_rate DOUBLE,
    availability DOUBLE,
    avg_latency_ms DOUBLE,
    peak_hour_requests BIGINT,
    requests_source VARCHAR,
    inventory_bytes BIGINT,
    inventory_objects BIGINT,
    log_request_count BIGINT,
    log_error_rate DOUBLE,
    service_active_users BIGINT
)"""
# ``active_users`` is per bucket: a user active in two buckets is in both rows. The service's figure is
# ``service_active_users`` (distinct over every bucket, the same on each row of the day: never sum it).
ADDED_COLUMNS = (("service_active_users", "BIGINT"),)

STAGE = "stage_service_daily_metrics"
# Every day of the window ($start..$end) in one statement: each CTE keeps its day column.
STAGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE {STAGE} AS
WITH cw AS (  -- S3's metrics: CloudFront's (the DistributionId dimension) are usage.service_daily_cdn's
    SELECT * FROM raw.cloudwatch_metrics
    WHERE usage_date BETWEEN $start AND $end AND coalesce(dimension_name, '') <> 'DistributionId'
),
whole_bucket_filter AS (
    SELECT usage_date, bucket, arg_max(dimension_value, total) AS filter_id FROM (
        SELECT usage_date, bucket, dimension_value, sum(value) AS total FROM cw
        WHERE metric_name = 'AllRequests' AND dimension_name = 'FilterId' GROUP BY ALL
    ) GROUP BY ALL
),
requests_cw AS (
    SELECT c.usage_date, c.bucket,
           sum(value) FILTER (WHERE metric_name = 'AllRequests') AS requests,
           max(value) FILTER (WHERE metric_name = 'AllRequests' AND period_seconds <= 3600) AS peak_period_requests,
           min(period_seconds) FILTER (WHERE metric_name = 'AllRequests') AS period_seconds,
           sum(value) FILTER (WHERE metric_name = '4xxErrors') AS e4xx,
           sum(value) FILTER (WHERE metric_name = '5xxErrors') AS e5xx,
           avg(value) FILTER (WHERE metric_name = 'TotalRequestLatency') AS latency
    FROM cw c JOIN whole_bucket_filter f
      ON c.usage_date = f.usage_date AND c.bucket = f.bucket AND c.dimension_value = f.filter_id
    GROUP BY ALL
),
storage_cw AS (
    SELECT usage_date, bucket,
           sum(value) FILTER (WHERE metric_name = 'BucketSizeBytes') AS bytes,
           max(value) FILTER (WHERE metric_name = 'NumberOfObjects') AS objects
    FROM cw GROUP BY ALL
),
logs AS (
    SELECT usage_date, bucket, count(*) AS requests,
           count(*) FILTER (WHERE http_status >= 400) AS errors,
           count(*) FILTER (WHERE http_status >= 500) AS e5xx,
           avg(total_time_ms) AS latency,
           max(hourly) AS peak_hour
    FROM (SELECT usage_date, bucket, http_status, total_time_ms,
                 count(*) OVER (PARTITION BY usage_date, bucket, date_trunc('hour', request_time)) AS hourly
          FROM raw.access_log_requests WHERE usage_date BETWEEN $start AND $end)
    GROUP BY ALL
),
inventory AS (
    SELECT snapshot_date AS usage_date, bucket, sum(size) AS bytes,
           count(*) FILTER (WHERE NOT coalesce(is_delete_marker, false)) AS objects
    FROM raw.inventory_objects WHERE snapshot_date BETWEEN $start AND $end GROUP BY ALL
),
active_rows AS (
    SELECT snapshot_date AS usage_date, bucket, user_id FROM raw.inventory_objects
    WHERE snapshot_date BETWEEN $start AND $end AND NOT coalesce(is_delete_marker, false)
      AND user_id <> '_shared'
    UNION ALL
    SELECT usage_date, bucket, user_id FROM raw.access_log_requests
    WHERE usage_date BETWEEN $start AND $end AND user_id <> '_shared'
),
active AS (SELECT usage_date, bucket, count(DISTINCT user_id) AS users FROM active_rows GROUP BY ALL),
service_active AS (SELECT usage_date, count(DISTINCT user_id) AS users FROM active_rows GROUP BY ALL),
buckets AS (
    SELECT usage_date, bucket FROM storage_cw
    UNION SELECT usage_date, bucket FROM logs
    UNION SELECT usage_date, bucket FROM inventory
)
SELECT b.usage_date, b.bucket,
       coalesce(s.bytes, i.bytes)::BIGINT AS total_bytes,
       coalesce(s.objects, i.objects)::BIGINT AS object_count,
       coalesce(a.users, 0) AS active_users,
       coalesce(r.requests, l.requests)::BIGINT AS request_count,
       CASE WHEN r.requests > 0 THEN (coalesce(r.e4xx, 0) + coalesce(r.e5xx, 0)) / r.requests
            WHEN l.requests > 0 THEN l.errors / l.requests END AS error_rate,
       CASE WHEN r.requests > 0 THEN 1 - coalesce(r.e5xx, 0) / r.requests
            WHEN l.requests > 0 THEN 1 - l.e5xx / l.requests END AS availability,
       coalesce(r.latency, l.latency) AS avg_latency_ms,
       CASE WHEN r.period_seconds = 3600 THEN r.peak_period_requests ELSE l.peak_hour END::BIGINT AS peak_hour_requests,
       CASE WHEN r.requests IS NOT NULL THEN 'cloudwatch' WHEN l.requests IS NOT NULL THEN 'access_logs' END AS requests_source,
       i.bytes::BIGINT AS inventory_bytes, i.objects AS inventory_objects,
       l.requests AS log_request_count,
       CASE WHEN l.requests > 0 THEN l.errors / l.requests END AS log_error_rate,
       coalesce(sa.users, 0) AS service_active_users
FROM buckets b
LEFT JOIN storage_cw s USING (usage_date, bucket) LEFT JOIN requests_cw r USING (usage_date, bucket)
LEFT JOIN logs l USING (usage_date, bucket) LEFT JOIN inventory i USING (usage_date, bucket)
LEFT JOIN active a USING (usage_date, bucket) LEFT JOIN service_active sa USING (usage_date)
"""
ROWS_SQL = (
    "SELECT * FROM usage.service_daily_metrics WHERE usage_date BETWEEN ? AND ? ORDER BY usage_date, bucket"
)


def disagreements(row: dict) -> list[str]:
    """Human-readable cross-checks that differ by more than 1 %."""
    found = []
    pairs = [
        ("bytes (CloudWatch vs inventory)", row["total_bytes"], row["inventory_bytes"]),
        ("requests (CloudWatch vs access logs)", row["request_count"], row["log_request_count"]),
    ]
    for label, reference, witness in pairs:
        if reference and witness is not None and abs(reference - witness) > DISAGREEMENT * reference:
            found.append(
                f"{row['bucket']}: {label} {reference:,} vs {witness:,} ({(witness - reference) / reference:+.1%})"
            )
    return found


def load_window(con, days, log) -> list[DayResult]:
    """Stage the window's rows with one query, replace exactly its days, build each day's metadata from
    one read of the rows written (a handful of buckets a day)."""
    con.execute(STAGE_SQL, {"start": days[0], "end": days[-1]})
    rows = replace_days(con, "usage.service_daily_metrics", STAGE, "usage_date", days)
    cursor = con.execute(ROWS_SQL, [days[0], days[-1]])
    names = [d[0] for d in cursor.description]
    by_day = {day: [] for day in days}
    for row in cursor.fetchall():
        record = dict(zip(names, row, strict=True))
        by_day[record["usage_date"]].append(record)
    return [day_result(day, rows[day], by_day[day], day == detail_day(days), log) for day in days]


def day_result(day, rows: int, buckets: list[dict], detail: bool, log) -> DayResult:
    issues = [text for b in buckets for text in disagreements(b)]
    for text in issues:
        log.warning(f"{day}: sources disagree: {text}")
    metadata = {"dagster/row_count": rows, "disagreements": "\n".join(issues) or "none above 1 %"}
    if detail:
        metadata["buckets"] = markdown_table(
            [
                "bucket",
                "stored",
                "objects",
                "active users",
                "requests",
                "error rate",
                "availability",
                "latency ms",
            ],
            [
                (
                    b["bucket"],
                    human_bytes(b["total_bytes"]),
                    f"{b['object_count'] or 0:,}",
                    b["active_users"],
                    f"{b['request_count'] or 0:,}",
                    f"{(b['error_rate'] or 0):.2%}",
                    f"{(b['availability'] or 0):.3%}",
                    f"{(b['avg_latency_ms'] or 0):.0f}",
                )
                for b in buckets
            ],
        )
    main = max(buckets, key=lambda b: b["total_bytes"] or 0, default=None)
    if main:
        metadata.update(
            {
                "total_bytes": dg.MetadataValue.int(int(main["total_bytes"] or 0)),
                "active_users": dg.MetadataValue.int(int(main["service_active_users"] or 0)),
                "requests": dg.MetadataValue.int(int(main["request_count"] or 0)),
                "error_rate": dg.MetadataValue.float(float(main["error_rate"] or 0)),
                "availability": dg.MetadataValue.float(float(main["availability"] or 0)),
            }
        )
    return DayResult(
        day,
        metadata,
        checks={
            "sources_agree_within_1_percent": Check(
                not issues, {"disagreements": len(issues)}, severity=dg.AssetCheckSeverity.WARN
            )
        },
    )


@daily_asset(
    "service_daily_metrics",
    "usage",
    checks=(CheckSpec("sources_agree_within_1_percent", "CloudWatch, logs and inventory agree."),),
    deps=("cloudwatch_metrics", "access_log_requests", "inventory_objects"),
    code_version="2",
)
def service_daily_metrics(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per bucket and day: stored bytes and objects, active users, requests, error rate,
    availability, latency and the busiest hour, with the logs' and inventory's own figures beside."""
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        for name, sql_type in ADDED_COLUMNS:
            con.execute(f"ALTER TABLE usage.service_daily_metrics ADD COLUMN IF NOT EXISTS {name} {sql_type}")
        results = load_window(con, window_days(context), context.log)
    return window_result(results)
