"""anomaly.user_anomaly_scores: how unusual each user's day is, against their own history.

Robust scores (median / MAD of the user's trailing days, same-weekday when there is enough history, the
plan cohort while the history is short), with absolute floors so tiny users do not flap, and a reason a
person can read.
"""

import dagster as dg

from assets.anomaly.store import counted_problems, detect_and_store
from assets.metadata import markdown_table
from assets.window import (
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    load_in_warehouse,
    loaded_days,
    window_figures,
)
from bucketlens.anomaly import stage_user_anomaly_scores_window
from resources.rules import RulesFile
from resources.warehouse import Warehouse

TABLE = "anomaly.user_anomaly_scores"
STAGE = "stage_user_anomaly_scores"
WELL_FORMED = CheckSpec(
    "scores_well_formed",
    "One score per user and metric, never NaN or infinite; every anomaly has a score and a reason.",
)
PROBLEMS_SQL = f"""
SELECT usage_date,
       count(*) FILTER (WHERE user_id IS NULL OR metric IS NULL) AS unnamed,
       count(*) - count(DISTINCT (user_id, metric)) AS repeated,
       count(*) FILTER (WHERE isnan(score) OR isinf(score) OR isnan(value) OR isinf(value)) AS not_finite,
       count(*) FILTER (WHERE is_anomaly AND (score IS NULL OR reason IS NULL OR reason = '')) AS unexplained
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
"""
FIGURES_SQL = f"""
SELECT usage_date, count(*) FILTER (WHERE is_anomaly) AS anomalies, count(DISTINCT user_id) AS users
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
"""
TOP_SQL = f"""
SELECT user_id, metric, round(score, 1), baseline_source, reason FROM {TABLE}
WHERE usage_date = ? AND is_anomaly ORDER BY score DESC LIMIT 10
"""


def scores_well_formed(con, days) -> dict:
    """Per day: a NaN score compares false with every threshold — a user would never alarm, silently."""
    return counted_problems(con, PROBLEMS_SQL, {"start": days[0], "end": days[-1]}, days, "score")


def load_window(con, days, rules) -> list[DayResult]:
    """Every day of the window scored in one statement (each against its own trailing history), one
    replacement of the window's days."""
    rows = detect_and_store(con, stage_user_anomaly_scores_window, rules, TABLE, STAGE, days)
    checks = scores_well_formed(con, days)
    results = []
    for day, f, metadata in loaded_days(rows, window_figures(con, FIGURES_SQL, days)):
        metadata["anomalies"] = dg.MetadataValue.int(int(f.get("anomalies", 0)))
        metadata["users_scored"] = dg.MetadataValue.int(int(f.get("users", 0)))
        metadata["evidence_query"] = f"SELECT * FROM {TABLE} WHERE usage_date = '{day}' AND is_anomaly"
        top = con.execute(TOP_SQL, [day]).fetchall() if day == detail_day(days) else []
        if top:
            metadata["top_anomalies"] = markdown_table(["user", "metric", "score", "baseline", "reason"], top)
        results.append(DayResult(day, metadata, {WELL_FORMED.name: checks[day]}))
    return results


@daily_asset(
    "user_anomaly_scores",
    "anomaly",
    checks=(WELL_FORMED,),
    deps=("user_daily_storage", "user_daily_requests", "user_daily_cost", "users"),
)
def user_anomaly_scores(
    context: dg.AssetExecutionContext, warehouse: Warehouse, rules: RulesFile
) -> dg.MaterializeResult:
    """One row per user, metric and day (stored bytes, growth, bytes added, PUT/GET requests, bytes
    downloaded, 4xx errors, cost): value, baseline, robust score, whether it is an anomaly, and why."""
    return load_in_warehouse(context, warehouse, load_window, rules.load())
