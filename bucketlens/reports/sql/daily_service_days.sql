-- The service on each of the 30 days ending each report day D of $start..$end: for D, the rows D-29..D,
-- one per day whether or not it has data (a gap stays a gap). Rates are weighted by requests across
-- buckets; storage and objects are summed over buckets; active users are the service's distinct count (a
-- user active in two buckets is one user), never a sum over buckets. cost_usd is S3's (every category but
-- CloudFront's 'cdn', which is cdn_cost_usd).
WITH report_days AS (
    SELECT d::DATE AS day FROM generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
),
days AS (
    SELECT d::DATE AS usage_date
    FROM generate_series(($start::DATE - 29)::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
),
service AS (
    SELECT usage_date, sum(total_bytes) AS total_bytes, sum(object_count) AS object_count,
           max(service_active_users) AS active_users, sum(request_count) AS request_count,
           sum(error_rate * request_count) / nullif(sum(request_count), 0) AS error_rate,
           sum(availability * request_count) / nullif(sum(request_count), 0) AS availability,
           sum(avg_latency_ms * request_count) / nullif(sum(request_count), 0) AS avg_latency_ms
    FROM usage.service_daily_metrics
    WHERE usage_date BETWEEN $start::DATE - 29 AND $end
    GROUP BY usage_date
),
cost AS (
    SELECT usage_date, sum(amount_usd) FILTER (WHERE category <> 'cdn') AS cost_usd,
           sum(amount_usd) FILTER (WHERE category = 'cdn') AS cdn_cost_usd, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost WHERE usage_date BETWEEN $start::DATE - 29 AND $end
    GROUP BY usage_date
),
series AS (SELECT * FROM days LEFT JOIN service USING (usage_date) LEFT JOIN cost USING (usage_date))
SELECT r.day, s.*
FROM report_days r JOIN series s ON s.usage_date BETWEEN r.day - 29 AND r.day
ORDER BY r.day, s.usage_date
