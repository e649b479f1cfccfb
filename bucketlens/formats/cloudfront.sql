-- CloudFront standard logs in DuckDB SQL: fragments, each starting with a line "-- fragment:" and its
-- name. cloudfront.py assembles one statement per log shape:
--
--   text_lines + (w3c_fields or json_fields) + typed   -> legacy / v2 W3C text files, v2 JSON lines
--   parquet_fields + typed                             -> v2 Parquet files
--
-- Placeholders formatted by cloudfront.py (names and expressions it controls, never data): the json
-- and parquet column lists, user_id, edges (each in braces where it is used). Bound parameters: $paths (local files),
-- $names (display name of each file), $dists (distribution ID known from each file's key, or NULL).
--
-- Every line yields one row: a request (reason NULL) or a bad line (reason set), so that cloudfront.py
-- splits them into the target and the quarantine without reading the files again.

-- fragment: text_lines
-- Every line of the files, numbered per file: DuckDB's CSV scanner with no delimiter, quote or escape
-- that could split or join lines (gzip by extension), in file order; row_number() over the scan in
-- insertion order numbers them, and each file's first row number turns that into its line numbers.
-- A line finds its file's position in $paths by a join on the file name: list_position over the paths
-- for every line cost 1.6 of 6.4 CPU s on the demo month (1,681 files, 864 k lines).
WITH scanned AS (
    SELECT filename, coalesce(line, '') AS line, row_number() OVER () AS n
    FROM read_csv($paths, auto_detect = false, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '',
                  escape = '', header = false, filename = true, strict_mode = false)
),
positions AS (  -- the first position of each path, as list_position gives it
    SELECT path AS filename, min(idx) AS file_idx
    FROM (SELECT unnest($paths) AS path, generate_subscripts($paths, 1) AS idx)
    GROUP BY path
)
SELECT p.file_idx, s.n - min(s.n) OVER (PARTITION BY s.filename) + 1 AS line_number,
       CASE WHEN suffix(s.line, chr(13)) THEN s.line[:-2] ELSE s.line END AS line
FROM scanned s JOIN positions p USING (filename)

-- fragment: w3c_fields
-- Tab-separated records under a '#Fields:' header (legacy files; v2 'w3c' output): each field is found
-- by its name in the file's own header, so a reordered or shorter field list reads right. The header's
-- positions are worked out once per file and joined to its lines as integers (a list per line cost
-- three times the parse).
, headers AS (
    SELECT file_idx, len(fields) AS n_fields,
           list_position(fields, 'date') AS p_date,
           list_position(fields, 'time') AS p_time,
           list_position(fields, 'timestamp') AS p_timestamp,
           list_position(fields, 'timestamp_ms') AS p_timestamp_ms,
           list_position(fields, 'distributionid') AS p_distribution_id,
           list_position(fields, 'x_edge_location') AS p_edge_location,
           list_position(fields, 'sc_bytes') AS p_sc_bytes,
           list_position(fields, 'c_ip') AS p_c_ip,
           list_position(fields, 'cs_method') AS p_method,
           list_position(fields, 'cs_host') AS p_cs_host,
           list_position(fields, 'cs_uri_stem') AS p_uri_stem,
           list_position(fields, 'sc_status') AS p_status,
           list_position(fields, 'cs_referer') AS p_referer,
           list_position(fields, 'cs_user_agent') AS p_user_agent,
           list_position(fields, 'cs_uri_query') AS p_query,
           list_position(fields, 'x_edge_result_type') AS p_result_type,
           list_position(fields, 'x_host_header') AS p_host_header,
           list_position(fields, 'cs_protocol') AS p_protocol,
           list_position(fields, 'time_taken') AS p_time_taken,
           list_position(fields, 'x_edge_response_result_type') AS p_response_result_type,
           list_position(fields, 'time_to_first_byte') AS p_ttfb,
           list_position(fields, 'x_edge_detailed_result_type') AS p_detailed_result_type,
           list_position(fields, 'sc_content_type') AS p_content_type
    FROM (
        SELECT file_idx,
               list_transform(string_split(trim(line[9:]), ' '),
                              lambda f: lower(replace(replace(replace(f, '(', '_'), ')', ''), '-', '_'))) AS fields
        FROM lines WHERE starts_with(line, '#Fields:')
        QUALIFY row_number() OVER (PARTITION BY file_idx ORDER BY line_number) = 1
    )
),
records AS (
    SELECT l.file_idx, l.line_number, l.line, h.* EXCLUDE (file_idx), string_split(l.line, chr(9)) AS v
    FROM lines l LEFT JOIN headers h USING (file_idx)
    -- blank lines are skipped; trim() only for lines that start with a space or tab (it copies the line)
    WHERE NOT starts_with(l.line, '#') AND l.line <> '' AND (left(l.line, 1) NOT IN (' ', chr(9)) OR trim(l.line) <> '')
),
fields AS (
    SELECT file_idx, line_number, line,
           CASE WHEN n_fields IS NULL THEN 'no #Fields header line in the file'
                WHEN len(v) <> n_fields
                    THEN 'wrong field count: ' || len(v) || ' fields, the #Fields header names ' || n_fields
           END AS pre_reason,
           v[p_date] AS f_date,
           v[p_time] AS f_time,
           v[p_timestamp] AS f_timestamp,
           v[p_timestamp_ms] AS f_timestamp_ms,
           v[p_distribution_id] AS f_distribution_id,
           v[p_edge_location] AS f_edge_location,
           v[p_sc_bytes] AS f_sc_bytes,
           v[p_c_ip] AS f_c_ip,
           v[p_method] AS f_method,
           v[p_cs_host] AS f_cs_host,
           v[p_uri_stem] AS f_uri_stem,
           v[p_status] AS f_status,
           v[p_referer] AS f_referer,
           v[p_user_agent] AS f_user_agent,
           v[p_query] AS f_query,
           v[p_result_type] AS f_result_type,
           v[p_host_header] AS f_host_header,
           v[p_protocol] AS f_protocol,
           v[p_time_taken] AS f_time_taken,
           v[p_response_result_type] AS f_response_result_type,
           v[p_ttfb] AS f_ttfb,
           v[p_detailed_result_type] AS f_detailed_result_type,
           v[p_content_type] AS f_content_type,
           TRUE AS url_encoded
    FROM records
)

-- fragment: json_fields
-- v2 JSON output, one object a line; a field the user did not select is absent (NULL). The json
-- columns (cloudfront.py) read each field under any of its spellings (W3C name, lower case, underscores).
, objects AS (
    -- a line that is not a JSON object is never handed to the JSON functions (they would fail the statement)
    SELECT file_idx, line_number, line,
           CASE WHEN NOT json_valid(line) THEN 'not valid JSON'
                WHEN json_type(line) <> 'OBJECT' THEN 'not a JSON object' END AS pre_reason
    FROM lines WHERE line <> '' AND (left(line, 1) NOT IN (' ', chr(9)) OR trim(line) <> '')
),
fields AS (
    SELECT file_idx, line_number, line, pre_reason,
           {json_columns},
           FALSE AS url_encoded
    FROM (SELECT file_idx, line_number, line, pre_reason,
                 CASE WHEN pre_reason IS NULL THEN line ELSE '{{}}' END AS j
          FROM objects)
)

-- fragment: parquet_fields
-- v2 Parquet output: the selected fields are columns (the parquet columns of cloudfront.py read the
-- present ones, NULL for the others); the row's position in its file stands for the line number.
WITH fields AS (
    SELECT list_position($paths, filename) AS file_idx, file_row_number + 1 AS line_number,
           left(CAST(p AS VARCHAR), 2000) AS line, NULL AS pre_reason,
           {parquet_columns},
           FALSE AS url_encoded
    FROM read_parquet($paths, filename = true, file_row_number = true, union_by_name = true,
                      hive_partitioning = false) p
)

-- fragment: typed
-- From fields to the warehouse columns and a reason for the bad lines. '-' is CloudFront's empty value.
, cleaned AS (
    SELECT file_idx, line_number, line, pre_reason, url_encoded,
           nullif(f_date, '-') AS f_date, nullif(f_time, '-') AS f_time,
           nullif(f_timestamp, '-') AS f_timestamp, nullif(f_timestamp_ms, '-') AS f_timestamp_ms,
           coalesce(nullif(f_distribution_id, '-'), $dists[file_idx]) AS distribution_id,
           nullif(f_edge_location, '-') AS edge_location,
           nullif(f_sc_bytes, '-') AS sc_bytes_text,
           nullif(f_c_ip, '-') AS client_ip,
           nullif(f_method, '-') AS method,
           coalesce(nullif(f_host_header, '-'), nullif(f_cs_host, '-')) AS host,
           nullif(f_uri_stem, '-') AS uri_raw,
           nullif(f_query, '-') AS query,
           nullif(f_status, '-') AS status_text,
           nullif(f_referer, '-') AS referer_raw,
           nullif(f_user_agent, '-') AS user_agent_raw,
           lower(nullif(f_protocol, '-')) AS protocol,
           nullif(f_time_taken, '-') AS time_taken_text,
           nullif(f_ttfb, '-') AS ttfb_text,
           nullif(f_result_type, '-') AS edge_result_type,
           nullif(f_response_result_type, '-') AS edge_response_result_type,
           nullif(f_detailed_result_type, '-') AS edge_detailed_result_type,
           nullif(f_content_type, '-') AS content_type
    FROM fields
),
converted AS (
    SELECT *,
           CASE WHEN f_date IS NOT NULL OR f_time IS NOT NULL
                    THEN try_strptime(f_date || ' ' || f_time, '%Y-%m-%d %H:%M:%S')
                WHEN f_timestamp IS NOT NULL
                    THEN try(make_timestamp(CAST(round(try_cast(f_timestamp AS DOUBLE) * 1000000) AS BIGINT)))
                WHEN f_timestamp_ms IS NOT NULL
                    THEN try(make_timestamp(try_cast(f_timestamp_ms AS BIGINT) * 1000))
           END AS request_time,
           try_cast(sc_bytes_text AS BIGINT) AS bytes_sent,
           -- '000': the viewer closed the connection before CloudFront answered (no status)
           CASE WHEN status_text = '000' THEN NULL ELSE try_cast(status_text AS INTEGER) END AS status,
           try_cast(time_taken_text AS DOUBLE) AS time_taken,
           try_cast(ttfb_text AS DOUBLE) AS time_to_first_byte,
           -- legacy and W3C fields are URL-encoded once ('%' itself as %25): decoded exactly once
           CASE WHEN NOT url_encoded OR NOT contains(uri_raw, '%') THEN uri_raw ELSE try(url_decode(uri_raw)) END
               AS uri_stem,
           CASE WHEN NOT url_encoded OR NOT contains(referer_raw, '%') THEN referer_raw
                ELSE coalesce(try(url_decode(referer_raw)), referer_raw) END AS referer,
           CASE WHEN NOT url_encoded OR NOT contains(user_agent_raw, '%') THEN user_agent_raw
                ELSE coalesce(try(url_decode(user_agent_raw)), user_agent_raw) END AS user_agent
    FROM cleaned
),
reasoned AS (
    SELECT *,
           coalesce(pre_reason, CASE
               WHEN request_time IS NULL THEN 'unparsable date and time'
               WHEN sc_bytes_text IS NOT NULL AND bytes_sent IS NULL THEN 'unparsable number in sc-bytes'
               WHEN status_text IS NOT NULL AND status_text <> '000' AND status IS NULL
                   THEN 'unparsable number in sc-status'
               WHEN time_taken_text IS NOT NULL AND time_taken IS NULL THEN 'unparsable number in time-taken'
               WHEN ttfb_text IS NOT NULL AND time_to_first_byte IS NULL
                   THEN 'unparsable number in time-to-first-byte'
               WHEN uri_raw IS NOT NULL AND uri_stem IS NULL
                   THEN 'undecodable cs-uri-stem (invalid URL encoding or UTF-8)'
           END) AS reason
    FROM converted
)
SELECT CAST(request_time AS DATE) AS usage_date, request_time, distribution_id, edge_location,
       CASE WHEN edge_location IS NULL THEN 'unknown' ELSE coalesce(e.region, 'unknown') END AS edge_region,
       client_ip, method, host, uri_stem, query, status, referer, user_agent, protocol, bytes_sent,
       time_taken, time_to_first_byte, edge_result_type, edge_response_result_type, edge_detailed_result_type,
       content_type,
       {user_id} AS user_id,
       $names[file_idx] AS source_file, line_number AS source_line,
       reason, left(line, 2000) AS raw_text
FROM reasoned r LEFT JOIN {edges} e ON e.code = upper(left(r.edge_location, 3))
