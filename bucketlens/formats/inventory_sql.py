"""The SQL that stages S3 Inventory files: how each format is read, typed and checked.

Kept apart from ``bucketlens.formats.inventory`` (which decides what runs when) so the statements read
like the warehouse contract on their own. Placeholders in braces are identifiers and expressions the
staging code controls; values are always bound (``?``).
"""

QUARANTINE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS {quarantine} (
    file VARCHAR,          -- data file key from the manifest
    line_number BIGINT,    -- 1-based line (CSV) or row (Parquet/ORC) in that file; NULL if unknown
    raw_text VARCHAR,      -- the line as written (CSV) or the row as JSON (Parquet/ORC)
    reason VARCHAR,
    manifest_key VARCHAR
)"""


CSV_READ = (
    "read_csv(?, header = false, columns = {columns}, delim = ',', quote = '\"', escape = '\"', "
    "compression = 'gzip', auto_detect = false, store_rejects = true, "
    "rejects_table = 'stage_inventory_rejects', rejects_scan = 'stage_inventory_reject_scans')"
)

# Form-URL decoding: DuckDB's url_decode does not turn '+' into a space, so do that first. A key that
# does not decode (invalid UTF-8 after decoding, or empty) is kept as NUL + its raw text so a single scan
# suffices; such rows are then moved from the stage to the quarantine (S3 keys cannot contain NUL).
CSV_KEY_EXPR = "coalesce(try(url_decode(replace(src.key, '+', ' '))), chr(0) || coalesce(src.key, ''))"

CSV_REJECTS_TO_QUARANTINE = """
INSERT INTO {quarantine}
SELECT ?, line, any_value(csv_line), string_agg(DISTINCT error_message, '; ' ORDER BY error_message), ?
FROM stage_inventory_rejects
GROUP BY line
"""

CSV_BAD_KEYS_TO_QUARANTINE = """
INSERT INTO {quarantine}
SELECT ?, NULL, concat_ws(',', bucket, substr(key, 2), version_id),
       CASE WHEN key = chr(0) THEN 'key is empty' ELSE 'key is not valid form-URL encoding' END, ?
FROM {stage}
WHERE snapshot_date = ? AND manifest_key = ? AND starts_with(key, chr(0))
"""

CSV_BAD_KEYS_FROM_STAGE = (
    "DELETE FROM {stage} WHERE snapshot_date = ? AND manifest_key = ? AND starts_with(key, chr(0))"
)

INSERT_STAGE = """
INSERT INTO {stage}
SELECT
    {snapshot_date} AS snapshot_date,
    {bucket}, k.key, {version_id},
    coalesce({is_latest}, true), coalesce({is_delete_marker}, false),
    {size}, {last_modified}, {storage_class}, {e_tag},
    {user_id}, {is_multipart_uploaded}, {intelligent_tiering_access_tier},
    {manifest_key} AS manifest_key
FROM {source} AS src, LATERAL (SELECT {key_expr} AS key) AS k
WHERE {where}
"""

LOAD_SUMMARY = """
SELECT count(*),
       coalesce(sum(size) FILTER (WHERE NOT is_delete_marker), 0),
       count(*) FILTER (WHERE is_delete_marker),
       count(*) FILTER (WHERE NOT is_latest AND NOT is_delete_marker)
FROM {stage} WHERE snapshot_date = ? AND manifest_key = ?
"""

LOAD_BY_STORAGE_CLASS = """
SELECT coalesce(storage_class, ''), count(*), coalesce(sum(size), 0) FROM {stage}
WHERE snapshot_date = ? AND manifest_key = ? AND NOT is_delete_marker GROUP BY ALL ORDER BY 1
"""

# Every data file of a manifest in one read: one INSERT per manifest. Writing a warehouse table in
# place, one INSERT per file cost 1.8x (3 M rows in 6 files: 5.0-6.2 s against 2.8-3.4 s).
PARQUET_SOURCE = (
    "(SELECT * EXCLUDE (file_row_number, filename), file_row_number + 1 AS _line, "
    "(?::VARCHAR[])[list_position(?::VARCHAR[], filename)] AS _file "
    "FROM read_parquet(?::VARCHAR[], file_row_number = true, filename = true))"
)

# --- a window of days in one read per format (bucketlens.formats.inventory_window) -------------------
# Each read's files are a TEMP table {files} (path, file_key, day, manifest_key): a row finds its data
# file key, day and manifest by a hash join on the file it was read from (a list_position over the
# window's ~90 paths for every row cost 4.7 s per 5 M rows, the join 0.95 s).
WINDOW_FILES_DDL = (
    "CREATE OR REPLACE TEMP TABLE {files} (path VARCHAR, file_key VARCHAR, day DATE, manifest_key VARCHAR)"
)

# The CSV files of several manifests (same fileSchema) in one read_csv; ``_file`` is the data file key.
CSV_READ_WINDOW = (
    "(SELECT c.* EXCLUDE (filename), m.file_key AS _file, m.day AS _day, m.manifest_key AS _manifest "
    "FROM read_csv(?::VARCHAR[], header = false, columns = {columns}, delim = ',', quote = '\"', escape = '\"', "
    "compression = 'gzip', auto_detect = false, filename = true, store_rejects = true, "
    "rejects_table = 'stage_inventory_rejects', rejects_scan = 'stage_inventory_reject_scans') c "
    "JOIN {files} m ON c.filename = m.path)"
)
# A key that does not decode is kept as NUL + its data file key + NUL + its raw text (one scan, as
# CSV_KEY_EXPR), then moved to the quarantine naming that file.
CSV_KEY_EXPR_WINDOW = "coalesce(try(url_decode(replace(src.key, '+', ' '))), chr(0) || src._file || chr(0) || coalesce(src.key, ''))"
CSV_REJECTS_TO_QUARANTINE_WINDOW = """
INSERT INTO {quarantine}
SELECT m.file_key, r.line, any_value(r.csv_line), string_agg(DISTINCT r.error_message, '; ' ORDER BY r.error_message),
       m.manifest_key
FROM stage_inventory_rejects r JOIN stage_inventory_reject_scans s USING (scan_id, file_id)
JOIN {files} m ON s.file_path = m.path
GROUP BY m.file_key, m.manifest_key, r.line
"""
CSV_BAD_KEYS_TO_QUARANTINE_WINDOW = """
INSERT INTO {quarantine}
SELECT file, NULL, concat_ws(',', bucket, substr(key, length(file) + 3), version_id),
       CASE WHEN key = chr(0) || file || chr(0) THEN 'key is empty' ELSE 'key is not valid form-URL encoding' END,
       manifest_key
FROM (SELECT *, split_part(key, chr(0), 2) AS file FROM {stage}
      WHERE snapshot_date BETWEEN ? AND ? AND starts_with(key, chr(0))
        AND manifest_key IN (SELECT manifest_key FROM {files}))
"""
CSV_BAD_KEYS_FROM_STAGE_WINDOW = (
    "DELETE FROM {stage} WHERE snapshot_date BETWEEN ? AND ? AND starts_with(key, chr(0)) "
    "AND manifest_key IN (SELECT manifest_key FROM {files})"
)
# Parquet: the columns of PARQUET_SOURCE (the file's, ``_line``, ``_file``), so a quarantined row's
# JSON is the same as when its manifest is staged alone; the INSERT's source adds day and manifest.
PARQUET_SOURCE_WINDOW = (
    "(SELECT p.* EXCLUDE (file_row_number, filename), p.file_row_number + 1 AS _line, m.file_key AS _file "
    "FROM read_parquet(?::VARCHAR[], file_row_number = true, filename = true) p JOIN {files} m ON p.filename = m.path)"
)
PARQUET_INSERT_SOURCE_WINDOW = (
    "(SELECT p.* EXCLUDE (file_row_number, filename), p.file_row_number + 1 AS _line, m.file_key AS _file, "
    "m.day AS _day, m.manifest_key AS _manifest "
    "FROM read_parquet(?::VARCHAR[], file_row_number = true, filename = true) p JOIN {files} m ON p.filename = m.path)"
)
