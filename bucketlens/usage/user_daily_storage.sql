-- usage.user_daily_storage for the days $start .. $end: one row per user × storage class × day.
-- Every version S3 bills counts (current and noncurrent); delete markers never do. bytes_added: versions
-- last modified since the start of the day before the scan; duplicate_bytes: current copies of content
-- the user already stores (same ETag and size), every copy after the oldest.
--
-- Why it is shaped this way (docs/performance.md, "Per-user storage"): ranking every current copy by
-- (day, user, ETag, size) sorted 10 M rows a day with their strings, 10x the bare scan. Almost every
-- copy is alone in its group, and a copy alone is never a duplicate. So the copies are first grouped by
-- one 64-bit hash of their key (fixed width, one hash table, no strings), and only the copies whose hash
-- is repeated are ranked, by the exact key, as before. Equal keys hash equal, so every group of two or
-- more copies is ranked whole; a hash collision only ranks a few more lone copies, each rank 1. The
-- CTEs are NOT MATERIALIZED: DuckDB would otherwise buffer (and spill) every version to read it twice,
-- where two scans of the table cost less.
WITH versions AS NOT MATERIALIZED (
    SELECT snapshot_date AS usage_date, user_id, coalesce(storage_class, 'STANDARD') AS storage_class,
           coalesce(size, 0) AS size, e_tag, coalesce(is_latest, true) AS is_latest, last_modified
    FROM raw.inventory_objects
    WHERE snapshot_date BETWEEN $start AND $end AND NOT coalesce(is_delete_marker, false)
),
current_copies AS NOT MATERIALIZED (
    SELECT usage_date, user_id, storage_class, size, e_tag, last_modified,
           hash(usage_date, user_id, e_tag, size) AS content_hash
    FROM versions
    WHERE is_latest AND e_tag IS NOT NULL AND size > 0
),
repeated AS (
    SELECT content_hash FROM current_copies GROUP BY content_hash HAVING count(*) > 1
),
copies AS (
    SELECT usage_date, user_id, storage_class, size,
           row_number() OVER (PARTITION BY usage_date, user_id, e_tag, size
                              ORDER BY last_modified, storage_class) AS copy_no
    FROM current_copies
    WHERE content_hash IN (SELECT content_hash FROM repeated)
),
duplicates AS (
    SELECT usage_date, user_id, storage_class, sum(size) AS duplicate_bytes
    FROM copies WHERE copy_no > 1 GROUP BY ALL
),
per_class AS (
    SELECT usage_date, user_id, storage_class,
           count(*) AS object_count,
           sum(size) AS bytes,
           sum(size)::HUGEINT * 24 AS byte_hours,
           coalesce(sum(size) FILTER (WHERE last_modified >= usage_date::TIMESTAMP - INTERVAL 1 DAY), 0) AS bytes_added,
           coalesce(sum(size) FILTER (WHERE NOT is_latest), 0) AS noncurrent_bytes,
           count(*) FILTER (WHERE size < 131072) AS small_object_count
    FROM versions GROUP BY ALL
)
SELECT p.usage_date, p.user_id, p.storage_class, p.object_count, p.bytes::BIGINT AS bytes,
       p.byte_hours, p.bytes_added::BIGINT AS bytes_added,
       coalesce(d.duplicate_bytes, 0)::BIGINT AS duplicate_bytes, p.noncurrent_bytes::BIGINT AS noncurrent_bytes,
       p.small_object_count
FROM per_class p LEFT JOIN duplicates d USING (usage_date, user_id, storage_class)
