-- Users above 80 % and 100 % of their quota on each report day of $start..$end (zeros on a day without
-- quota rows).
WITH report_days AS (
    SELECT d::DATE AS day FROM generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
)
SELECT r.day,
       count(q.usage_date) FILTER (WHERE q.quota_use_pct > 80) AS over_80,
       count(q.usage_date) FILTER (WHERE q.quota_use_pct > 100) AS over_100,
       count(q.usage_date) AS users
FROM report_days r LEFT JOIN cost.user_quota_use q ON q.usage_date = r.day
GROUP BY r.day ORDER BY r.day
