"""anomaly.user_anomaly_scores: how unusual each user's day is, against their own history.

Robust scores (median / MAD of the user's trailing days, same-weekday when there is enough history, the
plan cohort while the history is short), with absolute floors so tiny users do not flap, and a reason a
person can read.
"""

import dagster as dg

from assets.anomaly.store import counted_problems, store_day
from assets.metadata import markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.anomaly import stage_user_anomaly_scores
from resources.rules import RulesFile
from resources.warehouse import Warehouse, drop_tables

TABLE = "anomaly.user_anomaly_scores"
WELL_FORMED = CheckSpec(
    "scores_well_formed",
    "One score per user and metric, never NaN or infinite; every anomaly has a score and a reason.",
)
PROBLEMS_SQL = f"""
SELECT count(*) FILTER (WHERE user_id IS NULL OR metric IS NULL) AS unnamed,
       count(*) - count(DISTINCT (user_id, metric)) AS repeated,
       count(*) FILTER (WHERE isnan(score) OR isinf(score) OR isnan(value) OR isinf(value)) AS not_finite,
       count(*) FILTER (WHERE is_anomaly AND (score IS NULL OR reason IS NULL OR reason = '')) AS unexplained
FROM {TABLE} WHERE usage_date = ?
"""


def scores_well_formed(con, day) -> Check:
    """A NaN score compares false with every threshold: a user would never alarm, silently."""
    return counted_problems(con, PROBLEMS_SQL, [day], day, "score")


def load_day(con, day, rules) -> DayResult:
    drop_tables(con, "stage_user_anomaly_scores")
    stats = stage_user_anomaly_scores(con, day, rules, out="stage_user_anomaly_scores")
    rows = store_day(con, TABLE, "stage_user_anomaly_scores", day)
    top = con.execute(
        f"""SELECT user_id, metric, round(score, 1), baseline_source, reason FROM {TABLE}
            WHERE usage_date = ? AND is_anomaly ORDER BY score DESC LIMIT 10""",
        [day],
    ).fetchall()
    anomalies = con.execute(
        f"SELECT count(*) FROM {TABLE} WHERE usage_date = ? AND is_anomaly", [day]
    ).fetchall()[0][0]
    metadata = {
        "dagster/row_count": rows,
        "anomalies": dg.MetadataValue.int(int(anomalies)),
        "users_scored": dg.MetadataValue.int(int(stats.get("users", 0))),
        "evidence_query": f"SELECT * FROM {TABLE} WHERE usage_date = '{day}' AND is_anomaly",
    }
    if top:
        metadata["top_anomalies"] = markdown_table(["user", "metric", "score", "baseline", "reason"], top)
    return DayResult(day, metadata, {WELL_FORMED.name: scores_well_formed(con, day)})


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
    loaded = rules.load()
    with warehouse.connect() as con:
        results = [load_day(con, day, loaded) for day in window_days(context)]
    return window_result(results)
