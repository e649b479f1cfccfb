-- savings.storage_leaks for the days $start .. $end: one row per day × bucket × user × leak type — what
-- the bucket bills for that nobody should be paying for — with the cleanup to apply.
--   orphaned_data: every version stored under the prefix of a user the users database does not list on
--     the day, or lists in one of $statuses (days without a users snapshot are skipped: an empty users
--     table must not make everybody an orphan). The user's other leaks are part of this one.
--   noncurrent_versions: versions noncurrent for more than $noncurrent_days (since the next newer version
--     or delete marker of the same key).
--   delete_markers: delete markers older than $marker_days (S3 bills a marker as its key name's bytes).
--   incomplete_multipart_uploads: uploads initiated at least $multipart_days ago in the access logs
--     (REST.POST.UPLOADS) and neither completed (REST.POST.UPLOAD) nor aborted (REST.DELETE.UPLOAD) by the
--     day; S3 bills their parts (REST.PUT.PART; a part uploaded again replaces the earlier one) as
--     Standard storage, and the inventory does not list them.
-- Monthly cost: billable size (minimum object size, archive overhead) at the class's rate (sv_storage_prices;
-- Standard at the bucket's rate, sv_bucket_rates). Inputs: $statuses, $max_keys (keys listed per row), the prefix.
WITH days AS (
    SELECT CAST(unnest(range(CAST($start AS DATE), CAST($end AS DATE) + 1, INTERVAL 1 DAY)) AS DATE) AS usage_date
),
users_known AS (
    SELECT snapshot_date AS usage_date, user_id, status FROM raw.users WHERE snapshot_date BETWEEN $start AND $end
),
versions AS NOT MATERIALIZED (
    SELECT snapshot_date AS usage_date, bucket, key, version_id, user_id, coalesce(size, 0) AS size, last_modified,
           coalesce(is_latest, true) AS is_latest, coalesce(is_delete_marker, false) AS is_marker,
           coalesce(storage_class, 'STANDARD') AS storage_class
    FROM raw.inventory_objects WHERE snapshot_date BETWEEN $start AND $end
),
orphaned_users AS (
    SELECT DISTINCT v.usage_date, v.user_id, coalesce(u.status, 'absent from the users database') AS user_status
    FROM versions v
    SEMI JOIN (SELECT DISTINCT usage_date FROM users_known) d ON d.usage_date = v.usage_date
    LEFT JOIN users_known u ON u.usage_date = v.usage_date AND u.user_id = v.user_id
    WHERE v.user_id <> '_shared' AND (u.user_id IS NULL OR list_contains(CAST($statuses AS VARCHAR[]), u.status))
),
-- the versions a leak can be made of (markers, noncurrent versions, orphaned users' data): only these are
-- priced, not every version of the window
leak_candidates AS (
    SELECT * FROM versions WHERE is_marker OR NOT is_latest
    UNION ALL
    SELECT v.* FROM versions v
    SEMI JOIN orphaned_users o ON o.usage_date = v.usage_date AND o.user_id = v.user_id
    WHERE v.is_latest AND NOT v.is_marker
),
priced AS (
    SELECT v.*, CASE
               WHEN v.is_marker THEN strlen(v.key) / 1073741824.0 * r.standard_rate
               ELSE (greatest(v.size, coalesce(p.min_billable_bytes, 0)) + coalesce(p.overhead_class_bytes, 0))
                        / 1073741824.0 * CASE WHEN p.storage_class IS NULL OR v.storage_class = 'STANDARD'
                                              THEN r.standard_rate ELSE p.storage_per_gb_month END
                    + coalesce(p.overhead_standard_bytes, 0) / 1073741824.0 * r.standard_rate END AS monthly_usd,
           CASE WHEN v.is_marker THEN strlen(v.key) ELSE v.size END AS billed_bytes
    FROM leak_candidates v
    JOIN sv_bucket_rates r ON r.usage_date = v.usage_date AND r.bucket = v.bucket
    LEFT JOIN sv_storage_prices p ON p.storage_class = v.storage_class
),
noncurrent AS (
    SELECT usage_date, bucket, key, version_id, noncurrent_since
    FROM (SELECT usage_date, bucket, key, version_id, is_latest,
                 lead(last_modified) OVER (PARTITION BY usage_date, bucket, key
                                           ORDER BY last_modified, is_latest, version_id) AS noncurrent_since
          FROM versions v
          SEMI JOIN (SELECT DISTINCT usage_date, bucket, key FROM versions WHERE NOT is_latest) n
              ON n.usage_date = v.usage_date AND n.bucket = v.bucket AND n.key = v.key)
    WHERE NOT is_latest
),
mp AS (
    SELECT usage_date, request_time, bucket, key, user_id, operation, object_size,
           nullif(regexp_extract(request_uri, '[?&]uploadId=([^& ]+)', 1), '') AS upload_id,
           TRY_CAST(nullif(regexp_extract(request_uri, '[?&]partNumber=([0-9]+)', 1), '') AS INTEGER) AS part_number
    FROM raw.access_log_requests
    WHERE usage_date <= $end AND key IS NOT NULL AND coalesce(http_status, 200) < 300
      -- "(... IN ...) IS TRUE", the same rows as a bare IN: DuckDB pushes an IN list into the scan only as a
      -- zone-map hint and filters above it, so every request's URI was read; an expression is filtered in the
      -- scan first (the daily bench's 8.7 M requests, none of them multipart: 0.43 -> 0.02 s)
      AND (operation IN ('REST.POST.UPLOADS', 'REST.PUT.PART', 'REST.POST.UPLOAD', 'REST.DELETE.UPLOAD', 'S3.DELETE.UPLOAD')) IS TRUE
),
initiations AS (
    SELECT bucket, key, any_value(user_id) AS user_id, request_time AS initiated_at
    FROM mp WHERE operation = 'REST.POST.UPLOADS' GROUP BY ALL
),
uploads AS (
    SELECT bucket, key, upload_id, any_value(user_id) AS user_id, min(request_time) AS first_seen,
           min(request_time) FILTER (WHERE operation <> 'REST.PUT.PART') AS ended_at
    FROM mp WHERE upload_id IS NOT NULL GROUP BY ALL
),
-- an upload began at its key's latest initiation before its first request (or, initiated before the
-- logs begin, at that request); an initiation no request ever followed is an upload without parts
all_uploads AS (
    SELECT u.bucket, u.key, u.upload_id, u.user_id, coalesce(i.initiated_at, u.first_seen) AS started, u.ended_at
    FROM uploads u
    ASOF LEFT JOIN initiations i ON u.bucket = i.bucket AND u.key = i.key AND u.first_seen >= i.initiated_at
    UNION ALL
    SELECT i.bucket, i.key, NULL, i.user_id, i.initiated_at, NULL
    FROM initiations i
    ANTI JOIN (SELECT u.bucket, u.key, i2.initiated_at FROM uploads u
               ASOF JOIN initiations i2 ON u.bucket = i2.bucket AND u.key = i2.key AND u.first_seen >= i2.initiated_at) m
        ON m.bucket = i.bucket AND m.key = i.key AND m.initiated_at = i.initiated_at
),
open_uploads AS (
    SELECT d.usage_date, u.*
    FROM days d
    JOIN all_uploads u
      ON date_diff('day', CAST(u.started AS DATE), d.usage_date) >= $multipart_days
     AND (u.ended_at IS NULL OR CAST(u.ended_at AS DATE) > d.usage_date)
),
open_parts AS (  -- each part number's latest upload as of the day
    SELECT o.usage_date, o.bucket, o.key, o.upload_id, p.part_number, arg_max(p.object_size, p.request_time) AS size
    FROM open_uploads o
    JOIN mp p ON p.operation = 'REST.PUT.PART' AND p.bucket = o.bucket AND p.key = o.key
             AND p.upload_id = o.upload_id AND p.usage_date <= o.usage_date AND p.part_number IS NOT NULL
    GROUP BY ALL
),
leaked AS (
    SELECT p.usage_date, p.bucket, p.user_id, 'orphaned_data' AS leak_type, o.user_status, p.key,
           p.version_id AS id, p.billed_bytes AS bytes, p.monthly_usd, p.last_modified AS since
    FROM priced p
    JOIN orphaned_users o ON o.usage_date = p.usage_date AND o.user_id = p.user_id
    WHERE NOT p.is_marker
    UNION ALL
    SELECT p.usage_date, p.bucket, p.user_id, 'noncurrent_versions', u.status, p.key, p.version_id,
           p.billed_bytes, p.monthly_usd, n.noncurrent_since
    FROM priced p
    JOIN noncurrent n ON n.usage_date = p.usage_date AND n.bucket = p.bucket AND n.key = p.key
                     AND n.version_id IS NOT DISTINCT FROM p.version_id
    LEFT JOIN users_known u ON u.usage_date = p.usage_date AND u.user_id = p.user_id
    ANTI JOIN orphaned_users o ON o.usage_date = p.usage_date AND o.user_id = p.user_id
    WHERE NOT p.is_marker AND date_diff('day', CAST(n.noncurrent_since AS DATE), p.usage_date) > $noncurrent_days
    UNION ALL
    SELECT p.usage_date, p.bucket, p.user_id, 'delete_markers', u.status, p.key, p.version_id,
           p.billed_bytes, p.monthly_usd, p.last_modified
    FROM priced p
    LEFT JOIN users_known u ON u.usage_date = p.usage_date AND u.user_id = p.user_id
    ANTI JOIN orphaned_users o ON o.usage_date = p.usage_date AND o.user_id = p.user_id
    WHERE p.is_marker AND date_diff('day', CAST(p.last_modified AS DATE), p.usage_date) > $marker_days
    UNION ALL
    SELECT o.usage_date, o.bucket, o.user_id, 'incomplete_multipart_uploads', u.status, o.key, o.upload_id,
           coalesce(b.bytes, 0),
           coalesce(b.bytes, 0) / 1073741824.0
               * coalesce(r.standard_rate, (SELECT price FROM sv_tiers ORDER BY from_gb LIMIT 1)), o.started
    FROM open_uploads o
    LEFT JOIN (SELECT usage_date, bucket, key, upload_id, sum(size) AS bytes FROM open_parts GROUP BY ALL) b
        ON b.usage_date = o.usage_date AND b.bucket = o.bucket AND b.key = o.key
       AND b.upload_id IS NOT DISTINCT FROM o.upload_id
    LEFT JOIN sv_bucket_rates r ON r.usage_date = o.usage_date AND r.bucket = o.bucket
    LEFT JOIN users_known u ON u.usage_date = o.usage_date AND u.user_id = o.user_id
    ANTI JOIN orphaned_users x ON x.usage_date = o.usage_date AND x.user_id = o.user_id
),
grouped AS (
    SELECT usage_date, bucket, user_id, leak_type, any_value(user_status) AS user_status,
           count(*) AS objects, sum(bytes) AS bytes,
           list_sum(list(monthly_usd ORDER BY key, id)) AS monthly_usd, min(since) AS oldest,
           CAST(to_json(list({'key': key, 'id': id, 'bytes': bytes, 'since': since}
                             ORDER BY bytes DESC, key, id)[1:$max_keys]) AS VARCHAR) AS keys
    FROM leaked GROUP BY ALL
)
SELECT g.usage_date, g.bucket, g.user_id, g.leak_type, coalesce(g.user_status, 'unknown') AS user_status,
       CAST(g.objects AS BIGINT) AS objects, CAST(g.bytes AS BIGINT) AS bytes,
       CAST(round(g.monthly_usd, 6) AS DECIMAL(18, 6)) AS monthly_cost_usd, g.oldest,
       CASE WHEN g.user_id = '_shared' THEN NULL ELSE $prefix_head || g.user_id || $prefix_tail END AS prefix,
       CASE WHEN g.user_id = '_shared' THEN 'key list (objects outside any user prefix)'
            WHEN g.leak_type = 'orphaned_data' THEN 'lifecycle rule: expire everything under the prefix'
            WHEN g.leak_type = 'noncurrent_versions' THEN format('lifecycle rule: expire noncurrent versions after {} days', $noncurrent_days)
            WHEN g.leak_type = 'delete_markers' THEN 'lifecycle rule: remove expired object delete markers'
            ELSE format('lifecycle rule: abort incomplete multipart uploads after {} days, or abort the listed uploads', $multipart_days)
       END AS cleanup_kind,
       CASE WHEN g.user_id = '_shared' THEN NULL ELSE CAST(json_object('Rules', CASE g.leak_type
           WHEN 'orphaned_data' THEN [
               json_object('ID', 'bucketlens-orphaned-' || g.user_id, 'Status', 'Enabled',
                           'Filter', json_object('Prefix', $prefix_head || g.user_id || $prefix_tail),
                           'Expiration', json_object('Days', 1),
                           'NoncurrentVersionExpiration', json_object('NoncurrentDays', 1),
                           'AbortIncompleteMultipartUpload', json_object('DaysAfterInitiation', 1)),
               json_object('ID', 'bucketlens-orphaned-markers-' || g.user_id, 'Status', 'Enabled',
                           'Filter', json_object('Prefix', $prefix_head || g.user_id || $prefix_tail),
                           'Expiration', json_object('ExpiredObjectDeleteMarker', true))]
           WHEN 'noncurrent_versions' THEN [
               json_object('ID', 'bucketlens-noncurrent-' || g.user_id, 'Status', 'Enabled',
                           'Filter', json_object('Prefix', $prefix_head || g.user_id || $prefix_tail),
                           'NoncurrentVersionExpiration', json_object('NoncurrentDays', $noncurrent_days))]
           WHEN 'delete_markers' THEN [
               json_object('ID', 'bucketlens-markers-' || g.user_id, 'Status', 'Enabled',
                           'Filter', json_object('Prefix', $prefix_head || g.user_id || $prefix_tail),
                           'Expiration', json_object('ExpiredObjectDeleteMarker', true))]
           ELSE [
               json_object('ID', 'bucketlens-multipart-' || g.user_id, 'Status', 'Enabled',
                           'Filter', json_object('Prefix', $prefix_head || g.user_id || $prefix_tail),
                           'AbortIncompleteMultipartUpload', json_object('DaysAfterInitiation', $multipart_days))]
           END) AS VARCHAR) END AS cleanup_rule,
       g.keys
FROM grouped g
