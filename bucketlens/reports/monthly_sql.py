"""SQL behind the monthly report (partition day ``$day``: the calendar month containing it, to date)."""

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
