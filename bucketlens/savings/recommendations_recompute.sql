-- The check behind savings.storage_recommendations: every recommendation of the days $start .. $end
-- recomputed object by object from the raw rows it names (its prefix's current Standard objects of the
-- transition age and size range; the GETs and deletes of such objects in its history) and the price
-- book's rules (sv_candidates, sv_tiers) — no size or age groups, no search: the written rule, priced
-- again. One row per recommendation: its stored figures beside the recomputed ones.
WITH recs AS (
    SELECT * FROM savings.storage_recommendations WHERE usage_date BETWEEN $start AND $end
),
standard_rate AS (
    SELECT d.usage_date, d.bucket,
           coalesce((SELECT price FROM sv_tiers t WHERE t.from_gb < d.gb AND (t.up_to_gb IS NULL OR d.gb <= t.up_to_gb)),
                    (SELECT price FROM sv_tiers ORDER BY from_gb LIMIT 1)) AS rate
    FROM (SELECT r.usage_date, r.bucket,
                 (SELECT coalesce(sum(size), 0) FROM raw.inventory_objects i
                  WHERE i.snapshot_date = r.usage_date AND i.bucket = r.bucket AND NOT coalesce(i.is_delete_marker, false)
                    AND coalesce(i.storage_class, 'STANDARD') = 'STANDARD') / 1073741824.0 AS gb
          FROM (SELECT DISTINCT usage_date, bucket FROM recs) r) d
),
history AS (  -- the days of access logs in each day's history (the days present first: a day is 1 row)
    SELECT r.usage_date, count(l.usage_date) AS observed_days
    FROM (SELECT DISTINCT usage_date FROM recs) r
    LEFT JOIN (SELECT DISTINCT usage_date FROM raw.access_log_requests) l
        ON l.usage_date BETWEEN r.usage_date - ($history_days - 1) AND r.usage_date
    GROUP BY r.usage_date
),
named AS (  -- the recommendation with everything its formula needs
    SELECT r.*, c.storage_per_gb_month AS rate, c.min_days, c.min_billable_bytes, c.overhead_class_bytes,
           c.overhead_standard_bytes, c.monitoring_per_object_month, c.monitored_min_bytes,
           c.transition_per_object, c.get_per_request, c.retrieval_per_gb, c.restore_per_request,
           s.rate AS std, 30.0 / greatest(h.observed_days, 1) AS scale
    FROM recs r
    JOIN sv_candidates c USING (storage_class)
    JOIN standard_rate s USING (usage_date, bucket)
    JOIN history h USING (usage_date)
),
in_rule AS (  -- each current Standard object the rule moves, with whether it was read in the history
    SELECT n.usage_date, n.bucket, n.user_id, n.storage_class, i.key, i.size,
           EXISTS (SELECT 1 FROM raw.access_log_requests g
                   WHERE g.bucket = i.bucket AND g.key = i.key AND g.operation = 'REST.GET.OBJECT'
                     AND g.http_status IN (200, 206)
                     AND g.usage_date BETWEEN n.usage_date - ($history_days - 1) AND n.usage_date) AS read_lately
    FROM named n
    JOIN raw.inventory_objects i
      ON i.snapshot_date = n.usage_date AND i.bucket = n.bucket AND i.user_id = n.user_id
    WHERE coalesce(i.is_latest, true) AND NOT coalesce(i.is_delete_marker, false)
      AND coalesce(i.storage_class, 'STANDARD') = 'STANDARD' AND i.size IS NOT NULL
      AND date_diff('day', CAST(i.last_modified AS DATE), n.usage_date) >= n.transition_age_days
      AND i.size >= coalesce(n.min_object_bytes, 0)
      AND (n.max_object_bytes IS NULL OR i.size < n.max_object_bytes)
),
storage AS (
    SELECT o.usage_date, o.bucket, o.user_id, o.storage_class, count(*) AS objects, sum(o.size) AS bytes,
           fsum(o.size / 1073741824.0 * n.std) AS now_usd,
           fsum(CASE
                    WHEN n.monitoring_per_object_month > 0 AND o.size < n.monitored_min_bytes
                        THEN o.size / 1073741824.0 * n.std
                    ELSE greatest(o.size, n.min_billable_bytes) / 1073741824.0 * n.rate END
                + n.overhead_class_bytes / 1073741824.0 * n.rate
                + n.overhead_standard_bytes / 1073741824.0 * n.std) AS then_usd,
           fsum(CASE WHEN n.monitoring_per_object_month > 0 AND o.size >= n.monitored_min_bytes
                     THEN n.monitoring_per_object_month ELSE 0 END) AS monitoring_usd,
           fsum(CASE WHEN n.monitoring_per_object_month > 0 AND o.size >= n.monitored_min_bytes AND o.read_lately
                     THEN o.size / 1073741824.0 * (n.std - n.rate) ELSE 0 END) AS rewarm_usd,
           fsum(n.transition_per_object) AS transition_usd
    FROM in_rule o JOIN named n USING (usage_date, bucket, user_id, storage_class)
    GROUP BY ALL
),
-- each (day, object) read in the window's histories, as listed that day, and whether that read needs a
-- restore (the key not read within the restored copy's days before): both are the object's, whatever the
-- recommendation, so they are worked out once per read, then matched with every recommendation whose
-- rule moves the object and whose history holds the day
listed_reads AS (
    SELECT g.read_date, g.bucket, g.key, i.user_id, i.size, g.gets, g.bytes_sent,
           date_diff('day', CAST(i.last_modified AS DATE), g.read_date) AS age_days,
           NOT EXISTS (SELECT 1 FROM raw.access_log_requests p
                       WHERE p.bucket = g.bucket AND p.key = g.key AND p.operation = 'REST.GET.OBJECT'
                         AND p.http_status IN (200, 206)
                         AND p.usage_date BETWEEN g.read_date - ($restore_days - 1) AND g.read_date - 1) AS restores
    FROM (SELECT usage_date AS read_date, bucket, key, count(*) AS gets, sum(coalesce(bytes_sent, 0)) AS bytes_sent
          FROM raw.access_log_requests
          WHERE operation = 'REST.GET.OBJECT' AND http_status IN (200, 206)
            AND usage_date BETWEEN CAST($start AS DATE) - ($history_days - 1) AND $end
          GROUP BY ALL) g
    JOIN raw.inventory_objects i ON i.snapshot_date = g.read_date AND i.bucket = g.bucket AND i.key = g.key
    WHERE coalesce(i.is_latest, true) AND NOT coalesce(i.is_delete_marker, false)
      AND coalesce(i.storage_class, 'STANDARD') = 'STANDARD' AND i.size IS NOT NULL
),
retrieval AS (
    SELECT n.usage_date, n.bucket, n.user_id, n.storage_class,
           fsum(n.scale * CASE
               WHEN n.monitoring_per_object_month > 0 THEN 0
               WHEN n.restore_per_request > 0 THEN
                   r.gets * (n.get_per_request - $baseline_get)
                   + CASE WHEN r.restores THEN n.restore_per_request + r.size / 1073741824.0 * n.retrieval_per_gb
                          + r.size / 1073741824.0 * n.std * $restore_days / 30.0 ELSE 0 END
               ELSE r.bytes_sent / 1073741824.0 * n.retrieval_per_gb + r.gets * (n.get_per_request - $baseline_get)
           END) AS retrieval_usd
    FROM named n
    JOIN listed_reads r
      ON r.bucket = n.bucket AND r.user_id = n.user_id
     AND r.read_date BETWEEN n.usage_date - ($history_days - 1) AND n.usage_date
    WHERE r.age_days >= n.transition_age_days
      AND r.size >= coalesce(n.min_object_bytes, 0)
      AND (n.max_object_bytes IS NULL OR r.size < n.max_object_bytes)
    GROUP BY ALL
),
early AS (  -- deletes of the rule's objects before the class's minimum duration: the remaining days
    SELECT n.usage_date, n.bucket, n.user_id, n.storage_class,
           fsum(n.scale * (greatest(i.size, n.min_billable_bytes) + n.overhead_class_bytes) / 1073741824.0 * n.rate
                * (n.min_days - (date_diff('day', CAST(i.last_modified AS DATE), d.usage_date) - n.transition_age_days))
                / 30.0) AS early_delete_usd
    FROM named n
    JOIN (SELECT DISTINCT usage_date, bucket, key, version_id FROM raw.access_log_requests
          WHERE operation IN ('REST.DELETE.OBJECT', 'BATCH.DELETE.OBJECT', 'S3.EXPIRE.OBJECT')
            AND coalesce(http_status, 204) < 300) d
      ON d.bucket = n.bucket AND d.usage_date BETWEEN n.usage_date - ($history_days - 1) AND n.usage_date
    JOIN raw.inventory_objects i
      ON i.snapshot_date = d.usage_date AND i.bucket = d.bucket AND i.key = d.key AND i.user_id = n.user_id
    WHERE coalesce(i.is_latest, true) AND NOT coalesce(i.is_delete_marker, false)
      AND coalesce(i.storage_class, 'STANDARD') = 'STANDARD' AND i.size IS NOT NULL
      AND (d.version_id IS NULL OR d.version_id = i.version_id)
      AND date_diff('day', CAST(i.last_modified AS DATE), d.usage_date) >= n.transition_age_days
      AND date_diff('day', CAST(i.last_modified AS DATE), d.usage_date) - n.transition_age_days < n.min_days
      AND i.size >= coalesce(n.min_object_bytes, 0)
      AND (n.max_object_bytes IS NULL OR i.size < n.max_object_bytes)
    GROUP BY ALL
)
SELECT n.usage_date, n.bucket, n.user_id, n.storage_class,
       n.objects AS stored_objects, coalesce(s.objects, 0) AS objects,
       n.bytes AS stored_bytes, coalesce(s.bytes, 0) AS bytes,
       n.monthly_saving_usd AS stored_saving_usd,
       coalesce(s.now_usd, 0) - coalesce(s.then_usd, 0) - coalesce(s.monitoring_usd, 0) - coalesce(s.rewarm_usd, 0)
           - coalesce(r.retrieval_usd, 0) - coalesce(e.early_delete_usd, 0) AS saving_usd,
       n.transition_cost_usd AS stored_transition_usd, coalesce(s.transition_usd, 0) AS transition_usd
FROM named n
LEFT JOIN storage s USING (usage_date, bucket, user_id, storage_class)
LEFT JOIN retrieval r USING (usage_date, bucket, user_id, storage_class)
LEFT JOIN early e USING (usage_date, bucket, user_id, storage_class)
