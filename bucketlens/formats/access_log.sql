-- The S3 server access-log grammar in DuckDB SQL: fragments, each starting with a line
-- "-- fragment:" and its name. access_log.py assembles two statements from them:
--
--   (scanned_lines or whole_file_lines) + lines + pieces + typed
--       -> every line of the log objects, parsed when its shape is unambiguous
--   grammar + typed
--       -> the few other lines, parsed by the authoritative regular expression
--
-- Placeholders formatted by access_log.py (names and expressions it controls, never data):
-- {index}, {texts}, {raw_lines}, {source}, {user_id}. Bound
-- parameters: $pathN (a file), $paths (the files), $names (display name of each file), $regex.
--
-- Why pieces: a normal record has six double quotes — request-URI, referrer and user agent — so
-- cutting the line at its quotes (one string_split) gives q1 with the nine fields before the URI,
-- q3 the six between URI and referrer, q7 the trailing fields; BATCH.DELETE.OBJECT lines with an
-- unquoted '-' URI have four quotes (q1 runs to the turn-around time), and those with unquoted '-'
-- URI, referrer and user agent none. Splitting those pieces on ' ' gives every field with a few
-- vectorised string functions, several times cheaper than a regular expression with captures.
-- A line whose pieces are not exactly one of these three shapes, or whose quoted text ends with a
-- backslash (which would escape the closing quote), or whose time is not bracketed as
-- "[dd/Mon/yyyy:HH:MM:SS +zzzz]", is not guessed at: it is marked for the regular expression,
-- which either parses it or rejects it. For every line these shape checks accept, ACCESS_LOG_REGEX
-- extracts the same fields (tests/formats/test_access_log.py checks that).
--
-- Every line yields one row of the target (the warehouse columns). A parsed record has usage_date
-- set. Any other line is a marker row: usage_date NULL, user_id = why ('blank', 'needs the full
-- grammar', or the quarantine reason), key = the line's text, so that access_log.py can re-parse
-- or quarantine it afterwards without reading the file again.

-- fragment: scanned_lines
-- One large log object's lines, numbered: DuckDB's CSV scanner with no delimiter, quote or escape
-- that could split or join lines (one row per physical line, empty lines included), in file order,
-- so row_number() numbers them. row_number() keeps its branch on one thread; access_log.py joins
-- the branches with UNION ALL, and they run in parallel with bounded memory. Anything the scanner
-- cannot read exactly (a carriage return, invalid UTF-8, a control character used as its
-- delimiter, an over-long line) fails the statement, and such an object is read whole instead.
SELECT {index} AS file_idx, row_number() OVER () AS line_number, FALSE AS lossy, coalesce(line, '') AS raw_line
FROM read_csv($path{index}, auto_detect = false, columns = {{'line': 'VARCHAR'}}, delim = chr(1), quote = '',
              escape = '', header = false, new_line = '\n', strict_mode = true)

-- fragment: whole_file_lines
-- Small objects (a batch of them per branch: one thread reads a batch), and the exact fallback: each
-- object read whole and split on newlines, numbered as it is split. A leading byte-order mark is
-- dropped, as the CSV scanner does. The texts table yields (file_idx, content, lossy); lossy = the
-- object was not valid UTF-8 and was decoded with U+FFFD replacement characters.
SELECT file_idx, generate_subscripts(lines, 1) AS line_number, lossy, unnest(lines) AS raw_line
FROM (
    SELECT file_idx, lossy,
           string_split(CASE WHEN starts_with(content, chr(65279)) THEN content[2:] ELSE content END,
                        chr(10)) AS lines
    FROM {texts}
)

-- fragment: lines
-- Either fragment above: the line without one trailing carriage return, its first seven pieces
-- between double quotes, and their number.
SELECT file_idx, line_number, lossy, line,
       s[1] AS q1, s[2] AS q2, s[3] AS q3, s[4] AS q4, s[5] AS q5, s[6] AS q6, s[7] AS q7, len(s) AS nq
FROM (
    SELECT *, string_split(line, '"') AS s
    FROM (
        SELECT file_idx, line_number, lossy,
               CASE WHEN suffix(raw_line, chr(13)) THEN raw_line[:-2] ELSE raw_line END AS line
        FROM ({raw_lines})
    )
)

-- fragment: pieces
-- From the lines fragment to each field's text, or a marker.
WITH split AS (
    SELECT *,
           string_split(q1, ' ') AS h,
           string_split(q3, ' ') AS m
    FROM ({source})
),
shaped AS (
    SELECT *,
           -- blank (or whitespace-only) lines are numbered but not parsed; the first character
           -- decides for almost every line
           CASE WHEN nq > 1 THEN FALSE
                WHEN q1 = '' THEN TRUE
                WHEN left(q1, 1) NOT IN (' ', chr(9), chr(13)) THEN FALSE
                ELSE NOT regexp_matches(q1, '[^ \t\r]') END AS blank,
           coalesce(
               CASE nq
                   -- "h1 … h9 " "URI" " s e b o t r " "referrer" " " "UA" "" or " trailing…"
                   WHEN 7 THEN len(h) = 10 AND list_position(h, '') = 10
                               AND len(m) = 8 AND m[1] = '' AND m[8] = '' AND NOT contains(q3, '  ')
                               AND q5 = ' ' AND (q7 = '' OR starts_with(q7, ' '))
                               AND NOT suffix(q2, '\') AND NOT suffix(q4, '\') AND NOT suffix(q6, '\')
                   -- "h1 … h9 - s e b o t r " "referrer" " " "UA" "" or " trailing…"
                   WHEN 5 THEN len(h) = 17 AND list_position(h, '') = 17 AND h[10] = '-'
                               AND q3 = ' ' AND (q5 = '' OR starts_with(q5, ' '))
                               AND NOT suffix(q2, '\') AND NOT suffix(q4, '\')
                   -- "h1 … h9 - s e b o t r - - trailing…" (no quote at all)
                   WHEN 1 THEN len(h) >= 18 AND h[10] = '-' AND h[17] = '-' AND h[18] = '-'
                               AND coalesce(list_position(h, ''), 0) NOT BETWEEN 1 AND 18
               END
               AND starts_with(h[3], '[') AND NOT contains(h[3], ']')
               AND (h[4] = '+0000]' OR (suffix(h[4], ']') AND instr(h[4], ']') = length(h[4]))),
               FALSE) AS fast
    FROM split
),
fields AS (
    SELECT $names[file_idx] AS source_file, line_number AS source_line, file_idx * 4294967296 + line_number AS row_key,
           line,
           CASE WHEN blank THEN 'blank'
                WHEN lossy AND contains(line, chr(65533)) THEN 'invalid UTF-8 text'
                WHEN NOT fast THEN 'needs the full grammar' END AS pre_reason,
           -- the common '+0000' parses without the zone (same instant, half the cost)
           CASE WHEN h[4] = '+0000]' THEN try_strptime(h[3], '[%d/%b/%Y:%H:%M:%S')
                ELSE timezone('UTC', try_strptime(h[3][2:] || ' ' || h[4][:-2], '%d/%b/%Y:%H:%M:%S %z'))
           END AS request_time,
           h[1] AS bucket_owner, h[2] AS bucket, h[5] AS remote_ip, h[6] AS requester, h[7] AS request_id,
           h[8] AS operation, h[9] AS key_raw,
           CASE nq WHEN 7 THEN q2 END AS request_uri,
           CASE nq WHEN 7 THEN m[2] ELSE h[11] END AS http_status,
           CASE nq WHEN 7 THEN m[3] ELSE h[12] END AS error_code,
           CASE nq WHEN 7 THEN m[4] ELSE h[13] END AS bytes_sent,
           CASE nq WHEN 7 THEN m[5] ELSE h[14] END AS object_size,
           CASE nq WHEN 7 THEN m[6] ELSE h[15] END AS total_time_ms,
           CASE nq WHEN 7 THEN m[7] ELSE h[16] END AS turn_around_time_ms,
           CASE nq WHEN 7 THEN q4 WHEN 5 THEN q2 END AS referrer,
           CASE nq WHEN 7 THEN q6 WHEN 5 THEN q4 END AS user_agent,
           -- trailing fields: t[2] is the version ID (t[1] is '' before the first space, or the
           -- user agent's '-' when nothing is quoted). One split of one text per line: a CASE
           -- choosing between lists would copy every list.
           string_split(CASE nq WHEN 7 THEN q7 WHEN 5 THEN q5 WHEN 1 THEN array_to_string(h[18:], ' ') END, ' ')
               AS t
    FROM shaped
)

-- fragment: grammar
-- The lines marked 'needs the full grammar': rows of (source_file, source_line, row_key, line).
WITH matched AS (
    SELECT source_file, source_line, row_key, line,
           regexp_extract(line, $regex, [
               'bucket_owner', 'bucket', 'time_text', 'remote_ip', 'requester', 'request_id',
               'operation', 'key_raw', 'request_uri', 'http_status', 'error_code', 'bytes_sent',
               'object_size', 'total_time_ms', 'turn_around_time_ms', 'referrer', 'user_agent',
               'version_id', 'host_id', 'signature_version', 'cipher_suite', 'auth_type',
               'host_header', 'tls_version', 'access_point_arn', 'acl_required']) AS p
    FROM {source}
),
fields AS (
    SELECT source_file, source_line, row_key, line,
           CASE WHEN p.bucket_owner = '' THEN 'line does not match the S3 server access-log format'
           END AS pre_reason,
           timezone('UTC', try_strptime(p.time_text, '%d/%b/%Y:%H:%M:%S %z')) AS request_time,
           p.bucket_owner, p.bucket, p.remote_ip, p.requester, p.request_id, p.operation, p.key_raw,
           -- quoted text keeps its escaped quotes escaped until here
           replace(p.request_uri, '\"', '"') AS request_uri,
           p.http_status, p.error_code, p.bytes_sent, p.object_size, p.total_time_ms,
           p.turn_around_time_ms,
           replace(p.referrer, '\"', '"') AS referrer,
           replace(p.user_agent, '\"', '"') AS user_agent,
           ['', p.version_id, p.host_id, p.signature_version, p.cipher_suite, p.auth_type,
            p.host_header, p.tls_version, p.access_point_arn, p.acl_required] AS t
    FROM matched
)

-- fragment: typed
-- From fields (either fragment above) to the warehouse columns, with the quarantine reason.
, typed AS (
    SELECT source_file, source_line, row_key, pre_reason, request_time, line,
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
           nullif(nullif(t[2], ''), '-') AS version_id,
           nullif(nullif(t[3], ''), '-') AS host_id,
           nullif(nullif(t[4], ''), '-') AS signature_version,
           nullif(nullif(t[5], ''), '-') AS cipher_suite,
           nullif(nullif(t[6], ''), '-') AS auth_type,
           nullif(nullif(t[7], ''), '-') AS host_header,
           nullif(nullif(t[8], ''), '-') AS tls_version,
           nullif(nullif(t[9], ''), '-') AS access_point_arn,
           nullif(nullif(t[10], ''), '-') AS acl_required
    FROM fields
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
           END AS decoded_key
    FROM typed
),
reasoned AS (
    SELECT *,
       coalesce(pre_reason, CASE
           WHEN request_time IS NULL THEN 'unparsable timestamp'
           WHEN http_status_text IS NOT NULL AND http_status IS NULL THEN 'unparsable number in http_status'
           WHEN bytes_sent_text IS NOT NULL AND bytes_sent IS NULL THEN 'unparsable number in bytes_sent'
           WHEN object_size_text IS NOT NULL AND object_size IS NULL THEN 'unparsable number in object_size'
           WHEN total_time_text IS NOT NULL AND total_time_ms IS NULL THEN 'unparsable number in total_time'
           WHEN turn_around_text IS NOT NULL AND turn_around_time_ms IS NULL
               THEN 'unparsable number in turn_around_time'
           WHEN key_raw IS NOT NULL AND decoded_key IS NULL THEN 'undecodable key (invalid URL encoding or UTF-8)'
       END) AS reason
    FROM decoded
)
-- the warehouse columns in order (access_log.COLUMNS), then two working columns that access_log.py
-- drops when it is done: row_key (the file's position × 2^32 + the line number: a narrow identity
-- for deletes) and dedupe_key (hash of request ID, operation and key, NULL without a request ID:
-- deduplicating a day groups these 8-byte integers instead of re-reading three strings per row
-- from a table that has spilled to disk). A marker row keeps its line in key (whole when it still
-- needs the full grammar, else as much as the quarantine keeps).
SELECT CASE WHEN reason IS NULL THEN request_time END AS request_time,
       bucket, remote_ip, requester, request_id, operation,
       CASE WHEN reason IS NULL THEN decoded_key
            WHEN reason = 'blank' THEN NULL
            WHEN reason = 'needs the full grammar' THEN line
            ELSE left(line, 2000) END AS key,
       http_status, error_code, bytes_sent, object_size, total_time_ms, user_agent,
       CASE WHEN reason IS NULL THEN {user_id} ELSE reason END AS user_id,
       bucket_owner, request_uri, turn_around_time_ms, referrer, version_id, host_id, signature_version,
       cipher_suite, auth_type, host_header, tls_version, access_point_arn, acl_required,
       source_file, source_line,
       CASE WHEN reason IS NULL THEN CAST(request_time AS DATE) END AS usage_date,
       row_key, CASE WHEN request_id IS NOT NULL THEN hash(request_id, operation, decoded_key) END AS dedupe_key
FROM reasoned
