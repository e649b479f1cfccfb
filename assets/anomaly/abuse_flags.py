"""anomaly.abuse_flags: users whose behaviour matches an abuse pattern of the rules file.

Each flag carries the figure, the threshold and its evidence (request ids, object keys, IPs as JSON, and
the table they are in), so a flag in the UI leads to the rows that caused it.
"""

import dagster as dg

from assets.anomaly.store import counted_problems, store_day
from assets.metadata import markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.anomaly import stage_abuse_flags
from resources.rules import RulesFile
from resources.warehouse import Warehouse, drop_tables

TABLE = "anomaly.abuse_flags"
EVIDENCE_QUERY = "SELECT * FROM anomaly.abuse_flags WHERE usage_date = '{day}' AND user_id = '<user>'"
SEVERITIES = ["info", "warning", "critical"]
EXPLAINED = CheckSpec(
    "flags_are_explained",
    "Every flag names its user and pattern, a known severity, a value at or over its threshold and JSON "
    "evidence with the table it comes from; one flag per user and pattern.",
)
PROBLEMS_SQL = f"""
SELECT count(*) FILTER (WHERE user_id IS NULL OR pattern IS NULL) AS unnamed,
       count(*) FILTER (WHERE NOT list_contains($severities, severity)) AS unknown_severity,
       count(*) FILTER (WHERE value IS NULL OR threshold IS NULL OR value < threshold) AS under_threshold,
       count(*) FILTER (WHERE evidence_table IS NULL OR evidence IS NULL OR NOT json_valid(evidence))
           AS without_evidence,
       count(*) - count(DISTINCT (user_id, pattern)) AS repeated
FROM {TABLE} WHERE usage_date = $day
"""


def flags_are_explained(con, day) -> Check:
    """A flag an operator cannot follow back to its rows, or one under its own line, is a detector bug."""
    return counted_problems(con, PROBLEMS_SQL, {"day": day, "severities": SEVERITIES}, day, "flag")


def load_day(con, day, rules) -> DayResult:
    drop_tables(con, "stage_abuse_flags")
    counts = stage_abuse_flags(con, day, rules, out="stage_abuse_flags")
    rows = store_day(con, TABLE, "stage_abuse_flags", day)
    users = con.execute(
        f"SELECT count(DISTINCT user_id) FROM {TABLE} WHERE usage_date = ?", [day]
    ).fetchall()[0][0]
    sample = con.execute(
        f"""SELECT user_id, pattern, severity, value, threshold, evidence_table, left(evidence, 160)
            FROM {TABLE} WHERE usage_date = ? ORDER BY severity = 'critical' DESC, pattern, user_id LIMIT 15""",
        [day],
    ).fetchall()
    metadata = {
        "dagster/row_count": rows,
        "flags": dg.MetadataValue.int(rows),
        "users_flagged": dg.MetadataValue.int(int(users)),
        "by_pattern": markdown_table(["pattern", "flags"], sorted(counts.items())),
        "evidence_query": EVIDENCE_QUERY.format(day=day),
    }
    if sample:
        metadata["flags_sample"] = markdown_table(
            ["user", "pattern", "severity", "value", "threshold", "evidence in", "evidence"], sample
        )
    return DayResult(day, metadata, {EXPLAINED.name: flags_are_explained(con, day)})


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
    ),
)
def abuse_flags(
    context: dg.AssetExecutionContext, warehouse: Warehouse, rules: RulesFile
) -> dg.MaterializeResult:
    """One row per user, pattern and day where the pattern's threshold is crossed: rapid upload, daily
    upload volume, duplicate data, non-photo content, sharing abuse, failed-access storm, large object,
    over plan limit, quota above 80 %, more than 5 TB stored, cost above $2 this month."""
    loaded = rules.load()
    with warehouse.connect() as con:
        results = [load_day(con, day, loaded) for day in window_days(context)]
    return window_result(results)
