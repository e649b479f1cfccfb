-- usage.service_daily_kpis for the days $start .. $end: one row per day × KPI (the avatar system guide's
-- business and technical KPIs), service-wide, with the numerator and denominator it is the ratio of and
-- the runbook's target. A KPI whose denominator is 0 (no uploads, no cost rows yet) has a NULL value —
-- never a 0 that would read as a perfect or a broken day.
--   upload_success_rate / upload_failure_rate: uploads (PUT Object, Complete Multipart Upload) answered
--     2xx / 4xx-5xx, of all uploads.
--   error_rate: requests answered 4xx or 5xx, except 404 Not Found (an app asking whether a thumbnail
--     exists is not a failure; not_found_rate shows those), of all requests with a status.
--   cost_per_upload_usd: the day's attributed S3 cost (cost.user_daily_cost, every user and _shared) per
--     successful upload; cost_per_gb_month_usd: that cost over a month of such days, per GB stored
--     (usage.user_daily_storage, GB = 2^30 bytes).
--   dedup_rate: of the bytes added that day (versions last modified since the start of the day before the
--     scan, as usage.user_daily_storage counts them), the share that is a copy of content the user already
--     stores (same ETag and size): what content-addressed deduplication would have saved.
--   time_to_first_byte_p50_ms / _p95_ms: the access logs' turn-around time of successful GETs.
--   daily_active_uploaders: users (not _shared) with at least one successful upload.
WITH days AS (
    SELECT CAST(unnest(range(CAST($start AS DATE), CAST($end AS DATE) + 1, INTERVAL 1 DAY)) AS DATE) AS usage_date
),
requests AS (
    SELECT usage_date,
           count(*) FILTER (WHERE operation IN ('REST.PUT.OBJECT', 'REST.POST.UPLOAD')) AS uploads,
           count(*) FILTER (WHERE operation IN ('REST.PUT.OBJECT', 'REST.POST.UPLOAD') AND http_status < 300) AS uploads_ok,
           count(*) FILTER (WHERE operation IN ('REST.PUT.OBJECT', 'REST.POST.UPLOAD') AND http_status >= 400) AS uploads_failed,
           count(*) FILTER (WHERE http_status IS NOT NULL) AS answered,
           count(*) FILTER (WHERE http_status >= 400 AND http_status <> 404) AS errors,
           count(*) FILTER (WHERE http_status = 404) AS not_found,
           quantile_cont(turn_around_time_ms, 0.5) FILTER (
               WHERE operation = 'REST.GET.OBJECT' AND http_status IN (200, 206)) AS ttfb_p50,
           quantile_cont(turn_around_time_ms, 0.95) FILTER (
               WHERE operation = 'REST.GET.OBJECT' AND http_status IN (200, 206)) AS ttfb_p95,
           count(turn_around_time_ms) FILTER (
               WHERE operation = 'REST.GET.OBJECT' AND http_status IN (200, 206)) AS timed_gets,
           count(DISTINCT user_id) FILTER (
               WHERE operation IN ('REST.PUT.OBJECT', 'REST.POST.UPLOAD') AND http_status < 300
                 AND user_id <> '_shared') AS uploaders
    FROM raw.access_log_requests WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
),
cost AS (
    SELECT usage_date, sum(amount_usd) AS usd, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
),
stored AS (
    SELECT usage_date, sum(bytes) AS bytes FROM usage.user_daily_storage
    WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
),
-- Only content added since the day before can be a duplicate added that day, so only its groups are
-- ranked: found by a 64-bit hash of the exact key (the day's few uploads), each group whole (equal keys
-- hash equal; a collision only ranks another group beside it). Ranking every current copy sorted 10 M
-- rows a day with their strings.
current_versions AS NOT MATERIALIZED (
    SELECT snapshot_date AS usage_date, user_id, e_tag, size, last_modified, storage_class,
           hash(snapshot_date, user_id, e_tag, size) AS content_hash
    FROM raw.inventory_objects
    WHERE snapshot_date BETWEEN $start AND $end AND coalesce(is_latest, true)
      AND NOT coalesce(is_delete_marker, false) AND e_tag IS NOT NULL AND size > 0
),
added_content AS (
    SELECT DISTINCT content_hash FROM current_versions
    WHERE last_modified >= usage_date::TIMESTAMP - INTERVAL 1 DAY
),
ranked_versions AS (
    SELECT usage_date, size, last_modified,
           row_number() OVER (PARTITION BY usage_date, user_id, e_tag, size ORDER BY last_modified, storage_class) AS copy_no
    FROM current_versions SEMI JOIN added_content USING (content_hash)
),
added AS (
    SELECT snapshot_date AS usage_date, coalesce(sum(size), 0) AS bytes_added
    FROM raw.inventory_objects
    WHERE snapshot_date BETWEEN $start AND $end AND NOT coalesce(is_delete_marker, false)
      AND last_modified >= snapshot_date::TIMESTAMP - INTERVAL 1 DAY
    GROUP BY ALL
),
duplicated AS (
    SELECT usage_date, coalesce(sum(size), 0) AS duplicate_bytes_added
    FROM ranked_versions
    WHERE copy_no > 1 AND last_modified >= usage_date::TIMESTAMP - INTERVAL 1 DAY
    GROUP BY ALL
),
figures AS (
    SELECT d.usage_date, r.*, c.usd, c.is_estimate, s.bytes AS stored_bytes, a.bytes_added,
           coalesce(x.duplicate_bytes_added, 0) AS duplicate_bytes_added,
           date_diff('day', date_trunc('month', d.usage_date),
                     date_trunc('month', d.usage_date) + INTERVAL 1 MONTH) AS month_days
    FROM days d
    LEFT JOIN requests r USING (usage_date) LEFT JOIN cost c USING (usage_date)
    LEFT JOIN stored s USING (usage_date) LEFT JOIN added a USING (usage_date)
    LEFT JOIN duplicated x USING (usage_date)
    WHERE r.usage_date IS NOT NULL OR c.usage_date IS NOT NULL OR s.usage_date IS NOT NULL
),
kpis(usage_date, kpi, unit, numerator, denominator, value, target, direction, detail) AS (
    SELECT usage_date, 'upload_success_rate', 'rate', uploads_ok, uploads, uploads_ok / nullif(uploads, 0),
           $t_upload_success, 'at_least', NULL FROM figures
    UNION ALL SELECT usage_date, 'upload_failure_rate', 'rate', uploads_failed, uploads,
           uploads_failed / nullif(uploads, 0), 1 - $t_upload_success, 'at_most', NULL FROM figures
    UNION ALL SELECT usage_date, 'error_rate', 'rate', errors, answered, errors / nullif(answered, 0),
           $t_error_rate, 'at_most', format('{} answered 404 Not Found (not counted)', coalesce(not_found, 0)) FROM figures
    UNION ALL SELECT usage_date, 'not_found_rate', 'rate', not_found, answered, not_found / nullif(answered, 0),
           NULL, NULL, NULL FROM figures
    UNION ALL SELECT usage_date, 'cost_per_upload_usd', 'usd', usd, uploads_ok, usd / nullif(uploads_ok, 0),
           $t_cost_per_upload, 'at_most', CASE WHEN is_estimate THEN 'cost is a price-book estimate' END FROM figures
    UNION ALL SELECT usage_date, 'cost_per_gb_month_usd', 'usd', usd * month_days, stored_bytes / 1073741824.0,
           usd * month_days / nullif(stored_bytes / 1073741824.0, 0), $t_cost_per_gb, 'at_most',
           CASE WHEN is_estimate THEN 'cost is a price-book estimate' END FROM figures
    UNION ALL SELECT usage_date, 'dedup_rate', 'rate', duplicate_bytes_added, bytes_added,
           duplicate_bytes_added / nullif(bytes_added, 0), $t_dedup, 'at_least', NULL FROM figures
    UNION ALL SELECT usage_date, 'time_to_first_byte_p50_ms', 'ms', NULL, timed_gets, ttfb_p50,
           NULL, NULL, NULL FROM figures
    UNION ALL SELECT usage_date, 'time_to_first_byte_p95_ms', 'ms', NULL, timed_gets, ttfb_p95,
           $t_ttfb, 'at_most', NULL FROM figures
    UNION ALL SELECT usage_date, 'daily_active_uploaders', 'count', uploaders, NULL, uploaders,
           NULL, NULL, NULL FROM figures
)
SELECT usage_date, kpi, unit, CAST(value AS DOUBLE) AS value, CAST(numerator AS DOUBLE) AS numerator,
       CAST(denominator AS DOUBLE) AS denominator, CAST(target AS DOUBLE) AS target, direction,
       CASE WHEN value IS NULL OR target IS NULL THEN NULL
            WHEN direction = 'at_least' THEN value >= target ELSE value <= target END AS meets_target,
       CASE WHEN value IS NULL THEN 'no data'
            WHEN unit = 'rate' THEN format('{:.2f} %', value * 100)
            WHEN unit = 'usd' THEN format('${:.4f}', value)
            WHEN unit = 'ms' THEN format('{:.0f} ms', value)
            ELSE format('{:,.0f}', value) END AS display,
       detail
FROM kpis
