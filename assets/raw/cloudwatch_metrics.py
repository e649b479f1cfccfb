"""raw.cloudwatch_metrics: one row per CloudWatch AWS/S3 datapoint timestamped on the partition day."""

import dagster as dg

from assets.metadata import markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.formats import cloudwatch as fmt
from resources.cloudwatch import CloudWatchSource
from resources.source_store import SourceStore
from resources.warehouse import Replacement, Warehouse, drop_tables, replace_partitions, scalar

ASSET = dg.AssetKey("cloudwatch_metrics")


def load_day(con, day, source: SourceStore, cloudwatch: CloudWatchSource) -> DayResult:
    drop_tables(con, "stage_cloudwatch_metrics")
    if cloudwatch.mode == "api":
        series = fmt.fetch_metric_series(cloudwatch.client(), day, cloudwatch.buckets or None)
        fmt.stage_cloudwatch_series(con, series, day)
        origin = f"GetMetricData ({len(series)} series)"
    else:
        key = cloudwatch.jsonl_key(day)
        if not source.exists(key):
            raise dg.Failure(
                description=f"No CloudWatch export for {day}: {source.describe(key)} is missing."
            )
        fmt.stage_cloudwatch_jsonl(con, [(key, source.local_path(key))], day)
        origin = source.describe(key)
    (rows,) = replace_partitions(
        con, [Replacement("raw.cloudwatch_metrics", "stage_cloudwatch_metrics", "usage_date = ?", [day])]
    )
    summary = con.execute(
        """SELECT bucket, metric_name, dimension_value, stat, count(*),
                  CASE WHEN stat = 'Sum' THEN sum(value) ELSE avg(value) END
           FROM raw.cloudwatch_metrics WHERE usage_date = ? GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3""",
        [day],
    ).fetchall()
    negatives = scalar(
        con, "SELECT count(*) FROM raw.cloudwatch_metrics WHERE usage_date = ? AND value < 0", [day]
    )
    storage_series = sum(1 for s in summary if s[1] == "BucketSizeBytes")
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "rows": rows,
            "origin": origin,
            "series": len(summary),
            "summary": markdown_table(
                ["bucket", "metric", "dimension", "stat", "points", "day value"],
                [(b, m, d, s, n, f"{v:,.1f}") for b, m, d, s, n, v in summary],
            ),
        },
        checks={
            "storage_metrics_present": Check(storage_series > 0, {"series": storage_series}),
            "values_non_negative": Check(negatives == 0, {"negative": int(negatives)}),
        },
    )


@daily_asset(
    "cloudwatch_metrics",
    "raw",
    checks=(
        CheckSpec("storage_metrics_present", "BucketSizeBytes is reported for the day."),
        CheckSpec("values_non_negative", "No negative sizes, counts or latencies."),
    ),
    kinds=("duckdb", "aws"),
)
def cloudwatch_metrics(
    context: dg.AssetExecutionContext, source: SourceStore, warehouse: Warehouse, cloudwatch: CloudWatchSource
) -> dg.MaterializeResult:
    """One row per datapoint: bucket storage per StorageType (daily) and request metrics per FilterId
    (hourly or per minute), from GetMetricData or from the day's JSON Lines file."""
    with warehouse.connect() as con:
        con.execute(fmt.TABLE_DDL)
        results = [load_day(con, day, source, cloudwatch) for day in window_days(context)]
    return window_result(results)
