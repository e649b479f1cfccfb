-- Parse S3 server access-log lines into the stage table: one row per line, blank lines included
-- (flagged), so that in file order a row's position is its line number.
--
-- Placeholders formatted by access_log.py (names and expressions it controls, never data): {stage},
-- {source}, {user_id}. {source} yields (file_idx, line_number, raw_line, lossy); line_number is NULL
-- when the caller numbers lines afterwards from insertion order; lossy = the file was not valid UTF-8
-- and was decoded with U+FFFD replacement characters. Bound parameters: $regex (the authoritative
-- grammar), $names (display name of each file).
--
-- Two paths, same grammar. The fast path splits on '"' and ' ' (vectorised string functions,
-- several times faster than a regex with captures) and only accepts a line when its shape is
-- unambiguous: no backslash anywhere, the quotes where the grammar puts them, exactly one space
-- between fields. Every other line goes through the single regexp_extract of $regex, which either
-- parses it or rejects it. A line the fast path accepts parses identically with the regex
-- (tests/formats/test_access_log.py checks that).
INSERT INTO {stage}
WITH nonblank AS (
    SELECT file_idx, line_number,
           CASE WHEN suffix(raw_line, chr(13)) THEN raw_line[:-2] ELSE raw_line END AS line,
           -- blank (or whitespace-only) lines are numbered but not parsed; the first character
           -- decides for almost every line, where a search or trim() would touch every byte
           CASE WHEN raw_line IS NULL OR raw_line = '' THEN TRUE
                WHEN left(raw_line, 1) NOT IN (' ', chr(9), chr(13)) THEN FALSE
                ELSE NOT regexp_matches(raw_line, '[^ \t\r]') END AS blank,
           lossy AND contains(raw_line, chr(65533)) AS bad_utf8
    FROM {source}
),
quoted AS (
    SELECT *,
           CASE WHEN NOT contains(line, '\') THEN string_split(line, '"') END AS q
    FROM nonblank
),
shaped AS (
    SELECT *,
           len(q) AS nq,
           -- With a quoted URI the fixed fields are q[1] || URI || q[3]; putting '-' in the URI's
           -- place gives the same token list as an unquoted '-' URI (BATCH.DELETE.OBJECT).
           string_split(CASE len(q) WHEN 7 THEN q[1] || '-' || q[3] ELSE q[1] END, ' ') AS h
    FROM quoted
),
fields AS (
    SELECT file_idx, line_number, line, blank, bad_utf8,
           coalesce(nq IN (5, 7)
               -- h[17] is the empty token before the first quote: no empty token before it
               AND len(h) = 17 AND list_position(h, '') = 17 AND h[10] = '-'
               AND starts_with(h[3], '[') AND suffix(h[4], ']') AND NOT contains(h[3] || h[4][:-2], ']')
               AND q[nq - 2] = ' '
               AND (q[nq] = '' OR starts_with(q[nq], ' ')), FALSE) AS fast,
           -- CASE evaluates the regex only for the lines the fast path declines
           CASE
               WHEN fast THEN struct_pack(
                   bucket_owner := h[1], bucket := h[2], time_text := h[3][2:] || ' ' || h[4][:-2],
                   remote_ip := h[5], requester := h[6], request_id := h[7], operation := h[8],
                   key_raw := h[9], request_uri := CASE nq WHEN 7 THEN q[2] ELSE '' END,
                   http_status := h[11], error_code := h[12], bytes_sent := h[13],
                   object_size := h[14], total_time_ms := h[15], turn_around_time_ms := h[16],
                   referrer := q[nq - 3], user_agent := q[nq - 1],
                   version_id := t[2], host_id := t[3], signature_version := t[4],
                   cipher_suite := t[5], auth_type := t[6], host_header := t[7],
                   tls_version := t[8], access_point_arn := t[9], acl_required := t[10])
               WHEN NOT blank THEN regexp_extract(line, $regex, [
                   'bucket_owner', 'bucket', 'time_text', 'remote_ip', 'requester', 'request_id',
                   'operation', 'key_raw', 'request_uri', 'http_status', 'error_code', 'bytes_sent',
                   'object_size', 'total_time_ms', 'turn_around_time_ms', 'referrer', 'user_agent',
                   'version_id', 'host_id', 'signature_version', 'cipher_suite', 'auth_type',
                   'host_header', 'tls_version', 'access_point_arn', 'acl_required'])
           END AS p
    FROM (SELECT *, string_split(q[nq], ' ') AS t FROM shaped)
),
unpacked AS (
    SELECT file_idx, line_number, line, blank, bad_utf8, fast OR p.bucket_owner <> '' AS matched,
           p.bucket_owner, p.bucket, p.time_text, p.remote_ip, p.requester, p.request_id,
           p.operation, p.key_raw, p.http_status, p.error_code, p.bytes_sent, p.object_size,
           p.total_time_ms, p.turn_around_time_ms, p.version_id, p.host_id, p.signature_version,
           p.cipher_suite, p.auth_type, p.host_header, p.tls_version, p.access_point_arn,
           p.acl_required,
           -- the regex path keeps escaped quotes escaped; the fast path never sees a backslash
           CASE WHEN fast THEN p.request_uri ELSE replace(p.request_uri, '\"', '"') END AS request_uri,
           CASE WHEN fast THEN p.referrer ELSE replace(p.referrer, '\"', '"') END AS referrer,
           CASE WHEN fast THEN p.user_agent ELSE replace(p.user_agent, '\"', '"') END AS user_agent
    FROM fields
),
typed AS (
    SELECT file_idx, line_number, line, blank, bad_utf8, matched,
           timezone('UTC', try_strptime(time_text, '%d/%b/%Y:%H:%M:%S %z')) AS request_time,
           nullif(bucket, '-') AS bucket,
           nullif(remote_ip, '-') AS remote_ip,
           nullif(requester, '-') AS requester,
           nullif(request_id, '-') AS request_id,
           nullif(operation, '-') AS operation,
           nullif(key_raw, '-') AS key_raw,
           nullif(http_status, '-') AS http_status_text,
           nullif(error_code, '-') AS error_code,
           nullif(bytes_sent, '-') AS bytes_sent_text,
           nullif(object_size, '-') AS object_size_text,
           nullif(total_time_ms, '-') AS total_time_text,
           nullif(turn_around_time_ms, '-') AS turn_around_text,
           nullif(nullif(user_agent, ''), '-') AS user_agent,
           nullif(bucket_owner, '-') AS bucket_owner,
           nullif(nullif(request_uri, ''), '-') AS request_uri,
           nullif(nullif(referrer, ''), '-') AS referrer,
           nullif(nullif(version_id, ''), '-') AS version_id,
           nullif(nullif(host_id, ''), '-') AS host_id,
           nullif(nullif(signature_version, ''), '-') AS signature_version,
           nullif(nullif(cipher_suite, ''), '-') AS cipher_suite,
           nullif(nullif(auth_type, ''), '-') AS auth_type,
           nullif(nullif(host_header, ''), '-') AS host_header,
           nullif(nullif(tls_version, ''), '-') AS tls_version,
           nullif(nullif(access_point_arn, ''), '-') AS access_point_arn,
           nullif(nullif(acl_required, ''), '-') AS acl_required
    FROM unpacked
),
decoded AS (
    SELECT *,
           try_cast(http_status_text AS INTEGER) AS http_status,
           try_cast(bytes_sent_text AS BIGINT) AS bytes_sent,
           try_cast(object_size_text AS BIGINT) AS object_size,
           try_cast(total_time_text AS BIGINT) AS total_time_ms,
           try_cast(turn_around_text AS BIGINT) AS turn_around_time_ms,
           -- REST.* keys are URL-encoded twice; BATCH.DELETE.OBJECT, lifecycle and other non-REST
           -- records once, form-style ('+' is a space). Decoding a REST key only twice and a
           -- form-encoded key only once keeps a literal '%' (e.g. '100%.jpg') intact.
           -- Most keys have nothing to decode; the checks are cheaper than a decode.
           CASE
               WHEN key_raw IS NULL THEN NULL
               WHEN starts_with(operation, 'REST.') THEN
                   CASE WHEN contains(key_raw, '%') THEN try(url_decode(try(url_decode(key_raw)))) ELSE key_raw END
               WHEN contains(key_raw, '%') THEN try(url_decode(replace(key_raw, '+', ' ')))
               WHEN contains(key_raw, '+') THEN replace(key_raw, '+', ' ')
               ELSE key_raw
           END AS key
    FROM typed
),
reasoned AS (
    SELECT *,
       CASE
           WHEN blank THEN 'blank'
           WHEN bad_utf8 THEN 'invalid UTF-8 text'
           WHEN NOT matched THEN 'line does not match the S3 server access-log format'
           WHEN request_time IS NULL THEN 'unparsable timestamp'
           WHEN http_status_text IS NOT NULL AND http_status IS NULL THEN 'unparsable number in http_status'
           WHEN bytes_sent_text IS NOT NULL AND bytes_sent IS NULL THEN 'unparsable number in bytes_sent'
           WHEN object_size_text IS NOT NULL AND object_size IS NULL THEN 'unparsable number in object_size'
           WHEN total_time_text IS NOT NULL AND total_time_ms IS NULL THEN 'unparsable number in total_time'
           WHEN turn_around_text IS NOT NULL AND turn_around_time_ms IS NULL
               THEN 'unparsable number in turn_around_time'
           WHEN key_raw IS NOT NULL AND key IS NULL THEN 'undecodable key (invalid URL encoding or UTF-8)'
       END AS reason
    FROM decoded
)
-- the stage's columns in order (access_log.COLUMNS), then file_idx, reason, raw_text
SELECT request_time, bucket, remote_ip, requester, request_id, operation, key, http_status, error_code,
       bytes_sent, object_size, total_time_ms, user_agent, {user_id} AS user_id,
       bucket_owner, request_uri, turn_around_time_ms, referrer, version_id, host_id, signature_version,
       cipher_suite, auth_type, host_header, tls_version, access_point_arn, acl_required,
       $names[file_idx] AS source_file, line_number AS source_line,
       CAST(request_time AS DATE) AS usage_date,
       file_idx, reason,
       CASE WHEN reason IS NOT NULL AND NOT blank THEN left(line, 2000) END AS raw_text
FROM reasoned;
