-- Each plan's month to date for each report day D of $start..$end (the first of D's month to D).
WITH report_days AS (
    SELECT d::DATE AS day FROM generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
)
SELECT r.day, m.plan, max(m.users) AS users, sum(m.cost_usd) AS cost_usd, sum(m.revenue_usd) AS revenue_usd,
       sum(m.margin_usd) AS margin_usd, count(*) AS days, bool_or(m.is_estimate) AS is_estimate
FROM report_days r
JOIN cost.plan_daily_margin m ON m.usage_date BETWEEN date_trunc('month', r.day) AND r.day
GROUP BY r.day, m.plan
ORDER BY r.day, cost_usd DESC, m.plan
