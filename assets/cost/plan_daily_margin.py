"""cost.plan_daily_margin: per plan and day, what the users pay against what their storage costs.

Revenue is the plan's monthly price (``BUCKETLENS_PLAN_PRICES``) spread over the days of the month for
each active user; cost is the attributed cost of the plan's users. ``_shared`` cost is its own row
(plan ``(shared)``), so the plans plus shared add up to the bill.
"""

from decimal import Decimal

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from resources.pricing import Pricing
from resources.warehouse import Replacement, Warehouse, replace_partitions

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

STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE stage_plan_daily_margin AS
WITH people AS (
    SELECT user_id, coalesce(plan, 'unknown') AS plan, status FROM raw.users WHERE snapshot_date = $day
),
cost AS (
    SELECT user_id, sum(amount_usd) AS usd, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost WHERE usage_date = $day GROUP BY ALL
),
stored AS (
    SELECT user_id, sum(bytes) AS bytes FROM usage.user_daily_storage WHERE usage_date = $day GROUP BY ALL
),
per_user AS (
    SELECT coalesce(p.user_id, c.user_id, s.user_id) AS user_id,
           CASE WHEN coalesce(p.user_id, c.user_id, s.user_id) = '_shared' THEN '(shared)'
                ELSE coalesce(p.plan, 'unregistered') END AS plan,
           p.status, coalesce(c.usd, 0) AS usd, coalesce(s.bytes, 0) AS bytes, c.is_estimate
    FROM people p FULL JOIN cost c USING (user_id) FULL JOIN stored s USING (user_id)
),
prices AS (SELECT * FROM plan_prices)
SELECT $day::DATE AS usage_date, u.plan,
       count(*) FILTER (WHERE u.plan <> '(shared)') AS users,
       count(*) FILTER (WHERE u.status = 'active') AS active_users,
       sum(u.bytes)::BIGINT AS stored_bytes,
       sum(u.usd)::DECIMAL(18, 6) AS cost_usd,
       (count(*) FILTER (WHERE u.status = 'active') * coalesce(any_value(pr.monthly_usd), 0) / $days_in_month)::DECIMAL(18, 6)
           AS revenue_usd,
       ((count(*) FILTER (WHERE u.status = 'active') * coalesce(any_value(pr.monthly_usd), 0) / $days_in_month) - sum(u.usd))::DECIMAL(18, 6)
           AS margin_usd,
       CASE WHEN count(*) FILTER (WHERE u.plan <> '(shared)') > 0
            THEN (sum(u.usd) * $days_in_month / count(*) FILTER (WHERE u.plan <> '(shared)'))::DECIMAL(18, 6) END
           AS cost_per_user_month_usd,
       coalesce(bool_or(u.is_estimate), false) AS is_estimate
FROM per_user u LEFT JOIN prices pr ON pr.plan = u.plan
GROUP BY u.plan
"""

MONTH_SQL = """
SELECT plan, max(users) AS users, sum(cost_usd) AS cost, sum(revenue_usd) AS revenue, sum(margin_usd) AS margin,
       count(*) AS days, bool_or(is_estimate) AS estimated
FROM cost.plan_daily_margin
WHERE date_trunc('month', usage_date) = date_trunc('month', $day::DATE) AND usage_date <= $day
GROUP BY plan ORDER BY cost DESC
"""


def days_in_month(day) -> int:
    import calendar

    return calendar.monthrange(day.year, day.month)[1]


def load_day(con, day) -> DayResult:
    con.execute(STAGE_SQL, {"day": day, "days_in_month": days_in_month(day)})
    (rows,) = replace_partitions(
        con, [Replacement("cost.plan_daily_margin", "stage_plan_daily_margin", "usage_date = ?", [day])]
    )
    plan_cost, user_cost = con.execute(
        """SELECT (SELECT coalesce(sum(cost_usd), 0) FROM cost.plan_daily_margin WHERE usage_date = $day),
                  (SELECT coalesce(sum(amount_usd), 0) FROM cost.user_daily_cost WHERE usage_date = $day)""",
        {"day": day},
    ).fetchall()[0]
    today = con.execute(
        "SELECT plan, users, stored_bytes, cost_usd, revenue_usd, margin_usd, cost_per_user_month_usd "
        "FROM cost.plan_daily_margin WHERE usage_date = ? ORDER BY cost_usd DESC",
        [day],
    ).fetchall()
    month = con.execute(MONTH_SQL, {"day": day}).fetchall()
    margin_total = sum((m[4] for m in month), Decimal(0))
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "day_margin": markdown_table(
                ["plan", "users", "stored", "cost USD", "revenue USD", "margin USD", "cost/user/month"],
                [
                    (p, u, human_bytes(b), f"{c:.2f}", f"{r:.2f}", f"{m:.2f}", f"{cu or 0:.4f}")
                    for p, u, b, c, r, m, cu in today
                ],
            ),
            "month_to_date_margin": markdown_table(
                ["plan", "users", "cost USD", "revenue USD", "margin USD", "days", "includes estimates"],
                [(p, u, f"{c:.2f}", f"{r:.2f}", f"{m:.2f}", d, e) for p, u, c, r, m, d, e in month],
            ),
            "month_to_date_margin_usd": dg.MetadataValue.float(float(margin_total)),
        },
        checks={
            "plans_add_up_to_the_bill": Check(
                plan_cost == user_cost, {"plans_usd": str(plan_cost), "users_usd": str(user_cost)}
            )
        },
    )


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
        results = [load_day(con, day) for day in window_days(context)]
    result = window_result(results)
    result.metadata["plan_prices"] = ", ".join(f"{k}=${v}/month" for k, v in prices.items())
    return result
