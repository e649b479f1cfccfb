"""raw.cloudwatch_metrics: one row per CloudWatch AWS/S3 (and AWS/CloudFront) datapoint timestamped on the partition day.

CloudWatch is a cross-check, not the bill: a day without its export (the file missing, or the API
answering nothing) is *NoData* for that day — a warning naming the day and the file, never zero, never
a reason to fail the other days of a range, and never a reason to delete a day loaded before.
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.raw.guards import source_failures
from assets.window import Check, CheckSpec, DayResult, daily_asset, detail_day, window_days, window_result
from bucketlens.formats import cloudwatch as fmt
from bucketlens.formats.cloudwatch_api import fetch_metric_series
from resources.cloudwatch import CloudWatchSource
from resources.source_store import SourceStore
from resources.warehouse import Replacement, Warehouse, drop_tables, replace_partitions

ASSET = dg.AssetKey("cloudwatch_metrics")
WARN = dg.AssetCheckSeverity.WARN
STAGE = "stage_cloudwatch_metrics"


SUMMARY_SQL = """
SELECT usage_date, bucket, metric_name, dimension_value, stat, count(*) AS points,
       CASE WHEN stat = 'Sum' THEN sum(value) ELSE avg(value) END AS day_value,
       count(*) FILTER (WHERE value < 0) AS negative
FROM raw.cloudwatch_metrics WHERE usage_date BETWEEN ? AND ?
GROUP BY usage_date, bucket, metric_name, dimension_value, stat ORDER BY 1, 2, 3, 4
"""


def stage_window(con, days, source: SourceStore, cloudwatch: CloudWatchSource) -> dict:
    """Stage every day's datapoints (the files of the window in one read); return each day's
    (origin, why it is NoData or None)."""
    drop_tables(con, STAGE)
    con.execute(fmt.STAGE_DDL.format(stage=STAGE))
    found: dict = {}
    if cloudwatch.mode == "api":
        for day in days:
            series = fetch_metric_series(cloudwatch.client(), day, cloudwatch.buckets or None)
            origin = f"GetMetricData ({len(series)} series)"
            if not series:
                found[day] = (origin, f"GetMetricData returned no AWS/S3 series for {day}")
                continue
            load = fmt.stage_cloudwatch_series(con, series, day, stage=STAGE)
            found[day] = (origin, None if load.points else f"{origin} has no datapoint on {day}")
        return found
    files = {}
    for day in days:
        key = cloudwatch.jsonl_key(day)
        origin = source.describe(key)
        if source.exists(key):
            files[day] = (key, source.local_path(key))
        else:
            found[day] = (origin, f"{origin} is missing")
    for day, load in fmt.stage_cloudwatch_jsonl_days(con, files, stage=STAGE).items():
        origin = source.describe(files[day][0])
        found[day] = (origin, None if load.points else f"{origin} has no datapoint on {day}")
    return found


def load_window(con, days, source: SourceStore, cloudwatch: CloudWatchSource) -> list[DayResult]:
    """Replace the days that have data in one transaction (a NoData day keeps what it had), then read
    every day's figures with one grouped query."""
    found = stage_window(con, days, source, cloudwatch)
    with_data = [day for day in days if found[day][1] is None]
    if with_data:
        replace_partitions(
            con,
            [Replacement("raw.cloudwatch_metrics", STAGE, "list_contains(?, usage_date)", [with_data])],
        )
    summaries: dict = {day: [] for day in days}
    for day, *row in con.execute(SUMMARY_SQL, [days[0], days[-1]]).fetchall():
        summaries[day].append(row)
    return [day_result(day, *found[day], summaries[day], day == detail_day(days)) for day in days]


def day_result(day, origin: str, no_data: str | None, summary: list, detail: bool) -> DayResult:
    rows = sum(s[4] for s in summary)
    negatives = sum(s[6] for s in summary)
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
    metadata = {
        "dagster/row_count": rows,
        "rows": rows,
        "origin": origin,
        "no_data": no_data or "",
        "series": len(summary),
    }
    if detail:
        metadata["summary"] = markdown_table(
            ["bucket", "metric", "dimension", "stat", "points", "day value"],
            [(b, m, d, s, n, f"{v:,.1f}") for b, m, d, s, n, v, _ in summary],
        )
    return DayResult(
        day,
        metadata=metadata,
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
        results = load_window(con, window_days(context), source, cloudwatch)
    for result in results:
        if result.metadata["no_data"]:
            context.log.warning(result.checks["cloudwatch_data_present"].description)
    return window_result(results)
