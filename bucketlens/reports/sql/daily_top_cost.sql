-- The 10 users who cost the most on each report day D of $start..$end (_shared excluded), with their
-- month to date (the first of D's month to D) and the category of most of D's cost (on a tie, the first by
-- name, so a rerun shows the same). A user's month to date runs over the days they have cost rows, so it
-- is a running sum over their own days.
WITH user_day AS (
    SELECT usage_date, user_id, sum(usd) AS day_usd,
           first(category ORDER BY usd DESC NULLS LAST, category) AS main_category
    FROM (
        SELECT usage_date, user_id, category, sum(amount_usd) AS usd
        FROM cost.user_daily_cost
        WHERE usage_date BETWEEN date_trunc('month', $start::DATE)::DATE AND $end AND user_id <> '_shared'
        GROUP BY usage_date, user_id, category
    )
    GROUP BY usage_date, user_id
),
month_to_date AS (
    SELECT *, sum(day_usd) OVER (
        PARTITION BY user_id, date_trunc('month', usage_date) ORDER BY usage_date
        RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS mtd_usd
    FROM user_day
)
SELECT p.usage_date AS day, p.user_id, p.day_usd, p.mtd_usd, p.main_category, u.plan
FROM month_to_date p
LEFT JOIN raw.users u ON u.user_id = p.user_id AND u.snapshot_date = p.usage_date
WHERE p.usage_date BETWEEN $start AND $end AND p.day_usd IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY p.usage_date ORDER BY p.day_usd DESC, p.user_id) <= 10
ORDER BY day, p.day_usd DESC, p.user_id
