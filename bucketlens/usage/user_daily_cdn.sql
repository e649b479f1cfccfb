-- usage.user_daily_cdn for the days $start .. $end: one row per day × user × distribution × edge region of
-- raw.cdn_requests (CloudFront standard logs), so the bill's per-region CloudFront line items can be split
-- by the bytes and requests of the same region. Definitions (AWS's x-edge-result-type):
--   hits: Hit and RefreshHit — the viewer was served from the edge cache (a RefreshHit was revalidated
--     with the origin first, as CloudFront's CacheHitRate also counts it);
--   misses: Miss — not in the cache, fetched from the origin;
--   origin_fetches: requests CloudFront had to forward to the origin: Miss, RefreshHit (a revalidation)
--     and errors CloudFront got from or while reaching the origin (x-edge-detailed-result-type Origin*,
--     AbortedOrigin, SlowReaderOriginError); LimitExceeded, CapacityExceeded, Redirect and client errors
--     never reach it;
--   hit_ratio = hits / (hits + misses) (the cacheable requests; errors and redirects left out, as
--     CloudWatch's CacheHitRate leaves errors out); byte_hit_ratio the same over sc-bytes;
--   https_requests: protocol https or wss (CloudFront's Requests-Tier2-HTTPS), the rest are HTTP (Tier1);
--   referer_hosts: distinct referer hosts other than the request's own Host (hotlinking sites) in the
--     row; user_referer_hosts: the same over all the user's rows of the day (repeated on each: never sum);
--   ttfb_p50_ms / ttfb_p95_ms: time-to-first-byte of the requests answered below 400.
WITH r AS (
    SELECT usage_date, user_id, coalesce(distribution_id, 'unknown') AS distribution_id,
           coalesce(edge_region, 'unknown') AS edge_region, lower(coalesce(protocol, '')) AS protocol, status,
           coalesce(bytes_sent, 0) AS bytes_sent, time_to_first_byte, edge_result_type AS result,
           coalesce(edge_detailed_result_type, '') AS detailed,
           nullif(regexp_extract(lower(referer), '^[a-z][a-z0-9+.-]*://([^/:?#@]+)', 1), '') AS referer_host,
           lower(split_part(coalesce(host, ''), ':', 1)) AS own_host
    FROM raw.cdn_requests WHERE usage_date BETWEEN $start AND $end
),
c AS (
    SELECT *, result IN ('Hit', 'RefreshHit') AS is_hit, result = 'Miss' AS is_miss,
           result IN ('Miss', 'RefreshHit') OR (result = 'Error' AND contains(detailed, 'Origin')) AS is_origin_fetch,
           CASE WHEN referer_host <> own_host THEN referer_host END AS external_referer
    FROM r
),
user_hosts AS (
    SELECT usage_date, user_id, count(DISTINCT external_referer) AS user_referer_hosts FROM c GROUP BY ALL
),
g AS (
    SELECT usage_date, user_id, distribution_id, edge_region,
           count(*) AS requests,
           count(*) FILTER (WHERE protocol IN ('https', 'wss')) AS https_requests,
           sum(bytes_sent)::BIGINT AS bytes_sent,
           count(*) FILTER (WHERE is_hit) AS hits,
           count(*) FILTER (WHERE is_miss) AS misses,
           count(*) FILTER (WHERE is_origin_fetch) AS origin_fetches,
           coalesce(sum(bytes_sent) FILTER (WHERE is_hit), 0)::BIGINT AS hit_bytes,
           coalesce(sum(bytes_sent) FILTER (WHERE is_miss), 0)::BIGINT AS miss_bytes,
           count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS errors_4xx,
           count(*) FILTER (WHERE status >= 500) AS errors_5xx,
           quantile_cont(time_to_first_byte * 1000, 0.5) FILTER (WHERE status < 400) AS ttfb_p50_ms,
           quantile_cont(time_to_first_byte * 1000, 0.95) FILTER (WHERE status < 400) AS ttfb_p95_ms,
           count(DISTINCT external_referer) AS referer_hosts
    FROM c GROUP BY ALL
)
SELECT g.usage_date, g.user_id, g.distribution_id, g.edge_region, g.requests, g.https_requests,
       g.requests - g.https_requests AS http_requests, g.bytes_sent, g.hits, g.misses, g.origin_fetches,
       g.hit_bytes, g.miss_bytes,
       g.hits / nullif(g.hits + g.misses, 0) AS hit_ratio,
       g.hit_bytes / nullif(g.hit_bytes + g.miss_bytes, 0) AS byte_hit_ratio,
       g.errors_4xx, g.errors_5xx, g.ttfb_p50_ms, g.ttfb_p95_ms, g.referer_hosts, u.user_referer_hosts
FROM g JOIN user_hosts u USING (usage_date, user_id)
