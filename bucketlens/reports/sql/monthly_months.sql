-- Cost per calendar month for the six months ending with each report day D's month (of $start..$end), D's
-- month to date. Months without any cost row are absent here and shown as missing, never as $0.
WITH report_days AS (
    SELECT d::DATE AS day FROM generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
),
cost_days AS (
    SELECT usage_date, sum(amount_usd) AS usd, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost
    WHERE usage_date BETWEEN date_trunc('month', $start::DATE) - INTERVAL 5 MONTH AND $end
    GROUP BY usage_date
)
SELECT r.day, date_trunc('month', c.usage_date)::DATE AS month, sum(c.usd) AS usd,
       count(DISTINCT c.usage_date) AS days, bool_or(c.is_estimate) AS is_estimate
FROM report_days r
JOIN cost_days c ON c.usage_date BETWEEN date_trunc('month', r.day) - INTERVAL 5 MONTH AND r.day
GROUP BY r.day, month
ORDER BY r.day, month
