-- savings.storage_recommendations for the days $start .. $end: one row per day × bucket × user × candidate
-- class, the best lifecycle rule (transition age × object-size range) found for moving the user's
-- current Standard objects into that class, and what it would save a month.
--
-- The rule a recommendation stands for is the lifecycle rule it ships: under the user's prefix, objects of
-- a size range, transitioned "Days" after upload. So the objects it moves are the user's current Standard
-- objects of that age and size on the day; what the move costs besides storage is priced from the user's
-- own trailing history ($history_days of access logs, scaled to a 30-day month by the days observed):
-- reads of such objects (retrieval fees, dearer GETs; Deep Archive: a restore per object read, its copy
-- kept $restore_days at the Standard rate; Intelligent-Tiering: the moved objects read within the history
-- stay at Frequent Access, so they save nothing),
-- and deletes of such objects before the class's minimum duration (the remaining days are billed).
--
-- Objects are grouped by age (the transition ages reached: $ages, ascending) and size (0 bytes, under 2 KiB,
-- then powers of two: [2^k, 2^(k+1)) for k >= 11); 128 KiB, the rules' size limit, is a group boundary, so
-- each group is either all below or all above it and the grouped figures are exact. Money is computed per
-- group from integer counts (same inputs, same result), then the best contiguous run of size groups
-- (Kadane's maximum-sum run over the groups in size order) is the size range: it maximises the saving over
-- $max_months months net of the one-time transition fees.
-- Inputs besides the warehouse: sv_candidates (bucketlens.savings.prices.CandidateClass rows), sv_tiers
-- (the Standard tiers), sv_bucket_rates (bucket_rates.sql), $baseline_get (Standard's GET price).
WITH days AS (
    SELECT CAST(unnest(range(CAST($start AS DATE), CAST($end AS DATE) + 1, INTERVAL 1 DAY)) AS DATE) AS usage_date
),
ages AS (
    SELECT age_days, CAST(row_number() OVER (ORDER BY age_days) AS INTEGER) AS ai
    FROM (SELECT unnest(CAST($ages AS INTEGER[])) AS age_days)
),
observed AS (
    SELECT d.usage_date, count(DISTINCT l.usage_date) AS observed_days
    FROM days d
    LEFT JOIN (SELECT DISTINCT usage_date FROM raw.access_log_requests
               WHERE usage_date BETWEEN CAST($start AS DATE) - ($history_days - 1) AND $end) l
        ON l.usage_date BETWEEN d.usage_date - ($history_days - 1) AND d.usage_date
    GROUP BY d.usage_date
),
objects AS (
    SELECT snapshot_date AS usage_date, bucket, key, user_id, size,
           date_diff('day', CAST(last_modified AS DATE), snapshot_date) AS age_days
    FROM raw.inventory_objects
    WHERE snapshot_date BETWEEN $start AND $end
      AND coalesce(is_latest, true) AND NOT coalesce(is_delete_marker, false)
      AND coalesce(storage_class, 'STANDARD') = 'STANDARD' AND user_id <> '_shared' AND size IS NOT NULL
),
-- every GET of the history of any day of the window (and $restore_days - 1 days before it, so that
-- whether a read needs a new restore is decided the same way for a range and for one day). Read twice (the
-- listing join, the warm objects' EXISTS) and grouped by key before neither: grouping every GET first
-- built, twice, a hash table of nearly as many groups as GETs (the daily bench's 6 M GETs: 4.9 M groups),
-- where the joins probe the listing's table with them and only the GETs of listed objects are grouped
-- (the bench day's statement 10.4-13.1 -> 7.7-8.6 s; the 90-day backfill's range unchanged, 47.9 -> 47.7 s)
gets AS NOT MATERIALIZED (
    SELECT usage_date AS read_date, bucket, key, bytes_sent
    FROM raw.access_log_requests
    WHERE usage_date BETWEEN CAST($start AS DATE) - ($history_days - 1) - ($restore_days - 1) AND $end
      AND operation = 'REST.GET.OBJECT' AND http_status IN (200, 206) AND key IS NOT NULL
),
-- every GET and delete of the history matched with the object as listed that day: one inventory scan
-- and one join for both (the deletes' range is within the reads'); a read is the day's GETs of one listed
-- object (grouped on the listing row: i.rowid), a delete one distinct (day, key, version) deleted
requests AS (
    SELECT read_date AS request_date, bucket, key, NULL::VARCHAR AS version_id, bytes_sent, true AS is_read
    FROM gets
    UNION ALL
    SELECT DISTINCT usage_date, bucket, key, version_id, NULL::BIGINT, false
    FROM raw.access_log_requests
    WHERE usage_date BETWEEN CAST($start AS DATE) - ($history_days - 1) AND $end
      AND operation IN ('REST.DELETE.OBJECT', 'BATCH.DELETE.OBJECT', 'S3.EXPIRE.OBJECT')
      AND coalesce(http_status, 204) < 300 AND key IS NOT NULL
),
listed AS (
    SELECT r.request_date, r.bucket, r.key, r.is_read, count(*) AS gets,
           sum(coalesce(r.bytes_sent, 0)) AS bytes_sent, i.user_id, i.size,
           date_diff('day', CAST(i.last_modified AS DATE), r.request_date) AS age_days
    FROM requests r
    JOIN raw.inventory_objects i
      ON i.snapshot_date = r.request_date AND i.bucket = r.bucket AND i.key = r.key
    WHERE i.snapshot_date BETWEEN CAST($start AS DATE) - ($history_days - 1) - ($restore_days - 1) AND $end
      AND coalesce(i.is_latest, true) AND NOT coalesce(i.is_delete_marker, false)
      AND coalesce(i.storage_class, 'STANDARD') = 'STANDARD' AND i.user_id <> '_shared' AND i.size IS NOT NULL
      AND (r.is_read OR r.version_id IS NULL OR r.version_id = i.version_id)
    GROUP BY r.request_date, r.bucket, r.key, r.is_read, r.version_id, i.rowid, i.user_id, i.size, i.last_modified
),
reads AS (
    SELECT request_date AS read_date, bucket, user_id, key, size, gets, bytes_sent, age_days,
           coalesce(request_date - lag(request_date) OVER (PARTITION BY bucket, key ORDER BY request_date)
                    >= $restore_days, true) AS restores
    FROM listed WHERE is_read
),
deletes AS (
    SELECT request_date AS delete_date, bucket, user_id, size, age_days FROM listed WHERE NOT is_read
),
-- users whose data is a leak (absent from the day's users snapshot, or deleted/closed): their objects are
-- priced like anyone's, but deleting them is the saving (savings.storage_leaks), not moving them
orphans AS (
    SELECT o.usage_date, o.user_id
    FROM (SELECT DISTINCT usage_date, user_id FROM objects) o
    SEMI JOIN (SELECT DISTINCT snapshot_date FROM raw.users WHERE snapshot_date BETWEEN $start AND $end) s
        ON s.snapshot_date = o.usage_date
    LEFT JOIN raw.users u ON u.snapshot_date = o.usage_date AND u.user_id = o.user_id
    WHERE u.user_id IS NULL OR list_contains(CAST($orphaned_statuses AS VARCHAR[]), u.status)
),
-- an object is warm on a day when it was read in the history ending that day (an EXISTS: a hash join on
-- the key; an ASOF join on the latest read sorted every object by its key)
stock AS (
    SELECT o.usage_date, o.bucket, o.user_id, sv_age_group(o.age_days, $ages) AS k, sv_size_group(o.size) AS sb,
           count(*) AS objects, sum(o.size) AS bytes,
           coalesce(sum(o.size) FILTER (WHERE EXISTS (
               SELECT 1 FROM gets lr WHERE lr.bucket = o.bucket AND lr.key = o.key
                 AND lr.read_date BETWEEN o.usage_date - ($history_days - 1) AND o.usage_date)), 0) AS warm_bytes
    FROM objects o
    WHERE sv_age_group(o.age_days, $ages) > 0
    GROUP BY ALL
),
read_groups AS (
    SELECT d.usage_date, r.bucket, r.user_id, sv_age_group(r.age_days, $ages) AS k, sv_size_group(r.size) AS sb,
           sum(r.gets) AS gets, sum(r.bytes_sent) AS bytes_sent,
           count(*) FILTER (WHERE r.restores) AS restores,
           coalesce(sum(r.size) FILTER (WHERE r.restores), 0) AS restored_bytes
    FROM days d
    JOIN reads r ON r.read_date BETWEEN d.usage_date - ($history_days - 1) AND d.usage_date
    WHERE sv_age_group(r.age_days, $ages) > 0
    GROUP BY ALL
),
-- a delete of an object that a rule of age ages[ai] would have moved, before the class's minimum:
-- billed the remaining days (integer byte-days per group; priced below)
early AS (
    SELECT d.usage_date, x.bucket, x.user_id, a.ai, sv_size_group(x.size) AS sb, c.storage_class,
           count(*) AS early_deletes,
           sum(CAST(greatest(x.size, c.min_billable_bytes) + c.overhead_class_bytes AS HUGEINT)
               * (c.min_days - (x.age_days - a.age_days))) AS early_byte_days
    FROM days d
    JOIN deletes x ON x.delete_date BETWEEN d.usage_date - ($history_days - 1) AND d.usage_date
    JOIN ages a ON x.age_days >= a.age_days
    JOIN sv_candidates c ON x.age_days - a.age_days < c.min_days AND a.age_days >= c.min_transition_age_days
    GROUP BY ALL
),
-- class-independent figures of the objects a rule of age ages[ai] moves, per size group
groups AS (
    SELECT usage_date, bucket, user_id, ai, sb,
           sum(objects) AS objects, sum(bytes) AS bytes, sum(warm_bytes) AS warm_bytes,
           sum(gets) AS gets, sum(bytes_sent) AS bytes_sent, sum(restores) AS restores,
           sum(restored_bytes) AS restored_bytes
    FROM (
        SELECT s.usage_date, s.bucket, s.user_id, a.ai, s.sb, s.objects, s.bytes, s.warm_bytes
        FROM stock s JOIN ages a ON s.k >= a.ai
        UNION ALL BY NAME
        SELECT g.usage_date, g.bucket, g.user_id, a.ai, g.sb, g.gets, g.bytes_sent, g.restores, g.restored_bytes
        FROM read_groups g JOIN ages a ON g.k >= a.ai
        UNION ALL BY NAME
        SELECT DISTINCT usage_date, bucket, user_id, ai, sb FROM early
    )
    GROUP BY ALL
),
-- the windows below sort on integers: each bucket × user and each candidate class numbered. The
-- strings are joined once per group (before the classes multiply the rows) and back only for the chosen
-- bands: the 3 M priced rows of the demo month carry no string.
owners AS (
    SELECT bucket, user_id, CAST(row_number() OVER () AS INTEGER) AS bu
    FROM (SELECT DISTINCT bucket, user_id FROM groups)
),
classes AS (SELECT *, CAST(row_number() OVER (ORDER BY storage_class) AS INTEGER) AS cn FROM sv_candidates),
keyed AS MATERIALIZED (
    SELECT g.*, w.bu, r.standard_rate
    FROM groups g
    JOIN owners w USING (bucket, user_id)
    JOIN sv_bucket_rates r USING (usage_date, bucket)
),
early_keyed AS (
    SELECT e.usage_date, w.bu, e.ai, e.sb, c.cn, e.early_deletes, e.early_byte_days
    FROM early e JOIN owners w USING (bucket, user_id) JOIN classes c USING (storage_class)
),
priced AS (
    SELECT g.usage_date, c.storage_class, g.bu, c.cn, g.ai, a.age_days, g.sb,
           coalesce(g.objects, 0) AS objects, coalesce(g.bytes, 0) AS bytes,
           coalesce(g.warm_bytes, 0) AS warm_bytes, coalesce(g.gets, 0) AS gets,
           coalesce(g.restores, 0) AS restores, coalesce(e.early_deletes, 0) AS early_deletes,
           g.standard_rate, o.observed_days, 30.0 / greatest(o.observed_days, 1) AS scale,
           -- what the objects cost now, and in the class (billable size, archive overhead; Intelligent-
           -- Tiering tiers only monitored objects, >= 128 KiB, and charges their monitoring)
           coalesce(g.bytes, 0) / 1073741824.0 * g.standard_rate AS now_usd,
           CASE WHEN c.monitoring_per_object_month > 0 AND sv_size_floor(g.sb) < c.monitored_min_bytes
                THEN coalesce(g.bytes, 0) / 1073741824.0 * g.standard_rate
                WHEN sv_size_floor(g.sb + 1) <= c.min_billable_bytes
                THEN coalesce(g.objects, 0) * c.min_billable_bytes / 1073741824.0 * c.storage_per_gb_month
                ELSE coalesce(g.bytes, 0) / 1073741824.0 * c.storage_per_gb_month END
             + coalesce(g.objects, 0) * c.overhead_class_bytes / 1073741824.0 * c.storage_per_gb_month
             + coalesce(g.objects, 0) * c.overhead_standard_bytes / 1073741824.0 * g.standard_rate AS then_usd,
           CASE WHEN c.monitoring_per_object_month > 0 AND sv_size_floor(g.sb) >= c.monitored_min_bytes
                THEN coalesce(g.objects, 0) * c.monitoring_per_object_month ELSE 0 END AS monitoring_usd,
           -- the user's reads of such objects, a 30-day month of them
           (CASE WHEN c.monitoring_per_object_month > 0
                 THEN CASE WHEN sv_size_floor(g.sb) >= c.monitored_min_bytes
                           THEN coalesce(g.warm_bytes, 0) / 1073741824.0 * (g.standard_rate - c.storage_per_gb_month)
                           ELSE 0 END
                 WHEN c.restore_per_request > 0
                 THEN 30.0 / greatest(o.observed_days, 1) * (
                        coalesce(g.restores, 0) * c.restore_per_request
                      + coalesce(g.restored_bytes, 0) / 1073741824.0 * c.retrieval_per_gb
                      + coalesce(g.restored_bytes, 0) / 1073741824.0 * g.standard_rate * $restore_days / 30.0
                      + coalesce(g.gets, 0) * (c.get_per_request - $baseline_get))
                 ELSE 30.0 / greatest(o.observed_days, 1) * (
                        coalesce(g.bytes_sent, 0) / 1073741824.0 * c.retrieval_per_gb
                      + coalesce(g.gets, 0) * (c.get_per_request - $baseline_get)) END) AS retrieval_usd,
           30.0 / greatest(o.observed_days, 1)
             * coalesce(e.early_byte_days, 0) / 1073741824.0 * c.storage_per_gb_month / 30.0 AS early_delete_usd,
           coalesce(g.objects, 0) * c.transition_per_object AS transition_usd,
           c.size_filter
    FROM keyed g
    JOIN ages a USING (ai)
    JOIN classes c ON a.age_days >= c.min_transition_age_days AND (g.sb > 0 OR NOT c.size_filter)
    JOIN observed o USING (usage_date)
    LEFT JOIN early_keyed e ON e.usage_date = g.usage_date AND e.bu = g.bu
        AND e.ai = g.ai AND e.sb = g.sb AND e.cn = c.cn
),
valued AS (
    SELECT *, now_usd - then_usd - monitoring_usd - retrieval_usd - early_delete_usd AS saving_usd,
           (now_usd - then_usd - monitoring_usd - retrieval_usd - early_delete_usd) * $max_months - transition_usd AS net_usd
    FROM priced
),
-- the search reads only the integer keys and the net figure (narrow rows sort and spill far less)
prefix_sums AS (
    SELECT usage_date, bu, cn, ai, age_days, sb, size_filter, net_usd,
           sum(net_usd) OVER w AS upto,
           sum(net_usd) OVER whole AS total,
           min(sb) OVER whole AS first_sb, max(sb) OVER whole AS last_sb
    FROM valued
    WINDOW w AS (PARTITION BY usage_date, bu, cn, ai ORDER BY sb ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
           whole AS (PARTITION BY usage_date, bu, cn, ai)
),
runs AS (  -- the best run of size groups ending at each group: from the group after the lowest prefix
    SELECT *, min({'p': upto - net_usd, 's': -sb}) OVER (
               PARTITION BY usage_date, bu, cn, ai ORDER BY sb
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS best_start
    FROM prefix_sums
),
bands AS (
    SELECT usage_date, bu, cn, ai, age_days,
           CASE WHEN size_filter THEN -best_start.s ELSE first_sb END AS start_sb,
           sb AS end_sb, last_sb, size_filter,
           CASE WHEN size_filter THEN upto - best_start.p ELSE total END AS band_net
    FROM runs
    WHERE size_filter OR sb = last_sb
),
-- per user, bucket and class the band saving the most (ties: the earliest age, the narrowest, the smallest sizes)
best AS (
    SELECT usage_date, bu, cn,
           arg_min({'ai': ai, 'age_days': age_days, 'start_sb': start_sb, 'end_sb': end_sb, 'last_sb': last_sb,
                    'size_filter': size_filter},
                   {'n': -band_net, 'a': age_days, 'w': end_sb - start_sb, 's': start_sb}) AS band
    FROM bands
    GROUP BY ALL
),
chosen AS (
    SELECT b.usage_date, b.bu, b.cn, b.band.age_days AS age_days,
           b.band.size_filter AS size_filter, b.band.start_sb AS start_sb, b.band.end_sb AS end_sb,
           b.band.last_sb AS last_sb,
           sum(v.objects) AS objects, sum(v.bytes) AS bytes, sum(v.warm_bytes) AS warm_bytes,
           sum(v.gets) AS gets, sum(v.restores) AS restores, sum(v.early_deletes) AS early_deletes,
           -- money summed in size order: the same groups give the same figure to the last bit
           list_sum(list(v.now_usd ORDER BY v.sb)) AS now_usd,
           list_sum(list(v.then_usd ORDER BY v.sb)) AS then_usd,
           list_sum(list(v.monitoring_usd ORDER BY v.sb)) AS monitoring_usd,
           list_sum(list(v.retrieval_usd ORDER BY v.sb)) AS retrieval_usd,
           list_sum(list(v.early_delete_usd ORDER BY v.sb)) AS early_delete_usd,
           list_sum(list(v.saving_usd ORDER BY v.sb)) AS saving_usd,
           list_sum(list(v.transition_usd ORDER BY v.sb)) AS transition_usd,
           any_value(v.standard_rate) AS standard_rate, any_value(v.observed_days) AS observed_days
    FROM best b
    JOIN valued v ON v.usage_date = b.usage_date AND v.bu = b.bu AND v.cn = b.cn AND v.ai = b.band.ai
        AND v.sb BETWEEN b.band.start_sb AND b.band.end_sb
    GROUP BY b.usage_date, b.bu, b.cn, b.band
),
rows AS (
SELECT c.usage_date, c.bucket, c.user_id, c.storage_class,
       $prefix_head || c.user_id || $prefix_tail AS prefix,
       c.age_days AS transition_age_days,
       CASE WHEN c.size_filter THEN sv_size_floor(c.start_sb) END AS min_object_bytes,
       CASE WHEN c.size_filter AND c.end_sb < c.last_sb THEN sv_size_floor(c.end_sb + 1) END AS max_object_bytes,
       CAST(c.objects AS BIGINT) AS objects, CAST(c.bytes AS BIGINT) AS bytes,
       CAST(c.bytes - c.warm_bytes AS BIGINT) AS cold_bytes,
       CAST(c.gets AS BIGINT) AS reads,
       CAST(CASE WHEN k.restore_per_request > 0 THEN c.restores ELSE 0 END AS BIGINT) AS restores,
       CAST(c.early_deletes AS BIGINT) AS early_deletes,
       CAST(round(c.now_usd, 6) AS DECIMAL(18, 6)) AS current_monthly_usd,
       CAST(round(c.now_usd - c.then_usd, 6) AS DECIMAL(18, 6)) AS storage_saving_usd,
       CAST(round(c.monitoring_usd, 6) AS DECIMAL(18, 6)) AS monitoring_usd,
       CAST(round(c.retrieval_usd, 6) AS DECIMAL(18, 6)) AS retrieval_usd,
       CAST(round(c.early_delete_usd, 6) AS DECIMAL(18, 6)) AS early_delete_usd,
       CAST(round(c.saving_usd, 6) AS DECIMAL(18, 6)) AS monthly_saving_usd,
       CAST(round(c.transition_usd, 6) AS DECIMAL(18, 6)) AS transition_cost_usd,
       CASE WHEN c.saving_usd > 0 THEN round(c.transition_usd / c.saving_usd, 2) END AS break_even_months,
       c.standard_rate, CAST(c.observed_days AS INTEGER) AS observed_days, k.price_as_of,
       c.observed_days >= $min_history_days AND c.saving_usd >= $min_saving AND x.user_id IS NULL
           AND c.saving_usd > 0 AND c.transition_usd / c.saving_usd <= $max_months AS recommended,
       CASE WHEN x.user_id IS NOT NULL THEN 'the user is deleted or unknown: delete the data (storage_leaks), do not move it'
            WHEN c.observed_days < $min_history_days
                THEN format('{} of {} days of access logs so far: too little history to project reads', c.observed_days, $min_history_days)
            WHEN c.saving_usd <= 0 THEN 'the move would cost more than it saves'
            WHEN c.saving_usd < $min_saving THEN format('saves under ${:.2f} a month', $min_saving)
            WHEN c.transition_usd / c.saving_usd > $max_months
                THEN format('the transition fees take over {} months to pay back', $max_months)
            ELSE 'recommended' END AS reason,
       CAST(json_object('Rules', [json_object(
           'ID', 'bucketlens-' || lower(c.storage_class) || '-' || c.user_id,
           'Status', 'Enabled',
           'Filter', CASE
               WHEN NOT c.size_filter THEN json_object('Prefix', $prefix_head || c.user_id || $prefix_tail)
               WHEN c.end_sb < c.last_sb THEN json_object('And', json_object(
                   'Prefix', $prefix_head || c.user_id || $prefix_tail,
                   'ObjectSizeGreaterThan', sv_size_floor(c.start_sb) - 1,
                   'ObjectSizeLessThan', sv_size_floor(c.end_sb + 1)))
               ELSE json_object('And', json_object(
                   'Prefix', $prefix_head || c.user_id || $prefix_tail,
                   'ObjectSizeGreaterThan', sv_size_floor(c.start_sb) - 1)) END,
           'Transitions', [json_object('Days', c.age_days, 'StorageClass', k.lifecycle_class)])]) AS VARCHAR)
           AS lifecycle_rule
FROM (SELECT c.*, w.bucket, w.user_id, k.storage_class
      FROM chosen c JOIN owners w USING (bu) JOIN classes k USING (cn)) c
JOIN sv_candidates k USING (storage_class)
LEFT JOIN orphans x ON x.usage_date = c.usage_date AND x.user_id = c.user_id
)
-- the user's best recommended class in the bucket (the classes are alternatives: totals add these only)
SELECT *, recommended AND row_number() OVER (
           PARTITION BY usage_date, bucket, user_id ORDER BY recommended DESC, monthly_saving_usd DESC, storage_class) = 1
       AS best_for_user
FROM rows
