"""The SQL of the abuse patterns (``abuse``): one set-based statement per pattern, and their output table.

Why this module exists: the statements are long and are read, reviewed and tuned as SQL; keeping them
apart from the Python that binds each rule's thresholds (``abuse._statements``) lets each file be read
for one thing. Placeholders in braces are table names filled by ``abuse``; ``$name`` are parameters.
"""

UPLOAD_OPERATIONS = ["REST.PUT.OBJECT", "REST.PUT.PART"]
"""Operations that carry uploaded bytes (CompleteMultipartUpload would count a multipart object twice)."""

OUTPUT_DDL = """
CREATE OR REPLACE TEMP TABLE {out} (
    usage_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    pattern VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    value DOUBLE,
    threshold DOUBLE,
    evidence_table VARCHAR,
    evidence VARCHAR
)"""

# Requests of the window's days (by request time, whose date is the flag's day); the hour before the
# first midnight is included for the sliding window.
REQUESTS = """
SELECT CAST(request_time AS DATE) AS usage_date, user_id, request_time, request_id, operation, key,
       http_status, remote_ip, user_agent, coalesce(object_size, 0) AS object_size
FROM {access_log}
WHERE usage_date BETWEEN $start - INTERVAL 1 DAY AND $end + INTERVAL 1 DAY
  AND request_time >= $start::TIMESTAMP - INTERVAL {lead}
  AND request_time < $end::TIMESTAMP + INTERVAL 1 DAY
  AND user_id <> '{shared}'
"""

RAPID_UPLOAD_SQL = """
INSERT INTO {out}
WITH puts AS (
    SELECT * FROM ({requests}) WHERE list_contains($operations, operation) AND http_status < 300
),
windows AS (
    SELECT user_id, request_time AS window_end,
           sum(object_size) OVER (PARTITION BY user_id ORDER BY request_time
                                  RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW) AS bytes
    FROM puts
),
peak AS (  -- the day's fullest hour (the earliest, if two hold as much)
    SELECT CAST(window_end AS DATE) AS usage_date, user_id,
           first(window_end ORDER BY bytes DESC, window_end) AS window_end, max(bytes) AS bytes
    FROM windows WHERE window_end >= $start::TIMESTAMP
    GROUP BY ALL HAVING max(bytes) > $threshold
),
evidence AS (
    SELECT p.usage_date, p.user_id, p.bytes, p.window_end, count(*) AS objects, min(u.request_time) AS window_start,
           list(u.request_id ORDER BY u.object_size DESC, u.request_id)[1:20] AS request_ids,
           list(u.key ORDER BY u.object_size DESC, u.request_id)[1:10] AS keys
    FROM peak p JOIN puts u
      ON u.user_id = p.user_id AND u.request_time >= p.window_end - INTERVAL 1 HOUR
     AND u.request_time <= p.window_end
    GROUP BY ALL
)
SELECT usage_date, user_id, 'rapid_upload', $severity, bytes, $threshold, '{access_log}',
       json_object('bytes_in_hour', bytes, 'objects', objects,
                   'window_start', window_start, 'window_end', window_end,
                   'top_request_ids', request_ids, 'top_keys', keys)::VARCHAR
FROM evidence
"""

# The evidence lists are built only for the days and users over the threshold: built for every user with
# an upload and then filtered, they were most of the statement (the daily bench's day, 4.9 M requests:
# 1.06-1.19 -> 0.43-0.44 s; the demo month's 6 flags identical).
DAILY_UPLOAD_SQL = """
INSERT INTO {out}
WITH puts AS NOT MATERIALIZED (
    SELECT * FROM ({requests})
    WHERE list_contains($operations, operation) AND http_status < 300 AND request_time >= $start::TIMESTAMP
),
flagged AS (
    SELECT usage_date, user_id FROM puts GROUP BY usage_date, user_id HAVING sum(object_size) > $threshold
)
SELECT usage_date, user_id, 'daily_upload_volume', $severity, sum(object_size), $threshold, '{access_log}',
       json_object('bytes', sum(object_size), 'objects', count(*),
                   'first_upload', min(request_time), 'last_upload', max(request_time),
                   'top_request_ids', list(request_id ORDER BY object_size DESC, request_id)[1:20],
                   'top_keys', list(key ORDER BY object_size DESC, request_id)[1:10])::VARCHAR
FROM puts p SEMI JOIN flagged f ON f.usage_date = p.usage_date AND f.user_id = p.user_id
GROUP BY usage_date, user_id
"""

SHARING_SQL = """
INSERT INTO {out}
WITH ok AS (
    SELECT * FROM ({requests})
    WHERE request_time >= $start::TIMESTAMP AND http_status < 400 AND remote_ip IS NOT NULL
),
per_ip AS (
    SELECT usage_date, user_id, remote_ip, count(*) AS requests, min(request_id) AS sample_request_id
    FROM ok GROUP BY ALL
),
-- the distinct IPs and user agents counted from grouped rows, not by two DISTINCT aggregates per user (the
-- 4.9 M requests of the daily bench's day: 1.06 -> 0.75 s; the same flags)
per_user AS (
    SELECT usage_date, user_id, i.ips, a.agents, i.requests
    FROM (SELECT usage_date, user_id, count(*) AS ips, CAST(sum(requests) AS BIGINT) AS requests
          FROM per_ip GROUP BY ALL) i
    JOIN (SELECT usage_date, user_id, count(user_agent) AS agents
          FROM (SELECT DISTINCT usage_date, user_id, user_agent FROM ok) GROUP BY ALL) a USING (usage_date, user_id)
    WHERE i.ips > $max_ips OR a.agents > $max_agents
)
SELECT u.usage_date, u.user_id, 'sharing_abuse', $severity, u.ips, $max_ips, '{access_log}',
       json_object('distinct_ips', u.ips, 'distinct_user_agents', u.agents, 'requests', u.requests,
                   'max_distinct_user_agents', $max_agents,
                   'top_ips', list({{'ip': i.remote_ip, 'requests': i.requests}}
                                   ORDER BY i.requests DESC, i.remote_ip)[1:20],
                   'sample_request_ids', list(i.sample_request_id ORDER BY i.requests DESC, i.remote_ip)[1:20])::VARCHAR
FROM per_user u JOIN per_ip i USING (usage_date, user_id)
GROUP BY u.usage_date, u.user_id, u.ips, u.agents, u.requests
"""

FAILED_ACCESS_SQL = """
INSERT INTO {out}
WITH denied AS (
    SELECT * FROM ({requests}) WHERE request_time >= $start::TIMESTAMP AND http_status = 403
),
per_ip AS (SELECT usage_date, user_id, remote_ip, count(*) AS requests FROM denied GROUP BY ALL),
per_user AS (
    SELECT usage_date, user_id, count(*) AS denied, min(request_time) AS first_denied,
           max(request_time) AS last_denied,
           list(request_id ORDER BY request_time, request_id)[1:50] AS request_ids,
           list(DISTINCT key ORDER BY key)[1:10] AS keys
    FROM denied GROUP BY usage_date, user_id HAVING count(*) > $threshold
)
SELECT u.usage_date, u.user_id, 'failed_access_storm', $severity, u.denied, $threshold, '{access_log}',
       json_object('denied_requests', u.denied, 'distinct_ips', count(i.remote_ip),
                   'first_denied', u.first_denied, 'last_denied', u.last_denied,
                   'top_ips', list({{'ip': i.remote_ip, 'requests': i.requests}}
                                   ORDER BY i.requests DESC, i.remote_ip)[1:10],
                   'request_ids', u.request_ids, 'keys', u.keys)::VARCHAR
FROM per_user u JOIN per_ip i USING (usage_date, user_id)
GROUP BY u.usage_date, u.user_id, u.denied, u.first_denied, u.last_denied, u.request_ids, u.keys
"""

# Archive restores (POST ?restore accepted: 200 or 202) asked for on each day, per user: the bytes S3 will
# retrieve from Glacier / Deep Archive (billed per GB) and the requests, flagged above the day's threshold.
LARGE_RETRIEVAL_SQL = """
INSERT INTO {out}
WITH restores AS (
    SELECT * FROM ({requests})
    WHERE operation = 'REST.POST.RESTORE' AND http_status < 300 AND request_time >= $start::TIMESTAMP
)
SELECT usage_date, user_id, 'large_retrieval', $severity, sum(object_size), $threshold, '{access_log}',
       json_object('restored_bytes', sum(object_size), 'restores', count(*),
                   'first_restore', min(request_time), 'last_restore', max(request_time),
                   'top_request_ids', list(request_id ORDER BY object_size DESC, request_id)[1:20],
                   'top_keys', list(key ORDER BY object_size DESC, request_id)[1:10])::VARCHAR
FROM restores GROUP BY usage_date, user_id HAVING sum(object_size) > $threshold
"""

# Current versions in each snapshot of the window whose upload happened on the day before (new in that
# report); usage_date is the snapshot's day. Staged once per window for the three inventory patterns: a
# filter on the key's extension would otherwise be pushed into the scan of every object of every
# snapshot, ahead of the cheap test for new objects.
NEW_OBJECTS = "_abuse_new_objects"
NEW_OBJECTS_SQL = """
CREATE OR REPLACE TEMP TABLE {new_objects} AS
WITH fresh AS (
    SELECT snapshot_date AS usage_date, user_id, key, version_id, e_tag, size, last_modified
    FROM {inventory}
    WHERE snapshot_date BETWEEN $start AND $end AND coalesce(is_latest, true)
      AND NOT coalesce(is_delete_marker, false) AND user_id <> '{shared}'
      AND last_modified >= snapshot_date::TIMESTAMP - INTERVAL 1 DAY AND last_modified < snapshot_date::TIMESTAMP
      -- implied by the two above; a bound on the column alone is checked in the scan, before them
      AND last_modified >= $start::TIMESTAMP - INTERVAL 1 DAY AND last_modified < $end::TIMESTAMP
)
SELECT *, lower(regexp_extract(key, '\\.([A-Za-z0-9]+)$', 1)) AS extension FROM fresh
"""

LARGE_OBJECT_SQL = """
INSERT INTO {out}
SELECT usage_date, user_id, 'large_object', $severity, max(size), $threshold, '{inventory}',
       json_object('snapshot_date', usage_date, 'objects', count(*), 'bytes', sum(size),
                   'objects_list', list({{'key': key, 'version_id': version_id, 'size': size}}
                                        ORDER BY size DESC, key)[1:20])::VARCHAR
FROM {new_objects} WHERE size > $threshold GROUP BY usage_date, user_id
"""

NON_PHOTO_SQL = """
INSERT INTO {out}
WITH suspicious AS (
    SELECT * FROM {new_objects}
    WHERE size >= $min_object_bytes
      AND (NOT list_contains($media, extension) OR (list_contains($photo, extension) AND size > $max_photo_bytes))
)
SELECT usage_date, user_id, 'non_photo_content', $severity, sum(size), $min_bytes, '{inventory}',
       json_object('snapshot_date', usage_date, 'objects', count(*), 'bytes', sum(size),
                   'extensions', list(DISTINCT extension ORDER BY extension),
                   'objects_list', list({{'key': key, 'version_id': version_id, 'size': size}}
                                        ORDER BY size DESC, key)[1:20])::VARCHAR
FROM suspicious GROUP BY usage_date, user_id HAVING count(*) >= $min_objects AND sum(size) >= $min_bytes
"""

# Only the (user, ETag, size) groups of a snapshot that gained an object are ranked: a copy is new in
# this report, so its group holds a fresh object, and a group is kept whole so its ranking is unchanged.
# (Ranking every object of every user with an upload was half of abuse_flags' time at 3 M objects.)
DUPLICATE_SQL = """
INSERT INTO {out}
WITH fresh AS (SELECT DISTINCT usage_date, user_id, e_tag, size FROM {new_objects}),
current AS (
    SELECT i.snapshot_date AS usage_date, i.user_id, i.key, i.version_id, i.e_tag, i.size, i.last_modified
    FROM {inventory} i
    SEMI JOIN fresh f
      ON f.usage_date = i.snapshot_date AND f.user_id = i.user_id AND f.e_tag = i.e_tag AND f.size = i.size
    WHERE i.snapshot_date BETWEEN $start AND $end AND coalesce(i.is_latest, true)
      AND NOT coalesce(i.is_delete_marker, false) AND i.e_tag IS NOT NULL AND i.size > 0
),
ranked AS (
    SELECT *, row_number() OVER w AS copy_no, first_value(key) OVER w AS original_key
    FROM current WINDOW w AS (PARTITION BY usage_date, user_id, e_tag, size ORDER BY last_modified, key)
),
copies AS (
    SELECT * FROM ranked
    WHERE copy_no > 1 AND last_modified >= usage_date::TIMESTAMP - INTERVAL 1 DAY
      AND last_modified < usage_date::TIMESTAMP
)
SELECT usage_date, user_id, 'duplicate_data', $severity, sum(size), $min_wasted, '{inventory}',
       json_object('snapshot_date', usage_date, 'copies', count(*), 'wasted_bytes', sum(size),
                   'copies_list', list({{'key': key, 'version_id': version_id, 'e_tag': e_tag, 'size': size,
                                         'original_key': original_key}} ORDER BY size DESC, key)[1:20])::VARCHAR
FROM copies GROUP BY usage_date, user_id HAVING sum(size) >= $min_wasted AND count(*) >= $min_copies
"""

OVER_PLAN_SQL = """
INSERT INTO {out}
WITH stored AS (
    SELECT usage_date, user_id, sum(bytes) AS bytes, sum(bytes_added) AS bytes_added
    FROM {user_daily_storage} WHERE usage_date BETWEEN $start AND $end AND user_id <> '{shared}'
    GROUP BY usage_date, user_id
),
snapshots AS (  -- each day's users: the latest snapshot on or before it
    SELECT d.usage_date, s.snapshot_date
    FROM (SELECT DISTINCT usage_date FROM stored) d
    ASOF JOIN (SELECT DISTINCT snapshot_date FROM {users} WHERE snapshot_date <= $end) s
        ON d.usage_date >= s.snapshot_date
),
plans AS (
    SELECT s.usage_date, u.user_id, u.plan, u.quota_bytes
    FROM snapshots s JOIN {users} u ON u.snapshot_date = s.snapshot_date
),
limits AS (SELECT unnest($plans) AS plan, unnest($limits) AS limit_bytes)
SELECT s.usage_date, s.user_id, 'over_plan_limit', $severity, s.bytes, l.limit_bytes, '{user_daily_storage}',
       json_object('plan', p.plan, 'stored_bytes', s.bytes, 'plan_limit_bytes', l.limit_bytes,
                   'over_by_bytes', s.bytes - l.limit_bytes, 'quota_bytes', p.quota_bytes,
                   'bytes_added_since_previous_report', s.bytes_added,
                   'rows', {{'table': '{user_daily_storage}', 'usage_date': s.usage_date, 'user_id': s.user_id}})::VARCHAR
FROM stored s JOIN plans p USING (usage_date, user_id) JOIN limits l ON lower(p.plan) = lower(l.plan)
WHERE s.bytes > l.limit_bytes
"""

QUOTA_SQL = """
INSERT INTO {out}
SELECT usage_date, user_id, 'quota_80_percent', $severity, quota_use_pct, $percent, '{user_quota_use}',
       json_object('plan', plan, 'stored_bytes', stored_bytes, 'quota_bytes', quota_bytes,
                   'quota_use_pct', round(quota_use_pct, 2))::VARCHAR
FROM {user_quota_use}
WHERE usage_date BETWEEN $start AND $end AND user_id <> '{shared}' AND quota_use_pct > $percent
"""

LARGE_ACCOUNT_SQL = """
INSERT INTO {out}
WITH stored AS (
    SELECT usage_date, user_id, sum(bytes) AS bytes
    FROM {user_daily_storage} WHERE usage_date BETWEEN $start AND $end AND user_id <> '{shared}'
    GROUP BY usage_date, user_id
)
SELECT usage_date, user_id, 'large_account', $severity, bytes, $threshold, '{user_daily_storage}',
       json_object('stored_bytes', bytes,
                   'rows', {{'table': '{user_daily_storage}', 'usage_date': usage_date, 'user_id': user_id}})::VARCHAR
FROM stored WHERE bytes > $threshold
"""

# Month to date, so the flag appears on the day the user's cost crosses the line and stays while it is:
# each day of the window sums its own month's days up to itself (a day of the window reads the days
# before it, in the window or not, from the warehouse).
MONTHLY_COST_SQL = """
INSERT INTO {out}
WITH days AS (
    SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY)) AS DATE) AS day
),
daily AS (
    SELECT usage_date, user_id, sum(amount_usd) AS cost, bool_or(is_estimate) AS estimated
    FROM {user_daily_cost}
    WHERE usage_date BETWEEN date_trunc('month', $start)::DATE AND $end AND user_id <> '{shared}'
    GROUP BY usage_date, user_id
),
month AS (
    SELECT d.day, c.user_id, sum(c.cost) AS cost, bool_or(c.estimated) AS estimated,
           count(DISTINCT c.usage_date) AS days
    FROM days d JOIN daily c ON c.usage_date BETWEEN date_trunc('month', d.day)::DATE AND d.day
    GROUP BY d.day, c.user_id
)
SELECT day, user_id, 'monthly_cost', $severity, cost::DOUBLE, $threshold, '{user_daily_cost}',
       json_object('month', strftime(day, '%Y-%m'), 'cost_usd_month_to_date', cost::VARCHAR,
                   'days', days, 'includes_estimate', estimated,
                   'rows', {{'table': '{user_daily_cost}', 'user_id': user_id,
                             'from': date_trunc('month', day)::DATE, 'to': day}})::VARCHAR
FROM month WHERE cost > $threshold
"""
