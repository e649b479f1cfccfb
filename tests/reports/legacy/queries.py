"""The per-day queries as the day-by-day reports ran them (frozen copy, bucketlens at commit 369aad3:
``daily_sql``, ``monthly_sql``, the per-day halves of ``alerts_today``, ``cost_sql``, ``weekly`` and
``monthly``): one query per figure and day. The legacy pages read their figures through these, so the
set-based window queries are compared with them (``tests/reports/test_windows.py``). Not to be
extended."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb

from bucketlens.reports import fmt
from bucketlens.reports.alerts_today import DayAlerts
from bucketlens.reports.cost_sql import by_category, total
from bucketlens.reports.warehouse import has_columns, rows
from bucketlens.reports.weekly import WeekCost

ALERT_EVENTS = "alerts.alert_events"


# The service over the 30 days ending $day, one row per day whether or not it has data (a gap stays a gap).
# Rates are weighted by requests across buckets; storage and objects are summed over buckets; active users
# are the service's distinct count (a user active in two buckets is one user), never a sum over buckets.
SERVICE_DAYS_SQL = """
WITH days AS (
    SELECT d::DATE AS usage_date
    FROM generate_series(($day::DATE - 29)::TIMESTAMP, $day::TIMESTAMP, INTERVAL 1 DAY) t(d)
),
service AS (
    SELECT usage_date, sum(total_bytes) AS total_bytes, sum(object_count) AS object_count,
           max(service_active_users) AS active_users, sum(request_count) AS request_count,
           sum(error_rate * request_count) / nullif(sum(request_count), 0) AS error_rate,
           sum(availability * request_count) / nullif(sum(request_count), 0) AS availability,
           sum(avg_latency_ms * request_count) / nullif(sum(request_count), 0) AS avg_latency_ms
    FROM usage.service_daily_metrics
    WHERE usage_date BETWEEN $day::DATE - 29 AND $day
    GROUP BY usage_date
),
cost AS (
    SELECT usage_date, sum(amount_usd) AS cost_usd, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost WHERE usage_date BETWEEN $day::DATE - 29 AND $day
    GROUP BY usage_date
)
SELECT * FROM days LEFT JOIN service USING (usage_date) LEFT JOIN cost USING (usage_date)
ORDER BY usage_date
"""

# Per user: bytes and objects on $day and the day before. Growth is NULL when the day before has no
# storage rows at all (the first loaded day), rather than every user's whole storage counted as growth.
USER_STORAGE_SQL = """
CREATE OR REPLACE TEMP TABLE report_user_storage AS
WITH today AS (
    SELECT user_id, sum(bytes) AS bytes, sum(object_count) AS objects, sum(bytes_added) AS bytes_added
    FROM usage.user_daily_storage WHERE usage_date = $day AND user_id <> '_shared' GROUP BY user_id
),
before AS (
    SELECT user_id, sum(bytes) AS bytes
    FROM usage.user_daily_storage WHERE usage_date = $day::DATE - 1 AND user_id <> '_shared' GROUP BY user_id
)
SELECT t.user_id, q.plan, t.bytes, t.objects, t.bytes_added, q.quota_use_pct,
       CASE WHEN (SELECT count(*) FROM before) > 0 THEN t.bytes - coalesce(b.bytes, 0) END AS growth
FROM today t
LEFT JOIN before b USING (user_id)
LEFT JOIN cost.user_quota_use q ON q.user_id = t.user_id AND q.usage_date = $day
"""
TOP_STORAGE_SQL = "SELECT * FROM report_user_storage ORDER BY bytes DESC, user_id LIMIT 10"
TOP_GROWTH_SQL = """
SELECT * FROM report_user_storage WHERE growth > 0 ORDER BY growth DESC, user_id LIMIT 10
"""

TOP_COST_SQL = """
WITH month AS (
    SELECT user_id, category, sum(amount_usd) FILTER (WHERE usage_date = $day) AS day_usd,
           sum(amount_usd) AS mtd_usd
    FROM cost.user_daily_cost
    WHERE usage_date BETWEEN date_trunc('month', $day::DATE) AND $day AND user_id <> '_shared'
    GROUP BY user_id, category
),
per_user AS (
    SELECT user_id, sum(day_usd) AS day_usd, sum(mtd_usd) AS mtd_usd, arg_max(category, day_usd) AS main_category
    FROM month GROUP BY user_id
)
SELECT p.*, u.plan FROM per_user p
LEFT JOIN raw.users u ON u.user_id = p.user_id AND u.snapshot_date = $day
WHERE p.day_usd IS NOT NULL
ORDER BY p.day_usd DESC, p.user_id LIMIT 10
"""


# Cost per calendar month for the six months ending with $day's month; the current month to date.
# Months without any cost row are absent here and shown as missing, never as $0.
MONTHS_SQL = """
SELECT date_trunc('month', usage_date)::DATE AS month, sum(amount_usd) AS usd,
       count(DISTINCT usage_date) AS days, bool_or(is_estimate) AS is_estimate
FROM cost.user_daily_cost
WHERE usage_date BETWEEN date_trunc('month', $day::DATE) - INTERVAL 5 MONTH AND $day
GROUP BY ALL ORDER BY month
"""

# Month to date against the same days of the month before (as the month_over_month_cost rule compares):
# a comparison only counts when last month has at least as many days of cost as this one.
MONTH_OVER_MONTH_SQL = """
SELECT
    (SELECT sum(amount_usd) FROM cost.user_daily_cost
     WHERE usage_date BETWEEN date_trunc('month', $day::DATE) AND $day) AS usd,
    (SELECT count(DISTINCT usage_date) FROM cost.user_daily_cost
     WHERE usage_date BETWEEN date_trunc('month', $day::DATE) AND $day) AS days,
    (SELECT sum(amount_usd) FROM cost.user_daily_cost
     WHERE usage_date >= date_trunc('month', $day::DATE) - INTERVAL 1 MONTH
       AND usage_date <= $day::DATE - INTERVAL 1 MONTH AND usage_date < date_trunc('month', $day::DATE))
        AS previous_usd,
    (SELECT count(DISTINCT usage_date) FROM cost.user_daily_cost
     WHERE usage_date >= date_trunc('month', $day::DATE) - INTERVAL 1 MONTH
       AND usage_date <= $day::DATE - INTERVAL 1 MONTH AND usage_date < date_trunc('month', $day::DATE))
        AS previous_days
"""

PLAN_MARGIN_SQL = """
SELECT plan, max(users) AS users, sum(cost_usd) AS cost_usd, sum(revenue_usd) AS revenue_usd,
       sum(margin_usd) AS margin_usd, count(*) AS days, bool_or(is_estimate) AS is_estimate
FROM cost.plan_daily_margin
WHERE usage_date BETWEEN date_trunc('month', $day::DATE) AND $day
GROUP BY plan ORDER BY cost_usd DESC, plan
"""

QUOTA_SUMMARY_SQL = """
SELECT count(*) FILTER (WHERE quota_use_pct > 80) AS over_80,
       count(*) FILTER (WHERE quota_use_pct > 100) AS over_100,
       count(*) AS users
FROM cost.user_quota_use WHERE usage_date = $day
"""

FULLEST_SQL = """
SELECT user_id, plan, stored_bytes, quota_bytes, quota_use_pct FROM cost.user_quota_use
WHERE usage_date = $day AND quota_use_pct > 80 ORDER BY quota_use_pct DESC, user_id LIMIT 10
"""


EVENT_COLUMNS = ("rule", "severity", "subject", "state", "value", "threshold", "usage_date", "reason")
SEVERITY_ORDER = "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"

EVENTS_SQL = f"""
SELECT rule, severity, subject, state, value, threshold, reason
FROM alerts.alert_events WHERE usage_date = $day
ORDER BY {SEVERITY_ORDER}, rule, subject
"""
DETECTIONS_SQL = f"""
SELECT * FROM (
    SELECT metric AS rule, severity, 'bucket ' || bucket AS subject, 'detected' AS state, value, threshold,
           reason
    FROM anomaly.service_anomalies WHERE usage_date = $day
    UNION ALL
    SELECT pattern, severity, 'user ' || user_id, 'detected', value, threshold,
           pattern || ': ' || CASE WHEN threshold >= 1048576  -- a byte threshold (sizes are >= 1 MiB)
               THEN format_bytes(value::BIGINT) || ' (threshold ' || format_bytes(threshold::BIGINT) || ')'
               ELSE round(value, 2) || ' (threshold ' || round(threshold, 2) || ')' END
    FROM anomaly.abuse_flags WHERE usage_date = $day
)
ORDER BY {SEVERITY_ORDER}, rule, subject
"""
ABUSE_BY_PATTERN_SQL = """
SELECT pattern, any_value(severity) AS severity, count(*) AS flags, count(DISTINCT user_id) AS users
FROM anomaly.abuse_flags WHERE usage_date BETWEEN $start AND $day
GROUP BY pattern ORDER BY flags DESC, pattern
"""


def todays_alerts(con: duckdb.DuckDBPyConnection, day: date) -> DayAlerts:
    if has_columns(con, ALERT_EVENTS, *EVENT_COLUMNS):
        return DayAlerts(ALERT_EVENTS, rows(con, EVENTS_SQL, {"day": day}))
    if not (
        has_columns(con, "anomaly.service_anomalies", "metric")
        and has_columns(con, "anomaly.abuse_flags", "pattern")
    ):
        return DayAlerts("none (no alert or anomaly tables yet)", [])
    return DayAlerts(
        "anomaly.service_anomalies + anomaly.abuse_flags", rows(con, DETECTIONS_SQL, {"day": day})
    )


def abuse_by_pattern(con: duckdb.DuckDBPyConnection, start: date, day: date) -> list[dict]:
    """Flags per pattern between ``start`` and ``day`` (both included)."""
    if not has_columns(con, "anomaly.abuse_flags", "pattern"):
        return []
    return rows(con, ABUSE_BY_PATTERN_SQL, {"start": start, "day": day})


CATEGORY_DAYS_SQL = """
SELECT usage_date, category, sum(amount_usd) AS usd, bool_or(is_estimate) AS is_estimate
FROM cost.user_daily_cost WHERE usage_date BETWEEN $start AND $end
GROUP BY usage_date, category ORDER BY usage_date, category
"""

TOP_USERS_SQL = """
WITH spend AS (
    SELECT user_id, category,
           sum(amount_usd) FILTER (WHERE usage_date BETWEEN $start AND $end) AS usd,
           sum(amount_usd) FILTER (WHERE usage_date BETWEEN $prev_start AND $prev_end) AS prev_usd
    FROM cost.user_daily_cost
    WHERE usage_date BETWEEN $prev_start AND $end AND user_id <> '_shared'
    GROUP BY user_id, category
),
per_user AS (
    SELECT user_id, sum(usd) AS usd, sum(prev_usd) AS prev_usd, arg_max(category, usd) AS main_category
    FROM spend GROUP BY user_id
)
SELECT p.user_id, u.plan, p.usd, p.prev_usd, p.main_category
FROM per_user p LEFT JOIN raw.users u ON u.user_id = p.user_id AND u.snapshot_date = $end
WHERE p.usd IS NOT NULL
ORDER BY p.usd DESC, p.user_id LIMIT $limit
"""

REGISTERED_USERS_SQL = """
SELECT count(*) AS users FROM raw.users WHERE snapshot_date = $day
"""


def category_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[date, dict[str, Decimal]]:
    """{day: {category: usd}} for the days with cost rows between ``start`` and ``end``."""
    out: dict[date, dict[str, Decimal]] = {}
    for r in rows(con, CATEGORY_DAYS_SQL, {"start": start, "end": end}):
        out.setdefault(r["usage_date"], {})[r["category"]] = r["usd"]
    return out


def estimated_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> int:
    found = con.execute(
        "SELECT count(DISTINCT usage_date) FROM cost.user_daily_cost WHERE usage_date BETWEEN ? AND ? AND is_estimate",
        [start, end],
    ).fetchall()
    return int(found[0][0])


def top_users(
    con: duckdb.DuckDBPyConnection, start: date, end: date, prev_start: date, prev_end: date, limit: int = 10
) -> list[dict]:
    params = {"start": start, "end": end, "prev_start": prev_start, "prev_end": prev_end, "limit": limit}
    return rows(con, TOP_USERS_SQL, params)


def registered_users(con: duckdb.DuckDBPyConnection, day: date) -> int:
    return int(rows(con, REGISTERED_USERS_SQL, {"day": day})[0]["users"])


def one(con: duckdb.DuckDBPyConnection, sql: str, params) -> dict:
    found = rows(con, sql, params)
    return found[0] if found else {}


def month_over_month(con: duckdb.DuckDBPyConnection, day: date, ratio: float) -> dict:
    """Month to date against the same days of last month; ``change`` is None without a fair comparison."""
    mom = one(con, MONTH_OVER_MONTH_SQL, {"day": day})
    fair = mom["previous_days"] >= mom["days"] > 0 and (mom["previous_usd"] or 0) > 0
    change = fmt.change(mom["usd"], mom["previous_usd"]) if fair else None
    return {**mom, "change": change, "flagged": change is not None and change > ratio}


def week_cost(con: duckdb.DuckDBPyConnection, day: date) -> tuple[WeekCost, dict[date, dict[str, Decimal]]]:
    start, prev_end = day - timedelta(days=6), day - timedelta(days=7)
    prev_start = day - timedelta(days=13)
    days = category_days(con, start, day)
    previous = category_days(con, prev_start, prev_end)
    week = WeekCost(
        day=day,
        cost=total(days),
        previous_cost=total(previous) if len(previous) == 7 else None,
        categories=by_category(days),
        users=registered_users(con, day),
        estimated_days=estimated_days(con, start, day),
        top=top_users(con, start, day, prev_start, prev_end),
    )
    return week, days
