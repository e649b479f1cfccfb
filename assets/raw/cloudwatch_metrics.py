"""raw.cloudwatch_metrics: one row per CloudWatch AWS/S3 datapoint timestamped on the partition day."""

from __future__ import annotations

import dagster as dg

from assets.metadata import markdown_table
from bucketlens.formats import cloudwatch as fmt
from pipelines.partitions import daily_partitions, partition_day
from resources.cloudwatch import CloudWatchSource
from resources.source_store import SourceStore
from resources.warehouse import Replacement, Warehouse, replace_partitions

ASSET = dg.AssetKey("cloudwatch_metrics")


@dg.asset(
    key=ASSET,
    group_name="raw",
    partitions_def=daily_partitions,
    kinds={"duckdb", "aws"},
    pool="duckdb_writer",
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec("storage_metrics_present", asset=ASSET, description="BucketSizeBytes is reported for the day."),
        dg.AssetCheckSpec("values_non_negative", asset=ASSET, description="No negative sizes, counts or latencies."),
    ],
)
def cloudwatch_metrics(
    context: dg.AssetExecutionContext, source: SourceStore, warehouse: Warehouse, cloudwatch: CloudWatchSource
) -> dg.MaterializeResult:
    """One row per datapoint: bucket storage per StorageType (daily) and request metrics per FilterId
    (hourly or per minute), from GetMetricData or from the day's JSON Lines file."""
    day = partition_day(context)
    with warehouse.connect() as con:
        con.execute(fmt.TABLE_DDL)
        if cloudwatch.mode == "api":
            series = fmt.fetch_metric_series(cloudwatch.client(), day, cloudwatch.buckets or None)
            fmt.stage_cloudwatch_series(con, series, day)
            origin = f"GetMetricData ({len(series)} series)"
        else:
            key = cloudwatch.jsonl_key(day)
            if not source.exists(key):
                raise dg.Failure(description=f"No CloudWatch export for {day}: {source.describe(key)} is missing.")
            fmt.stage_cloudwatch_jsonl(con, [(key, source.local_path(key))], day)
            origin = source.describe(key)
        (rows,) = replace_partitions(
            con, [Replacement("raw.cloudwatch_metrics", "stage_cloudwatch_metrics", "usage_date = ?", [day])]
        )
        summary = con.execute(
            """SELECT bucket, metric_name, dimension_value, stat, count(*),
                      CASE WHEN stat = 'Sum' THEN sum(value) ELSE avg(value) END
               FROM raw.cloudwatch_metrics WHERE usage_date = ? GROUP BY ALL ORDER BY 1, 2, 3""",
            [day],
        ).fetchall()
        negatives = con.execute(
            "SELECT count(*) FROM raw.cloudwatch_metrics WHERE usage_date = ? AND value < 0", [day]
        ).fetchall()[0][0]
    storage_series = sum(1 for s in summary if s[1] == "BucketSizeBytes")
    return dg.MaterializeResult(
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
        check_results=[
            dg.AssetCheckResult(
                check_name="storage_metrics_present", passed=storage_series > 0, metadata={"series": storage_series}
            ),
            dg.AssetCheckResult(check_name="values_non_negative", passed=negatives == 0, metadata={"negative": int(negatives)}),
        ],
    )
