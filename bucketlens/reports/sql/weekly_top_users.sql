-- The $limit users who cost the most in the 7 days ending each report day D of $start..$end (_shared
-- excluded), with their cost of the 7 days before (D-13..D-7) and the category of most of their cost (on
-- a tie, the first by name, so a rerun shows the same).
WITH report_days AS (
    SELECT d::DATE AS day FROM generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
),
spend_days AS (
    SELECT usage_date, user_id, category, sum(amount_usd) AS usd
    FROM cost.user_daily_cost
    WHERE usage_date BETWEEN $start::DATE - 13 AND $end AND user_id <> '_shared'
    GROUP BY usage_date, user_id, category
),
spend AS (
    SELECT r.day, s.user_id, s.category,
           sum(s.usd) FILTER (WHERE s.usage_date BETWEEN r.day - 6 AND r.day) AS usd,
           sum(s.usd) FILTER (WHERE s.usage_date BETWEEN r.day - 13 AND r.day - 7) AS prev_usd
    FROM report_days r JOIN spend_days s ON s.usage_date BETWEEN r.day - 13 AND r.day
    GROUP BY r.day, s.user_id, s.category
),
per_user AS (
    SELECT day, user_id, sum(usd) AS usd, sum(prev_usd) AS prev_usd,
           first(category ORDER BY usd DESC NULLS LAST, category) AS main_category
    FROM spend GROUP BY day, user_id
)
SELECT p.day, p.user_id, u.plan, p.usd, p.prev_usd, p.main_category
FROM per_user p LEFT JOIN raw.users u ON u.user_id = p.user_id AND u.snapshot_date = p.day
WHERE p.usd IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY p.day ORDER BY p.usd DESC, p.user_id) <= $limit
ORDER BY p.day, p.usd DESC, p.user_id
