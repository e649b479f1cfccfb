"""usage.service_daily_metrics: the bucket's health and size each day, as CloudWatch reports it,
cross-checked against the access logs and the inventory.

CloudWatch is the reference for totals (it sees every request, even those the best-effort access logs
miss); the logs and the inventory are independent witnesses, and a disagreement above 1 % is reported.
When a bucket has several request-metric filters, the one with the most requests is taken as the
whole-bucket filter (a prefix filter can never exceed it).
"""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from resources.warehouse import Replacement, Warehouse, replace_partitions

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

STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE stage_service_daily_metrics AS
WITH cw AS (SELECT * FROM raw.cloudwatch_metrics WHERE usage_date = $day),
whole_bucket_filter AS (
    SELECT bucket, arg_max(dimension_value, total) AS filter_id FROM (
        SELECT bucket, dimension_value, sum(value) AS total FROM cw
        WHERE metric_name = 'AllRequests' AND dimension_name = 'FilterId' GROUP BY ALL
    ) GROUP BY ALL
),
requests_cw AS (
    SELECT c.bucket,
           sum(value) FILTER (WHERE metric_name = 'AllRequests') AS requests,
           max(value) FILTER (WHERE metric_name = 'AllRequests' AND period_seconds <= 3600) AS peak_period_requests,
           min(period_seconds) FILTER (WHERE metric_name = 'AllRequests') AS period_seconds,
           sum(value) FILTER (WHERE metric_name = '4xxErrors') AS e4xx,
           sum(value) FILTER (WHERE metric_name = '5xxErrors') AS e5xx,
           avg(value) FILTER (WHERE metric_name = 'TotalRequestLatency') AS latency
    FROM cw c JOIN whole_bucket_filter f ON c.bucket = f.bucket AND c.dimension_value = f.filter_id
    GROUP BY ALL
),
storage_cw AS (
    SELECT bucket,
           sum(value) FILTER (WHERE metric_name = 'BucketSizeBytes') AS bytes,
           max(value) FILTER (WHERE metric_name = 'NumberOfObjects') AS objects
    FROM cw GROUP BY ALL
),
logs AS (
    SELECT bucket, count(*) AS requests,
           count(*) FILTER (WHERE http_status >= 400) AS errors,
           count(*) FILTER (WHERE http_status >= 500) AS e5xx,
           avg(total_time_ms) AS latency,
           max(hourly) AS peak_hour
    FROM (SELECT *, count(*) OVER (PARTITION BY bucket, date_trunc('hour', request_time)) AS hourly
          FROM raw.access_log_requests WHERE usage_date = $day)
    GROUP BY ALL
),
inventory AS (
    SELECT bucket, sum(size) AS bytes, count(*) FILTER (WHERE NOT coalesce(is_delete_marker, false)) AS objects
    FROM raw.inventory_objects WHERE snapshot_date = $day GROUP BY ALL
),
active_rows AS (
    SELECT bucket, user_id FROM raw.inventory_objects
    WHERE snapshot_date = $day AND NOT coalesce(is_delete_marker, false) AND user_id <> '_shared'
    UNION ALL
    SELECT bucket, user_id FROM raw.access_log_requests WHERE usage_date = $day AND user_id <> '_shared'
),
active AS (SELECT bucket, count(DISTINCT user_id) AS users FROM active_rows GROUP BY ALL),
service_active AS (SELECT count(DISTINCT user_id) AS users FROM active_rows),
buckets AS (
    SELECT bucket FROM storage_cw UNION SELECT bucket FROM logs UNION SELECT bucket FROM inventory
)
SELECT $day::DATE AS usage_date, b.bucket,
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
       (SELECT users FROM service_active) AS service_active_users
FROM buckets b
LEFT JOIN storage_cw s USING (bucket) LEFT JOIN requests_cw r USING (bucket) LEFT JOIN logs l USING (bucket)
LEFT JOIN inventory i USING (bucket) LEFT JOIN active a USING (bucket)
"""


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


def load_day(con, day, log) -> DayResult:
    con.execute(STAGE_SQL, {"day": day})
    (rows,) = replace_partitions(
        con,
        [Replacement("usage.service_daily_metrics", "stage_service_daily_metrics", "usage_date = ?", [day])],
    )
    cursor = con.execute(
        "SELECT * FROM usage.service_daily_metrics WHERE usage_date = ? ORDER BY bucket", [day]
    )
    names = [d[0] for d in cursor.description]
    buckets = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    issues = [text for b in buckets for text in disagreements(b)]
    for text in issues:
        log.warning(f"{day}: sources disagree: {text}")
    main = max(buckets, key=lambda b: b["total_bytes"] or 0, default=None)
    metadata = {
        "dagster/row_count": rows,
        "buckets": markdown_table(
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
        ),
        "disagreements": "\n".join(issues) or "none above 1 %",
    }
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
        results = [load_day(con, day, context.log) for day in window_days(context)]
    return window_result(results)
