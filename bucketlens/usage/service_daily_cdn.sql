-- usage.service_daily_cdn for the days $start .. $end: one row per day × CloudFront distribution, the
-- runbooks' CDN figures from the standard logs (usage.user_daily_cdn summed over users and regions) beside
-- CloudWatch's AWS/CloudFront metrics where they exist (raw.cloudwatch_metrics rows with the DistributionId
-- dimension). CloudWatch is the reference where present (it sees every request; logs are best-effort):
--   requests / bytes_downloaded: CloudWatch Requests / BytesDownloaded (Sum), else the logs';
--   error rates: CloudWatch 4xxErrorRate / 5xxErrorRate / TotalErrorRate (Percent, ÷ 100, weighted by the
--     period's Requests), else the logs' 4xx / 5xx answers over requests;
--   cache_hit_rate: CloudWatch CacheHitRate (only with additional metrics enabled), else the logs'
--     hit_ratio (Hit + RefreshHit over Hit + RefreshHit + Miss); cache_hit_rate_source says which.
-- The log figures are kept in their own columns (log_*), so a disagreement stays visible.
WITH logs AS (
    SELECT usage_date, distribution_id, sum(requests) AS requests, sum(bytes_sent) AS bytes,
           sum(hits) AS hits, sum(misses) AS misses, sum(hit_bytes) AS hit_bytes, sum(miss_bytes) AS miss_bytes,
           sum(origin_fetches) AS origin_fetches, sum(errors_4xx) AS e4xx, sum(errors_5xx) AS e5xx,
           count(DISTINCT user_id) FILTER (WHERE user_id <> '_shared') AS users
    FROM usage.user_daily_cdn WHERE usage_date BETWEEN $start AND $end GROUP BY ALL
),
points AS (
    SELECT usage_date, ts, dimension_value AS distribution_id, metric_name,
           CASE WHEN metric_name LIKE '%Rate' THEN value / 100 ELSE value END AS value
    FROM raw.cloudwatch_metrics
    WHERE usage_date BETWEEN $start AND $end AND dimension_name = 'DistributionId'
),
weighted AS (
    SELECT p.*, q.value AS period_requests
    FROM points p LEFT JOIN points q
      ON q.metric_name = 'Requests' AND q.usage_date = p.usage_date AND q.ts = p.ts
     AND q.distribution_id = p.distribution_id
),
cw AS (
    SELECT usage_date, distribution_id,
           sum(value) FILTER (WHERE metric_name = 'Requests') AS requests,
           sum(value) FILTER (WHERE metric_name = 'BytesDownloaded') AS bytes,
           coalesce(sum(value * period_requests) FILTER (WHERE metric_name = '4xxErrorRate')
                      / nullif(sum(period_requests) FILTER (WHERE metric_name = '4xxErrorRate'), 0),
                    avg(value) FILTER (WHERE metric_name = '4xxErrorRate')) AS rate_4xx,
           coalesce(sum(value * period_requests) FILTER (WHERE metric_name = '5xxErrorRate')
                      / nullif(sum(period_requests) FILTER (WHERE metric_name = '5xxErrorRate'), 0),
                    avg(value) FILTER (WHERE metric_name = '5xxErrorRate')) AS rate_5xx,
           coalesce(sum(value * period_requests) FILTER (WHERE metric_name = 'TotalErrorRate')
                      / nullif(sum(period_requests) FILTER (WHERE metric_name = 'TotalErrorRate'), 0),
                    avg(value) FILTER (WHERE metric_name = 'TotalErrorRate')) AS rate_total,
           coalesce(sum(value * period_requests) FILTER (WHERE metric_name = 'CacheHitRate')
                      / nullif(sum(period_requests) FILTER (WHERE metric_name = 'CacheHitRate'), 0),
                    avg(value) FILTER (WHERE metric_name = 'CacheHitRate')) AS hit_rate
    FROM weighted GROUP BY ALL
),
both_sources AS (
    SELECT usage_date, distribution_id FROM logs UNION SELECT usage_date, distribution_id FROM cw
)
SELECT b.usage_date, b.distribution_id,
       coalesce(c.requests, l.requests)::BIGINT AS requests,
       coalesce(c.bytes, l.bytes)::BIGINT AS bytes_downloaded,
       coalesce(c.rate_4xx, l.e4xx / nullif(l.requests, 0)) AS error_rate_4xx,
       coalesce(c.rate_5xx, l.e5xx / nullif(l.requests, 0)) AS error_rate_5xx,
       coalesce(c.rate_total, c.rate_4xx + c.rate_5xx, (l.e4xx + l.e5xx) / nullif(l.requests, 0)) AS error_rate,
       coalesce(c.hit_rate, l.hits / nullif(l.hits + l.misses, 0)) AS cache_hit_rate,
       CASE WHEN c.hit_rate IS NOT NULL THEN 'cloudwatch' WHEN l.hits + l.misses > 0 THEN 'logs' END AS cache_hit_rate_source,
       CASE WHEN c.requests IS NOT NULL THEN 'cloudwatch' WHEN l.requests IS NOT NULL THEN 'logs' END AS requests_source,
       l.requests::BIGINT AS log_requests, l.bytes::BIGINT AS log_bytes,
       l.hits / nullif(l.hits + l.misses, 0) AS log_hit_ratio,
       l.hit_bytes / nullif(l.hit_bytes + l.miss_bytes, 0) AS log_byte_hit_ratio,
       l.origin_fetches::BIGINT AS log_origin_fetches, l.e4xx::BIGINT AS log_errors_4xx,
       l.e5xx::BIGINT AS log_errors_5xx, c.hit_rate AS cloudwatch_cache_hit_rate, coalesce(l.users, 0) AS active_users
FROM both_sources b LEFT JOIN logs l USING (usage_date, distribution_id) LEFT JOIN cw c USING (usage_date, distribution_id)
