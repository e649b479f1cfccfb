-- Each report day D's month to date against the same days of the month before (as the
-- month_over_month_cost rule compares): a comparison only counts when last month has at least as many
-- days of cost as this one.
WITH report_days AS (
    SELECT d::DATE AS day FROM generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
),
cost_days AS (
    SELECT usage_date, sum(amount_usd) AS usd
    FROM cost.user_daily_cost
    WHERE usage_date BETWEEN date_trunc('month', $start::DATE) - INTERVAL 1 MONTH AND $end
    GROUP BY usage_date
),
windows AS (
    SELECT r.day, c.usage_date, c.usd,
           c.usage_date >= date_trunc('month', r.day) AS this_month,
           c.usage_date <= r.day - INTERVAL 1 MONTH AND c.usage_date < date_trunc('month', r.day) AS last_month
    FROM report_days r
    LEFT JOIN cost_days c ON c.usage_date BETWEEN date_trunc('month', r.day) - INTERVAL 1 MONTH AND r.day
)
SELECT day,
       sum(usd) FILTER (WHERE this_month) AS usd,
       count(usage_date) FILTER (WHERE this_month) AS days,
       sum(usd) FILTER (WHERE last_month) AS previous_usd,
       count(usage_date) FILTER (WHERE last_month) AS previous_days
FROM windows GROUP BY day ORDER BY day
