"""cost.plan_daily_margin: per plan and day, what the users pay against what their storage costs.

Revenue is the plan's monthly price (``BUCKETLENS_PLAN_PRICES``) spread over the days of the month for
each active user; cost is the attributed cost of the plan's users. ``_shared`` cost is its own row
(plan ``(shared)``), so the plans plus shared add up to the bill.
"""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    loaded_days,
    stage_and_replace,
    window_days,
    window_figures,
    window_result,
)
from resources.pricing import Pricing
from resources.warehouse import Warehouse

ASSET = dg.AssetKey("plan_daily_margin")
TABLE_DDL = """
CREATE TABLE IF NOT EXISTS cost.plan_daily_margin (
    usage_date DATE NOT NULL,
    plan VARCHAR NOT NULL,
    users BIGINT,
    active_users BIGINT,
    stored_bytes BIGINT,
    cost_usd DECIMAL(18, 6),
    revenue_usd DECIMAL(18, 6),
    margin_usd DECIMAL(18, 6),
    cost_per_user_month_usd DECIMAL(18, 6),
    is_estimate BOOLEAN
)"""

STAGE = "stage_plan_daily_margin"
# Every day of $start..$end at once: a user is joined to the same day's snapshot, cost and storage; the
# revenue of a day is the monthly price over the days of that day's month.
STAGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE {STAGE} AS
WITH people AS (
    SELECT snapshot_date AS usage_date, user_id, coalesce(plan, 'unknown') AS plan, status FROM raw.users
    WHERE snapshot_date BETWEEN $start AND $end
),
cost AS (
    SELECT usage_date, user_id, sum(amount_usd) AS usd, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost WHERE usage_date BETWEEN $start AND $end GROUP BY ALL
),
stored AS (
    SELECT usage_date, user_id, sum(bytes) AS bytes FROM usage.user_daily_storage
    WHERE usage_date BETWEEN $start AND $end GROUP BY ALL
),
per_user AS (
    SELECT usage_date, coalesce(p.user_id, c.user_id, s.user_id) AS user_id,
           CASE WHEN coalesce(p.user_id, c.user_id, s.user_id) = '_shared' THEN '(shared)'
                ELSE coalesce(p.plan, 'unregistered') END AS plan,
           p.status, coalesce(c.usd, 0) AS usd, coalesce(s.bytes, 0) AS bytes, c.is_estimate,
           dayofmonth(last_day(usage_date)) AS days_in_month
    FROM people p FULL JOIN cost c USING (usage_date, user_id) FULL JOIN stored s USING (usage_date, user_id)
),
prices AS (SELECT * FROM plan_prices)
SELECT u.usage_date, u.plan,
       count(*) FILTER (WHERE u.plan <> '(shared)') AS users,
       count(*) FILTER (WHERE u.status = 'active') AS active_users,
       sum(u.bytes)::BIGINT AS stored_bytes,
       sum(u.usd)::DECIMAL(18, 6) AS cost_usd,
       (count(*) FILTER (WHERE u.status = 'active') * coalesce(any_value(pr.monthly_usd), 0) / any_value(u.days_in_month))::DECIMAL(18, 6)
           AS revenue_usd,
       ((count(*) FILTER (WHERE u.status = 'active') * coalesce(any_value(pr.monthly_usd), 0) / any_value(u.days_in_month)) - sum(u.usd))::DECIMAL(18, 6)
           AS margin_usd,
       CASE WHEN count(*) FILTER (WHERE u.plan <> '(shared)') > 0
            THEN (sum(u.usd) * any_value(u.days_in_month) / count(*) FILTER (WHERE u.plan <> '(shared)'))::DECIMAL(18, 6) END
           AS cost_per_user_month_usd,
       coalesce(bool_or(u.is_estimate), false) AS is_estimate
FROM per_user u LEFT JOIN prices pr ON pr.plan = u.plan
GROUP BY u.usage_date, u.plan
"""

# Per day: Σ plan cost and Σ user cost (the check), and the month-to-date margin up to the day.
FIGURES_SQL = """
WITH days AS (
    SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY)) AS DATE) AS usage_date
),
plans AS (
    SELECT usage_date, sum(cost_usd) AS plan_cost FROM cost.plan_daily_margin
    WHERE usage_date BETWEEN $start AND $end GROUP BY ALL
),
users AS (
    SELECT usage_date, sum(amount_usd) AS user_cost FROM cost.user_daily_cost
    WHERE usage_date BETWEEN $start AND $end GROUP BY ALL
),
month AS (
    SELECT d.usage_date, sum(m.margin_usd) AS margin
    FROM days d JOIN cost.plan_daily_margin m
      ON m.usage_date BETWEEN date_trunc('month', d.usage_date) AND d.usage_date
    GROUP BY ALL
)
SELECT d.usage_date, coalesce(p.plan_cost, 0) AS plan_cost, coalesce(u.user_cost, 0) AS user_cost,
       coalesce(m.margin, 0) AS month_margin
FROM days d LEFT JOIN plans p USING (usage_date) LEFT JOIN users u USING (usage_date)
LEFT JOIN month m USING (usage_date)
"""

DAY_SQL = """
SELECT plan, users, stored_bytes, cost_usd, revenue_usd, margin_usd, cost_per_user_month_usd
FROM cost.plan_daily_margin WHERE usage_date = ? ORDER BY cost_usd DESC
"""
MONTH_SQL = """
SELECT plan, max(users) AS users, sum(cost_usd) AS cost, sum(revenue_usd) AS revenue, sum(margin_usd) AS margin,
       count(*) AS days, bool_or(is_estimate) AS estimated
FROM cost.plan_daily_margin
WHERE date_trunc('month', usage_date) = date_trunc('month', $day::DATE) AND usage_date <= $day
GROUP BY plan ORDER BY cost DESC
"""


def load_window(con, days) -> list[DayResult]:
    """Stage every day of the window in one query, replace exactly those days, read the figures per day."""
    rows = stage_and_replace(con, STAGE_SQL, "cost.plan_daily_margin", STAGE, days)
    results = []
    for day, f, metadata in loaded_days(rows, window_figures(con, FIGURES_SQL, days)):
        plan_cost, user_cost = f.get("plan_cost", 0), f.get("user_cost", 0)
        metadata["month_to_date_margin_usd"] = dg.MetadataValue.float(float(f.get("month_margin", 0)))
        if day == detail_day(days):
            today = con.execute(DAY_SQL, [day]).fetchall()
            month = con.execute(MONTH_SQL, {"day": day}).fetchall()
            metadata["day_margin"] = markdown_table(
                ["plan", "users", "stored", "cost USD", "revenue USD", "margin USD", "cost/user/month"],
                [
                    (p, u, human_bytes(b), f"{c:.2f}", f"{r:.2f}", f"{m:.2f}", f"{cu or 0:.4f}")
                    for p, u, b, c, r, m, cu in today
                ],
            )
            metadata["month_to_date_margin"] = markdown_table(
                ["plan", "users", "cost USD", "revenue USD", "margin USD", "days", "includes estimates"],
                [(p, u, f"{c:.2f}", f"{r:.2f}", f"{m:.2f}", d, e) for p, u, c, r, m, d, e in month],
            )
        check = Check(plan_cost == user_cost, {"plans_usd": str(plan_cost), "users_usd": str(user_cost)})
        results.append(DayResult(day, metadata, {"plans_add_up_to_the_bill": check}))
    return results


@daily_asset(
    "plan_daily_margin",
    "cost",
    checks=(CheckSpec("plans_add_up_to_the_bill", "Σ plan cost equals Σ user cost of the day."),),
    deps=("user_daily_cost", "user_daily_storage", "users"),
)
def plan_daily_margin(
    context: dg.AssetExecutionContext, warehouse: Warehouse, pricing: Pricing
) -> dg.MaterializeResult:
    """One row per plan and day: users, active users, stored bytes, attributed cost, revenue, margin and
    cost per user per month; metadata carries the month-to-date margin table."""
    prices = pricing.monthly_plan_prices()
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        con.execute("CREATE OR REPLACE TEMP TABLE plan_prices (plan VARCHAR, monthly_usd DECIMAL(18, 6))")
        con.executemany("INSERT INTO plan_prices VALUES (?, ?)", list(prices.items()))
        results = load_window(con, window_days(context))
    result = window_result(results)
    result.metadata["plan_prices"] = ", ".join(f"{k}=${v}/month" for k, v in prices.items())
    return result
