"""anomaly.service_anomalies: the service as a whole crossing a line — cost spike, storage growth,
request rate, error rate, latency, month-over-month cost — each with value, baseline and threshold."""

import dagster as dg

from assets.anomaly.store import counted_problems, store_day
from assets.metadata import markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.anomaly import stage_service_anomalies
from resources.rules import RulesFile
from resources.warehouse import Warehouse, drop_tables

TABLE = "anomaly.service_anomalies"
SEVERITIES = ["info", "warning", "critical"]
OVER_THE_LINE = CheckSpec(
    "anomalies_over_their_line",
    "Every row is over its threshold, with a known severity and a reason; one row per bucket and metric.",
)
PROBLEMS_SQL = f"""
SELECT count(*) FILTER (WHERE bucket IS NULL OR metric IS NULL) AS unnamed,
       count(*) FILTER (WHERE value IS NULL OR threshold IS NULL OR NOT value > threshold) AS not_over_threshold,
       count(*) FILTER (WHERE NOT list_contains($severities, severity)) AS unknown_severity,
       count(*) FILTER (WHERE reason IS NULL OR reason = '') AS without_reason,
       count(*) - count(DISTINCT (bucket, metric)) AS repeated
FROM {TABLE} WHERE usage_date = $day
"""


def anomalies_over_their_line(con, day) -> Check:
    """Each service rule fires only above its line (a missing day must not read as a zero that crosses it)."""
    return counted_problems(con, PROBLEMS_SQL, {"day": day, "severities": SEVERITIES}, day, "row")


def load_day(con, day, rules) -> DayResult:
    drop_tables(con, "stage_service_anomalies")
    stage_service_anomalies(con, day, rules, out="stage_service_anomalies")
    rows = store_day(con, TABLE, "stage_service_anomalies", day)
    found = con.execute(
        f"SELECT bucket, metric, severity, value, baseline, threshold, reason FROM {TABLE} WHERE usage_date = ?",
        [day],
    ).fetchall()
    metadata = {"dagster/row_count": rows, "anomalies": dg.MetadataValue.int(rows)}
    if found:
        metadata["anomalies_found"] = markdown_table(
            ["bucket", "metric", "severity", "value", "baseline", "threshold", "reason"], found
        )
    return DayResult(day, metadata, {OVER_THE_LINE.name: anomalies_over_their_line(con, day)})


@daily_asset(
    "service_anomalies",
    "anomaly",
    checks=(OVER_THE_LINE,),
    deps=("service_daily_metrics", "user_daily_cost", "cost_line_items"),
)
def service_anomalies(
    context: dg.AssetExecutionContext, warehouse: Warehouse, rules: RulesFile
) -> dg.MaterializeResult:
    """One row per bucket, metric and day where a service rule fires, with value, baseline, threshold."""
    loaded = rules.load()
    with warehouse.connect() as con:
        results = [load_day(con, day, loaded) for day in window_days(context)]
    return window_result(results)
