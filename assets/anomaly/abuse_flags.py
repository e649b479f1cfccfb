"""anomaly.abuse_flags: users whose behaviour matches an abuse pattern of the rules file.

Each flag carries the figure, the threshold and its evidence (request ids, object keys, IPs as JSON, and
the table they are in), so a flag in the UI leads to the rows that caused it.
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
from bucketlens.anomaly import stage_abuse_flags_window
from bucketlens.anomaly.abuse import PATTERNS
from resources.rules import RulesFile
from resources.warehouse import Warehouse

TABLE = "anomaly.abuse_flags"
STAGE = "stage_abuse_flags"
EVIDENCE_QUERY = "SELECT * FROM anomaly.abuse_flags WHERE usage_date = '{day}' AND user_id = '<user>'"
SEVERITIES = ["info", "warning", "critical"]
EXPLAINED = CheckSpec(
    "flags_are_explained",
    "Every flag names its user and pattern, a known severity, a value at or over its threshold and JSON "
    "evidence with the table it comes from; one flag per user and pattern.",
)
PROBLEMS_SQL = f"""
SELECT usage_date,
       count(*) FILTER (WHERE user_id IS NULL OR pattern IS NULL) AS unnamed,
       count(*) FILTER (WHERE NOT list_contains($severities, severity)) AS unknown_severity,
       count(*) FILTER (WHERE value IS NULL OR threshold IS NULL OR value < threshold) AS under_threshold,
       count(*) FILTER (WHERE evidence_table IS NULL OR evidence IS NULL OR NOT json_valid(evidence))
           AS without_evidence,
       count(*) - count(DISTINCT (user_id, pattern)) AS repeated
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
"""
FIGURES_SQL = f"""
SELECT usage_date, count(DISTINCT user_id) AS users FROM {TABLE}
WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
"""
BY_PATTERN_SQL = (
    f"SELECT pattern, count(*) FROM {TABLE} WHERE usage_date = ? GROUP BY pattern ORDER BY pattern"
)
SAMPLE_SQL = f"""
SELECT user_id, pattern, severity, value, threshold, evidence_table, left(evidence, 160)
FROM {TABLE} WHERE usage_date = ? ORDER BY severity = 'critical' DESC, pattern, user_id LIMIT 15
"""


def flags_are_explained(con, days) -> dict:
    """Per day: a flag an operator cannot follow back to its rows, or one under its own line, is a
    detector bug."""
    params = {"start": days[0], "end": days[-1], "severities": SEVERITIES}
    return counted_problems(con, PROBLEMS_SQL, params, days, "flag")


def load_window(con, days, rules) -> list[DayResult]:
    """Every pattern over the whole window in one statement each, one replacement of the window's days."""
    rows = detect_and_store(con, stage_abuse_flags_window, rules, TABLE, STAGE, days)
    checks = flags_are_explained(con, days)
    results = []
    for day, f, metadata in loaded_days(rows, window_figures(con, FIGURES_SQL, days)):
        metadata["flags"] = dg.MetadataValue.int(rows[day])
        metadata["users_flagged"] = dg.MetadataValue.int(int(f.get("users", 0)))
        metadata["evidence_query"] = EVIDENCE_QUERY.format(day=day)
        if day == detail_day(days):
            counts = dict(con.execute(BY_PATTERN_SQL, [day]).fetchall())
            metadata["by_pattern"] = markdown_table(
                ["pattern", "flags"], sorted((p, counts.get(p, 0)) for p in PATTERNS)
            )
            sample = con.execute(SAMPLE_SQL, [day]).fetchall()
            if sample:
                metadata["flags_sample"] = markdown_table(
                    ["user", "pattern", "severity", "value", "threshold", "evidence in", "evidence"], sample
                )
        results.append(DayResult(day, metadata, {EXPLAINED.name: checks[day]}))
    return results


@daily_asset(
    "abuse_flags",
    "anomaly",
    checks=(EXPLAINED,),
    deps=(
        "user_daily_storage",
        "user_daily_requests",
        "user_quota_use",
        "user_daily_cost",
        "access_log_requests",
        "inventory_objects",
        "user_daily_cdn",
    ),
)
def abuse_flags(
    context: dg.AssetExecutionContext, warehouse: Warehouse, rules: RulesFile
) -> dg.MaterializeResult:
    """One row per user, pattern and day where the pattern's threshold is crossed: rapid upload, daily
    upload volume, duplicate data, non-photo content, sharing abuse, failed-access storm, large object,
    over plan limit, quota above 80 %, more than 5 TB stored, cost above $2 this month."""
    return load_in_warehouse(context, warehouse, load_window, rules.load())
