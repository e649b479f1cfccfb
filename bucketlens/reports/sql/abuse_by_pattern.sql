-- Abuse flags per pattern for each report day D of $start..$end, counted from {since} to D, with the
-- pattern's most severe flag (one severity unless the rules file changed in between).
WITH report_days AS (
    SELECT d::DATE AS day FROM generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
)
SELECT r.day, f.pattern, arg_min(f.severity, {severity_order}) AS severity, count(*) AS flags,
       count(DISTINCT f.user_id) AS users
FROM report_days r JOIN anomaly.abuse_flags f ON f.usage_date BETWEEN {since} AND r.day
GROUP BY r.day, f.pattern
ORDER BY r.day, flags DESC, f.pattern
