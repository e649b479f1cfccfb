"""SQL behind the daily report (partition = day ``$day``); each query returns a handful of rows."""

# The service over the 30 days ending $day, one row per day whether or not it has data (a gap stays a gap).
# Rates are weighted by requests across buckets; storage and objects are summed over buckets; active users
# are the service's distinct count (a user active in two buckets is one user), never a sum over buckets.
SERVICE_DAYS_SQL = """
WITH days AS (
    SELECT d::DATE AS usage_date
    FROM generate_series(($day::DATE - 29)::TIMESTAMP, $day::TIMESTAMP, INTERVAL 1 DAY) t(d)
),
service AS (
    SELECT usage_date, sum(total_bytes) AS total_bytes, sum(object_count) AS object_count,
           max(service_active_users) AS active_users, sum(request_count) AS request_count,
           sum(error_rate * request_count) / nullif(sum(request_count), 0) AS error_rate,
           sum(availability * request_count) / nullif(sum(request_count), 0) AS availability,
           sum(avg_latency_ms * request_count) / nullif(sum(request_count), 0) AS avg_latency_ms
    FROM usage.service_daily_metrics
    WHERE usage_date BETWEEN $day::DATE - 29 AND $day
    GROUP BY usage_date
),
cost AS (
    SELECT usage_date, sum(amount_usd) AS cost_usd, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost WHERE usage_date BETWEEN $day::DATE - 29 AND $day
    GROUP BY usage_date
)
SELECT * FROM days LEFT JOIN service USING (usage_date) LEFT JOIN cost USING (usage_date)
ORDER BY usage_date
"""

# Per user: bytes and objects on $day and the day before. Growth is NULL when the day before has no
# storage rows at all (the first loaded day), rather than every user's whole storage counted as growth.
USER_STORAGE_SQL = """
CREATE OR REPLACE TEMP TABLE report_user_storage AS
WITH today AS (
    SELECT user_id, sum(bytes) AS bytes, sum(object_count) AS objects, sum(bytes_added) AS bytes_added
    FROM usage.user_daily_storage WHERE usage_date = $day AND user_id <> '_shared' GROUP BY user_id
),
before AS (
    SELECT user_id, sum(bytes) AS bytes
    FROM usage.user_daily_storage WHERE usage_date = $day::DATE - 1 AND user_id <> '_shared' GROUP BY user_id
)
SELECT t.user_id, q.plan, t.bytes, t.objects, t.bytes_added, q.quota_use_pct,
       CASE WHEN (SELECT count(*) FROM before) > 0 THEN t.bytes - coalesce(b.bytes, 0) END AS growth
FROM today t
LEFT JOIN before b USING (user_id)
LEFT JOIN cost.user_quota_use q ON q.user_id = t.user_id AND q.usage_date = $day
"""
TOP_STORAGE_SQL = "SELECT * FROM report_user_storage ORDER BY bytes DESC, user_id LIMIT 10"
TOP_GROWTH_SQL = """
SELECT * FROM report_user_storage WHERE growth > 0 ORDER BY growth DESC, user_id LIMIT 10
"""

TOP_COST_SQL = """
WITH month AS (
    SELECT user_id, category, sum(amount_usd) FILTER (WHERE usage_date = $day) AS day_usd,
           sum(amount_usd) AS mtd_usd
    FROM cost.user_daily_cost
    WHERE usage_date BETWEEN date_trunc('month', $day::DATE) AND $day AND user_id <> '_shared'
    GROUP BY user_id, category
),
per_user AS (
    SELECT user_id, sum(day_usd) AS day_usd, sum(mtd_usd) AS mtd_usd, arg_max(category, day_usd) AS main_category
    FROM month GROUP BY user_id
)
SELECT p.*, u.plan FROM per_user p
LEFT JOIN raw.users u ON u.user_id = p.user_id AND u.snapshot_date = $day
WHERE p.day_usd IS NOT NULL
ORDER BY p.day_usd DESC, p.user_id LIMIT 10
"""
