"""anomaly.service_anomalies: the service as a whole crossing a line — cost spike, storage growth,
request rate, error rate, latency, month-over-month cost — each with value, baseline and threshold."""

import dagster as dg

from assets.anomaly.store import counted_problems, detect_and_store
from assets.metadata import markdown_table
from assets.window import (
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    load_in_warehouse,
)
from bucketlens.anomaly import stage_service_anomalies_window
from bucketlens.anomaly.cdn import FLOOR_METRICS
from resources.rules import RulesFile
from resources.warehouse import Warehouse

TABLE = "anomaly.service_anomalies"
STAGE = "stage_service_anomalies"
SEVERITIES = ["info", "warning", "critical"]
OVER_THE_LINE = CheckSpec(
    "anomalies_over_their_line",
    "Every row is past its line (over it; under it for a floor such as the CDN hit rate), with a known "
    "severity and a reason; one row per bucket and metric.",
)
PROBLEMS_SQL = f"""
SELECT usage_date,
       count(*) FILTER (WHERE bucket IS NULL OR metric IS NULL) AS unnamed,
       count(*) FILTER (WHERE value IS NULL OR threshold IS NULL OR NOT CASE WHEN list_contains($floors, metric)
                                                                       THEN value < threshold
                                                                       ELSE value > threshold END)
           AS not_over_threshold,
       count(*) FILTER (WHERE NOT list_contains($severities, severity)) AS unknown_severity,
       count(*) FILTER (WHERE reason IS NULL OR reason = '') AS without_reason,
       count(*) - count(DISTINCT (bucket, metric)) AS repeated
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
"""
FOUND_SQL = f"""
SELECT bucket, metric, severity, value, baseline, threshold, reason FROM {TABLE} WHERE usage_date = ?
"""


def anomalies_over_their_line(con, days) -> dict:
    """Per day: each service rule fires only above its line (a missing day must not read as a zero that
    crosses it)."""
    params = {"start": days[0], "end": days[-1], "severities": SEVERITIES, "floors": list(FLOOR_METRICS)}
    return counted_problems(con, PROBLEMS_SQL, params, days, "row")


def load_window(con, days, rules) -> list[DayResult]:
    """Every rule over the whole window (each day against its own trailing baseline and previous month),
    one replacement of the window's days."""
    rows = detect_and_store(con, stage_service_anomalies_window, rules, TABLE, STAGE, days)
    checks = anomalies_over_their_line(con, days)
    results = []
    for day in days:
        metadata = {"dagster/row_count": rows[day], "anomalies": dg.MetadataValue.int(rows[day])}
        found = con.execute(FOUND_SQL, [day]).fetchall() if day == detail_day(days) else []
        if found:
            metadata["anomalies_found"] = markdown_table(
                ["bucket", "metric", "severity", "value", "baseline", "threshold", "reason"], found
            )
        results.append(DayResult(day, metadata, {OVER_THE_LINE.name: checks[day]}))
    return results


@daily_asset(
    "service_anomalies",
    "anomaly",
    checks=(OVER_THE_LINE,),
    deps=("service_daily_metrics", "user_daily_cost", "cost_line_items", "service_daily_cdn"),
)
def service_anomalies(
    context: dg.AssetExecutionContext, warehouse: Warehouse, rules: RulesFile
) -> dg.MaterializeResult:
    """One row per bucket, metric and day where a service rule fires, with value, baseline, threshold."""
    return load_in_warehouse(context, warehouse, load_window, rules.load())
