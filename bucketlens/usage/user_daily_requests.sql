-- usage.user_daily_requests for the days $start .. $end: one row per user × operation × storage class ×
-- status class × day. A request's storage class decides its fee, so each request is joined to the class
-- of the current version it touched in that day's inventory; objects created that day are not listed yet
-- and count as STANDARD (what S3 gives an upload without a storage-class header).
-- The tier and billable expressions come from bucketlens.costing.operations (code, not data).
-- cdn_origin_bytes: the part of bytes_sent CloudFront fetched from this origin (not internet egress).
WITH requests AS NOT MATERIALIZED (
    SELECT * FROM raw.access_log_requests WHERE usage_date BETWEEN $start AND $end
),
touched_class AS (
    SELECT i.snapshot_date AS usage_date, i.bucket, i.key, any_value(i.storage_class) AS storage_class
    FROM raw.inventory_objects i
    SEMI JOIN (SELECT usage_date, bucket, key FROM requests WHERE key IS NOT NULL) t
        ON i.snapshot_date = t.usage_date AND i.bucket = t.bucket AND i.key = t.key
    WHERE i.snapshot_date BETWEEN $start AND $end
      AND coalesce(i.is_latest, true) AND NOT coalesce(i.is_delete_marker, false)
    GROUP BY ALL
)
SELECT r.usage_date, r.user_id, r.operation,
       coalesce(c.storage_class, 'STANDARD') AS storage_class,
       CASE WHEN r.http_status IS NULL THEN 'none' ELSE (r.http_status // 100)::VARCHAR || 'xx' END AS http_status_class,
       {tier} AS request_tier,
       count(*) AS request_count,
       count(*) FILTER (WHERE {billable}) AS billable_count,
       count(*) FILTER (WHERE r.http_status >= 400) AS error_count,
       coalesce(sum(r.bytes_sent), 0)::BIGINT AS bytes_sent,
       coalesce(sum(r.object_size) FILTER (
           WHERE r.http_status < 300 AND (starts_with(r.operation, 'REST.PUT.') OR r.operation = 'REST.POST.UPLOAD')
       ), 0)::BIGINT AS bytes_received,
       coalesce(sum(r.object_size) FILTER (
           WHERE r.operation = 'REST.POST.RESTORE' AND r.http_status < 300
       ), 0)::BIGINT AS restored_bytes,
       coalesce(sum(r.bytes_sent) FILTER (WHERE {cdn_origin}), 0)::BIGINT AS cdn_origin_bytes
FROM requests r LEFT JOIN touched_class c USING (usage_date, bucket, key)
GROUP BY ALL
