"""raw.cloudwatch_metrics: one row per CloudWatch AWS/S3 datapoint timestamped on the partition day.

CloudWatch is a cross-check, not the bill: a day without its export (the file missing, or the API
answering nothing) is *NoData* for that day — a warning naming the day and the file, never zero, never
a reason to fail the other days of a range, and never a reason to delete a day loaded before.
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.raw.guards import source_failures
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.formats import cloudwatch as fmt
from resources.cloudwatch import CloudWatchSource
from resources.source_store import SourceStore
from resources.warehouse import Replacement, Warehouse, drop_tables, replace_partitions, scalar

ASSET = dg.AssetKey("cloudwatch_metrics")
WARN = dg.AssetCheckSeverity.WARN
STAGE = "stage_cloudwatch_metrics"


def stage_day(con, day, source: SourceStore, cloudwatch: CloudWatchSource) -> tuple[str, str | None]:
    """Stage the day's datapoints; return where they came from and, for a NoData day, why."""
    drop_tables(con, STAGE)
    if cloudwatch.mode == "api":
        series = fmt.fetch_metric_series(cloudwatch.client(), day, cloudwatch.buckets or None)
        origin = f"GetMetricData ({len(series)} series)"
        if not series:
            return origin, f"GetMetricData returned no AWS/S3 series for {day}"
        load = fmt.stage_cloudwatch_series(con, series, day, stage=STAGE)
    else:
        key = cloudwatch.jsonl_key(day)
        origin = source.describe(key)
        if not source.exists(key):
            return origin, f"{origin} is missing"
        load = fmt.stage_cloudwatch_jsonl(con, [(key, source.local_path(key))], day, stage=STAGE)
    return origin, None if load.points else f"{origin} has no datapoint on {day}"


def load_day(con, day, source: SourceStore, cloudwatch: CloudWatchSource) -> DayResult:
    origin, no_data = stage_day(con, day, source, cloudwatch)
    if no_data is None:
        (rows,) = replace_partitions(
            con, [Replacement("raw.cloudwatch_metrics", STAGE, "usage_date = ?", [day])]
        )
    else:
        rows = scalar(con, "SELECT count(*) FROM raw.cloudwatch_metrics WHERE usage_date = ?", [day])
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
    present = Check(True, {"origin": origin}, severity=WARN)
    storage = Check(storage_series > 0, {"series": storage_series})
    if no_data is not None:
        kept = f"kept the {rows:,} rows loaded before" if rows else "nothing loaded for it"
        present = Check(
            False,
            {"origin": origin, "rows_kept": rows},
            description=f"NoData for {day}: {no_data}; {kept}.",
            severity=WARN,
        )
        if not rows:  # nothing to check on a NoData day: the warning above says so once
            storage = Check(False, {"series": 0}, description=f"NoData for {day}.", severity=WARN)
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "rows": rows,
            "origin": origin,
            "no_data": no_data or "",
            "series": len(summary),
            "summary": markdown_table(
                ["bucket", "metric", "dimension", "stat", "points", "day value"],
                [(b, m, d, s, n, f"{v:,.1f}") for b, m, d, s, n, v in summary],
            ),
        },
        checks={
            "cloudwatch_data_present": present,
            "storage_metrics_present": storage,
            "values_non_negative": Check(negatives == 0, {"negative": int(negatives)}),
        },
    )


@daily_asset(
    "cloudwatch_metrics",
    "raw",
    checks=(
        CheckSpec(
            "cloudwatch_data_present",
            "The day's CloudWatch export is there; a missing day is NoData (a warning naming the day and the "
            "file), and rows loaded before are kept.",
        ),
        CheckSpec("storage_metrics_present", "BucketSizeBytes is reported for the day."),
        CheckSpec("values_non_negative", "No negative sizes, counts or latencies."),
    ),
    kinds=("duckdb", "aws"),
    code_version="2",
)
def cloudwatch_metrics(
    context: dg.AssetExecutionContext, source: SourceStore, warehouse: Warehouse, cloudwatch: CloudWatchSource
) -> dg.MaterializeResult:
    """One row per datapoint: bucket storage per StorageType (daily) and request metrics per FilterId
    (hourly or per minute), from GetMetricData or from the day's JSON Lines file."""
    with source_failures(), warehouse.connect() as con:
        con.execute(fmt.TABLE_DDL)
        results = [load_day(con, day, source, cloudwatch) for day in window_days(context)]
    for result in results:
        if result.metadata["no_data"]:
            context.log.warning(result.checks["cloudwatch_data_present"].description)
    return window_result(results)
