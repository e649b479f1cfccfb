"""The access-log parser as it was before the CSV-scanner rewrite (issue 16), frozen for the equivalence
test only: ``tests/formats/test_access_log_equivalence.py`` checks that the runtime parser produces
exactly the records and quarantine this one does. It already has issue 14's defect-8 grammar (an
unquoted ``-`` referrer and user agent), so the two differ in speed only. Not used at run time.

Original module docstring follows.

S3 server access logs → ``raw.access_log_requests``, parsed in DuckDB.

Why this module exists: access logs are the only per-user record of requests (CloudWatch request
metrics have no per-user dimension), and they are awkward: space-separated with a bracketed time,
quoted fields that carry attacker-controlled text (escaped quotes included), an unquoted ``-``
request-URI, referrer and user agent on ``BATCH.DELETE.OBJECT``, optional trailing fields (18 to 27
and more in the wild), keys URL-encoded twice for ``REST.*`` operations but once, form-style, for the others, and delivery
that is late and sometimes duplicated. Millions of lines a day rule out a Python loop over lines,
so everything after "which files" happens in one DuckDB statement (``access_log.sql``): a fast
path built from vectorised string splits, and one authoritative regular expression for every line
the fast path is not sure about. Bad lines never stop a load: they are quarantined with file, line
number and reason, and everything else loads.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bucketlens.formats.errors import SourceFormatError
from bucketlens.keys import KeyPattern

# Warehouse columns: the contract's names first (design.md §5), then the remaining log fields.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("request_time", "TIMESTAMP"),
    ("bucket", "VARCHAR"),
    ("remote_ip", "VARCHAR"),
    ("requester", "VARCHAR"),
    ("request_id", "VARCHAR"),
    ("operation", "VARCHAR"),
    ("key", "VARCHAR"),
    ("http_status", "INTEGER"),
    ("error_code", "VARCHAR"),
    ("bytes_sent", "BIGINT"),
    ("object_size", "BIGINT"),
    ("total_time_ms", "BIGINT"),
    ("user_agent", "VARCHAR"),
    ("user_id", "VARCHAR NOT NULL"),
    ("bucket_owner", "VARCHAR"),
    ("request_uri", "VARCHAR"),
    ("turn_around_time_ms", "BIGINT"),
    ("referrer", "VARCHAR"),
    ("version_id", "VARCHAR"),
    ("host_id", "VARCHAR"),
    ("signature_version", "VARCHAR"),
    ("cipher_suite", "VARCHAR"),
    ("auth_type", "VARCHAR"),
    ("host_header", "VARCHAR"),
    ("tls_version", "VARCHAR"),
    ("access_point_arn", "VARCHAR"),
    ("acl_required", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
    ("usage_date", "DATE"),
)

_COLUMN_DEFS = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS)
TABLE_DDL = f"CREATE TABLE IF NOT EXISTS raw.access_log_requests (\n    {_COLUMN_DEFS}\n)"
QUARANTINE_DDL = (
    "CREATE TABLE IF NOT EXISTS raw.quarantine (source VARCHAR, partition_date DATE, file VARCHAR, "
    "line_number BIGINT, raw_text VARCHAR, reason VARCHAR, loaded_at TIMESTAMP)"
)

RAW_TEXT_MAX_CHARS = 2000  # quarantined lines are kept up to this length

# The grammar (RE2). Required: the 17 fields up to the user agent, single spaces between them; the
# request-URI, referrer and user agent are each quoted or an unquoted '-' (BATCH.DELETE.OBJECT lines
# carry all three unquoted); quoted fields may contain anything but an unescaped quote. Then up to
# nine optional fields (version ID … ACL required); anything beyond is ignored.
_FIELD = r"([^ ]+)"
_QUOTED_OR_DASH = r'(?:"((?:[^"\\]|\\.)*)"|-)'
_OPTIONAL = r"(?: ([^ ]*))?"
ACCESS_LOG_REGEX = (
    "^"
    + " ".join(
        [_FIELD, _FIELD, r"\[([^\]]*)\]"]  # bucket owner, bucket, time
        + [_FIELD] * 5  # remote IP, requester, request ID, operation, key
        + [_QUOTED_OR_DASH]  # request-URI
        + [_FIELD] * 6  # status, error code, bytes sent, object size, total time, turn-around
        + [_QUOTED_OR_DASH, _QUOTED_OR_DASH]  # referrer, user agent
    )
    + _OPTIONAL * 9
    + "(?: .*)?$"
)

PARSE_SQL = (Path(__file__).with_name("reference_access_log.sql")).read_text(encoding="utf-8")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class AccessLogLoad:
    """What one staging run saw, for Dagster metadata."""

    files: int
    lines: int  # non-blank lines read
    parsed: int  # lines that parsed (any day)
    quarantined: int
    duplicates: int  # parsed records of the day dropped as repeats of another record
    outside_day: int  # parsed records whose own timestamp is on another day
    rows: int  # rows staged
    bytes_read: int


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain table name: {name!r}")
    return name


# The fast source: one row per physical line, in file order (so a row's insertion position numbers
# it), read by DuckDB's parallel CSV scanner with no delimiter, quote or escape that could split or
# join lines. Anything it cannot read exactly (invalid UTF-8, a control character used as its
# delimiter, an over-long line) makes it fail, and the load falls back to _READ_TEXT_SOURCE.
_LINE_DELIMITER = "\x01"
_READ_LINES_SOURCE = (
    "(SELECT file_index::INTEGER + 1 AS file_idx, NULL::BIGINT AS line_number, line AS raw_line, "
    "FALSE AS lossy FROM read_csv($paths, auto_detect = false, columns = {'line': 'VARCHAR'}, "
    "delim = chr(1), quote = '', escape = '', header = false, new_line = '\\n', strict_mode = true))"
)
# The exact source: each file read whole and split on newlines, numbered as it is split; lossy
# files come from a table filled by _read_lossy.
_READ_TEXT_SOURCE = (
    "(SELECT file_idx, generate_subscripts(s, 1) AS line_number, unnest(s) AS raw_line, lossy "
    "FROM (SELECT file_idx, lossy, string_split(content, chr(10)) AS s FROM {texts}))"
)
_TEXTS = (
    "(SELECT list_position($paths, filename) AS file_idx, content, FALSE AS lossy FROM read_text($paths))"
)
_EXTRA_COLUMNS = ("file_idx INTEGER", "reason VARCHAR", "raw_text VARCHAR")


def _parse(con, paths: list[str], names: list[str], parsed: str, user_id: str) -> list[int]:
    """Fill ``parsed`` with one row per line of the files, blank lines included; return each file's
    first rowid (the fast source leaves ``source_line`` NULL: line = rowid - start + 1).

    The numbering is checked, not assumed: every file's rows must be contiguous. If DuckDB's CSV
    scanner cannot read the files exactly, they are read whole instead; a file that is not valid
    UTF-8 is decoded here with replacement characters and its damaged lines are quarantined, not
    guessed at (a loop over files, never over lines).
    """
    params = {"regex": ACCESS_LOG_REGEX, "paths": paths, "names": names}
    try:
        con.execute(PARSE_SQL.format(stage=parsed, source=_READ_LINES_SOURCE, user_id=user_id), params)
        starts = _file_starts(con, parsed, len(paths))
        if starts is not None:
            return starts
    except duckdb.Error:
        pass
    con.execute(f"DELETE FROM {parsed}")
    try:
        source = _READ_TEXT_SOURCE.format(texts=_TEXTS)
        con.execute(PARSE_SQL.format(stage=parsed, source=source, user_id=user_id), params)
        return [0] * len(paths)
    except duckdb.InvalidInputException as exc:
        if "UTF-8" not in str(exc):
            raise SourceFormatError(f"{len(names)} log objects", str(exc)) from exc
    texts = _read_lossy(con, paths, parsed)
    source = _READ_TEXT_SOURCE.format(texts=texts)
    params.pop("paths")
    con.execute(PARSE_SQL.format(stage=parsed, source=source, user_id=user_id), params)
    con.execute(f"DROP TABLE {texts}")
    return [0] * len(paths)


def _file_starts(con, parsed: str, files: int) -> list[int] | None:
    """Each file's first rowid, or None if some file's rows are not one contiguous run."""
    spans = con.execute(
        f"SELECT file_idx, min(rowid), max(rowid), count(*) FROM {parsed} GROUP BY file_idx"
    ).fetchall()
    if any(last - first + 1 != count for _, first, last, count in spans):
        return None
    starts = [0] * files
    for idx, first, _, _ in spans:
        starts[idx - 1] = first
    return starts


def _read_lossy(con, paths: list[str], stage: str) -> str:
    """A TEMP table of (file_idx, content, lossy): every file decoded, invalid UTF-8 replaced."""
    texts = f"{stage}__texts"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {texts} (file_idx INTEGER, content VARCHAR, lossy BOOLEAN)")
    for idx, path in enumerate(paths, start=1):
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            text, lossy = data.decode("utf-8"), False
        except UnicodeDecodeError:
            text, lossy = data.decode("utf-8", errors="replace"), True
        con.execute(f"INSERT INTO {texts} VALUES (?, ?, ?)", [idx, text, lossy])
    return texts


def stage_access_logs(
    con,
    files: list[tuple[str, str]],
    day: datetime.date,
    key_pattern: KeyPattern,
    stage: str = "stage_access_log_requests",
    quarantine: str = "stage_access_log_quarantine",
) -> AccessLogLoad:
    """Parse ``files`` (display name, local path) into TEMP tables ``stage`` and ``quarantine``.

    ``stage`` has exactly the columns of ``raw.access_log_requests`` and holds the records whose own
    timestamp (UTC) falls on ``day``, one per (request ID, operation, key). ``quarantine`` holds
    (file, line_number, raw_text, reason) for every line that does not parse. The caller replaces
    the partition from these tables in one transaction.
    """
    stage = _identifier(stage)
    records = f"{stage}__records"
    load = stage_access_log_records(con, files, key_pattern, records, quarantine)
    try:
        rows, in_day = stage_first_seen(con, records, stage, day, [name for name, _ in files])
    finally:
        con.execute(f"DROP TABLE IF EXISTS {records}")
    load.rows, load.duplicates, load.outside_day = rows, in_day - rows, load.parsed - in_day
    return load


def stage_access_log_records(
    con, files: list[tuple[str, str]], key_pattern: KeyPattern, records: str, quarantine: str
) -> AccessLogLoad:
    """Parse ``files`` into TEMP tables ``records`` (every parsed record of any day, the columns of
    ``raw.access_log_requests``, nothing dropped as a repeat) and ``quarantine``.

    Why records of every day and no dedupe: this is what one log object *contains*, independent of
    the partition that reads it, so it can be kept per object and reused by every day that needs it
    (``stage_first_seen`` picks a day's rows from it). ``rows`` of the result = records staged.
    """
    records, quarantine = _identifier(records), _identifier(quarantine)
    names = [name for name, _ in files]
    paths = [os.fspath(path) for _, path in files]
    for name, path in zip(names, paths, strict=True):
        if not os.path.isfile(path):
            raise SourceFormatError(name, f"log object not found at {path}")

    con.execute(f"CREATE OR REPLACE TEMP TABLE {records} ({_COLUMN_DEFS})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quarantine} "
        "(file VARCHAR, line_number BIGINT, raw_text VARCHAR, reason VARCHAR)"
    )
    if not files:
        return AccessLogLoad(0, 0, 0, 0, 0, 0, 0, 0)

    bytes_read = sum(os.path.getsize(path) for path in paths)
    parsed = f"{records}__parsed"
    extra = ", ".join(_EXTRA_COLUMNS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {parsed} ({_COLUMN_DEFS}, {extra})")
    # Lines are numbered by insertion order, which DuckDB keeps (in parallel) only with this set.
    preserve_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = true")
    try:
        starts = _parse(con, paths, names, parsed, key_pattern.sql_expr("key"))
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if preserve_order else 'false'}")
    try:
        return _split_records(con, parsed, records, quarantine, starts, bytes_read)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {parsed}")


_LINE = "coalesce(source_line, rowid - $starts[file_idx] + 1)"


def _split_records(con, parsed, records, quarantine, starts, bytes_read) -> AccessLogLoad:
    """Quarantine the bad lines; number and keep every parsed record."""
    lines, parsed_count, quarantined = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE reason IS DISTINCT FROM 'blank'),
               count(*) FILTER (WHERE reason IS NULL),
               count(*) FILTER (WHERE reason <> 'blank')
        FROM {parsed}
        """
    ).fetchall()[0]
    con.execute(
        f"""
        INSERT INTO {quarantine}
        SELECT source_file, {_LINE} AS line_number, raw_text, reason FROM {parsed}
        WHERE reason <> 'blank' ORDER BY file_idx, line_number
        """,
        {"starts": starts},
    )
    con.execute(
        f"""
        INSERT INTO {records}
        SELECT * EXCLUDE (file_idx, reason, raw_text) REPLACE ({_LINE} AS source_line)
        FROM {parsed} WHERE reason IS NULL
        """,
        {"starts": starts},
    )
    return AccessLogLoad(
        files=len(starts),
        lines=int(lines),
        parsed=int(parsed_count),
        quarantined=int(quarantined),
        duplicates=0,
        outside_day=0,
        rows=int(parsed_count),
        bytes_read=bytes_read,
    )


def stage_first_seen(con, records: str, stage: str, day: datetime.date, files: list[str]) -> tuple[int, int]:
    """Fill table ``stage`` with the records of ``day`` in ``files`` (display names, in reading
    order), each (request ID, operation, key) once; return (rows staged, records of the day).

    Delivery is best effort and may repeat a record: the first seen (file order, then line) is kept.
    Repeats are rare, so records are grouped on the key alone and only the repeated keys are ranked;
    a record without a request ID is never treated as a repeat. ``records`` may be any table with
    the warehouse columns (a TEMP stage or the per-object ledger ``raw.access_log_records``).

    A plain ``stage`` name is a TEMP table, (re)created empty. A schema-qualified one is a warehouse
    table written in place: the caller has emptied the day inside its open transaction (so the day's
    rows are written once, not staged and copied).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", records):
        raise ValueError(f"not a plain table name: {records!r}")
    if "." in stage:
        schema, table = stage.split(".", 1)
        stage, repeats = f"{_identifier(schema)}.{_identifier(table)}", f"{schema}_{table}__repeats"
    else:
        stage, repeats = _identifier(stage), f"{stage}__repeats"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} ({_COLUMN_DEFS})")
    params = {"day": day, "files": files}
    source = (
        f"(SELECT *, list_position($files, source_file) AS file_order FROM {records} "
        "WHERE usage_date = $day AND list_contains($files, source_file))"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {repeats} AS
        WITH day AS (
            SELECT file_order, source_line, request_id, operation, key FROM {source}
            WHERE request_id IS NOT NULL
        )
        SELECT d.file_order, d.source_line FROM day d
        JOIN (SELECT request_id, operation, key FROM day GROUP BY ALL HAVING count(*) > 1) r
          ON d.request_id = r.request_id AND d.operation IS NOT DISTINCT FROM r.operation
             AND d.key IS NOT DISTINCT FROM r.key
        QUALIFY row_number() OVER (PARTITION BY d.request_id, d.operation, d.key
                                   ORDER BY d.file_order, d.source_line) > 1
        """,
        params,
    )
    column_list = ", ".join(name for name, _ in COLUMNS)
    con.execute(
        f"""
        INSERT INTO {stage} ({column_list})
        SELECT s.* EXCLUDE (file_order) FROM {source} s
        ANTI JOIN {repeats} r ON s.file_order = r.file_order AND s.source_line = r.source_line
        """,
        params,
    )
    con.execute(f"DROP TABLE {repeats}")
    rows, in_day = con.execute(
        f"SELECT (SELECT count(*) FROM {stage} WHERE usage_date = $day), (SELECT count(*) FROM {source})",
        params,
    ).fetchall()[0]
    return int(rows), int(in_day)
