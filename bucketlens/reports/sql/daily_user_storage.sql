-- Per report day D of $start..$end and user: bytes and objects on D and the growth since D-1. Growth is
-- NULL when D-1 has no storage rows at all (the first loaded day), rather than every user's whole storage
-- counted as growth. The top-10 tables of the daily page read this temp table.
CREATE OR REPLACE TEMP TABLE report_user_storage AS
WITH per_user AS (
    SELECT usage_date, user_id, sum(bytes) AS bytes, sum(object_count) AS objects,
           sum(bytes_added) AS bytes_added
    FROM usage.user_daily_storage
    WHERE usage_date BETWEEN $start::DATE - 1 AND $end AND user_id <> '_shared'
    GROUP BY usage_date, user_id
),
stored_days AS (SELECT DISTINCT usage_date FROM per_user)
SELECT t.usage_date AS day, t.user_id, q.plan, t.bytes, t.objects, t.bytes_added, q.quota_use_pct,
       CASE WHEN t.usage_date - 1 IN (SELECT usage_date FROM stored_days)
            THEN t.bytes - coalesce(b.bytes, 0) END AS growth
FROM per_user t
LEFT JOIN per_user b ON b.user_id = t.user_id AND b.usage_date = t.usage_date - 1
LEFT JOIN cost.user_quota_use q ON q.user_id = t.user_id AND q.usage_date = t.usage_date
WHERE t.usage_date BETWEEN $start AND $end
