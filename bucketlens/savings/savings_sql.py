"""Reading the savings tables for a day: totals, top opportunities, leaks and KPIs (the weekly digest, the
monthly report's savings section, the statements). Tables that do not exist yet read as empty."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

RECOMMENDATIONS = "savings.storage_recommendations"
LEAKS = "savings.storage_leaks"
KPIS = "usage.service_daily_kpis"

TOTALS_SQL = f"""
SELECT count(*) AS rows,
       count(DISTINCT user_id) FILTER (WHERE best_for_user) AS users,
       coalesce(sum(monthly_saving_usd) FILTER (WHERE best_for_user), 0) AS saving,
       coalesce(sum(transition_cost_usd) FILTER (WHERE best_for_user), 0) AS transition,
       coalesce(sum(bytes) FILTER (WHERE best_for_user), 0) AS bytes,
       max(observed_days) AS observed_days, min(price_as_of) AS price_as_of
FROM {RECOMMENDATIONS} WHERE usage_date = $day
"""

TOP_SAVINGS_SQL = f"""
SELECT user_id, bucket, storage_class, transition_age_days, min_object_bytes, max_object_bytes, objects, bytes,
       cold_bytes, monthly_saving_usd, storage_saving_usd, monitoring_usd, retrieval_usd, early_delete_usd,
       transition_cost_usd, break_even_months, lifecycle_rule
FROM {RECOMMENDATIONS} WHERE usage_date = $day AND best_for_user
ORDER BY monthly_saving_usd DESC, user_id, bucket LIMIT $top
"""

BY_CLASS_SQL = f"""
SELECT storage_class, count(*) FILTER (WHERE recommended) AS users,
       coalesce(sum(monthly_saving_usd) FILTER (WHERE recommended), 0) AS saving,
       coalesce(sum(bytes) FILTER (WHERE recommended), 0) AS bytes,
       count(*) FILTER (WHERE monthly_saving_usd < 0) AS losing
FROM {RECOMMENDATIONS} WHERE usage_date = $day GROUP BY storage_class ORDER BY saving DESC, storage_class
"""

LEAK_TOTALS_SQL = f"""
SELECT leak_type, count(DISTINCT user_id) AS users, sum(objects) AS objects, sum(bytes) AS bytes,
       sum(monthly_cost_usd) AS usd
FROM {LEAKS} WHERE usage_date = $day GROUP BY leak_type ORDER BY usd DESC, leak_type
"""

TOP_LEAKS_SQL = f"""
SELECT leak_type, user_id, bucket, user_status, objects, bytes, monthly_cost_usd, oldest, cleanup_kind
FROM {LEAKS} WHERE usage_date = $day
ORDER BY monthly_cost_usd DESC, bytes DESC, leak_type, user_id LIMIT $top
"""

# The KPIs of the month to date: the day's value, the month's average of the daily values, the days
# that missed the target.
KPI_MONTH_SQL = f"""
SELECT kpi, unit, arg_max(display, usage_date) AS latest, arg_max(value, usage_date) AS latest_value,
       avg(value) AS month_average, any_value(target) AS target, any_value(direction) AS direction,
       count(*) FILTER (WHERE meets_target = false) AS days_missed, count(value) AS days
FROM {KPIS} WHERE usage_date BETWEEN date_trunc('month', CAST($day AS DATE)) AND $day
GROUP BY kpi, unit
"""

# One user's numbers for the statements: the best recommended class and the leaks, as of the day.
USER_SAVINGS_SQL = f"""
SELECT user_id,
       arg_max(storage_class, monthly_saving_usd) AS recommended_class,
       CAST(sum(monthly_saving_usd) AS DECIMAL(18, 6)) AS recommended_saving_usd
FROM {RECOMMENDATIONS} WHERE usage_date = $day AND best_for_user GROUP BY user_id
"""
USER_LEAKS_SQL = f"""
SELECT user_id, sum(bytes) AS leak_bytes, CAST(sum(monthly_cost_usd) AS DECIMAL(18, 6)) AS leak_monthly_usd
FROM {LEAKS} WHERE usage_date = $day GROUP BY user_id
"""


def exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".", 1)
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()[0][0]
    return bool(found)


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> list[dict]:
    """All rows as dicts; none when a table the query reads does not exist yet (a report built before the
    savings layer ran)."""
    if not all(exists(con, t) for t in (RECOMMENDATIONS, LEAKS, KPIS) if t in sql):
        return []
    result = con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]
