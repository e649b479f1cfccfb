"""S3 server access logs → ``raw.access_log_requests``, parsed in DuckDB.

Why this module exists: access logs are the only per-user record of requests (CloudWatch request
metrics have no per-user dimension), and they are awkward: space-separated with a bracketed time,
quoted fields that carry attacker-controlled text (escaped quotes included), an unquoted ``-``
request-URI, referrer and user agent on ``BATCH.DELETE.OBJECT``, optional trailing fields (18 to 27
and more in the wild), keys URL-encoded twice for ``REST.*`` operations but once, form-style, for
the others, and delivery that is late and sometimes duplicated. Bad lines never stop a load: they
are quarantined with file, line number and reason, and everything else loads.

How it stays fast (issue 16: parse at a million lines a second on two cores) and exact: every log
object's lines are read by DuckDB's CSV scanner in one UNION ALL branch per object (the branches run
in parallel) and numbered in order as they are read, every line is cut at its double quotes, and
one statement (``access_log.sql``) turns those pieces into the warehouse columns for every line
whose shape is unambiguous, writing straight into the target table with no intermediate table. The
few lines that need the full grammar (escaped quotes, unusual shapes) are marked and then parsed by
one authoritative regular expression, ``ACCESS_LOG_REGEX``; objects the scanner cannot read exactly
(carriage returns, invalid UTF-8) are read whole instead. docs/performance.md has the measurements
and the alternatives that were measured and dropped.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from bucketlens.duckdb_options import scoped_settings
from bucketlens.formats.access_log_dedupe import delete_repeats, deleted_rows
from bucketlens.formats.access_log_reader import read_logs
from bucketlens.formats.access_log_schema import (
    ACCESS_LOG_REGEX,
    BLANK,
    COLUMN_DEFS,
    COLUMNS,
    FILE_OF_ROW,
    NEEDS_GRAMMAR,
    PARSE_SQL,
    QUARANTINE_DDL,
    TABLE_DDL,
    WORK_COLUMNS,
    parse_statement,
    plain_identifier,
)
from bucketlens.formats.errors import SourceFormatError
from bucketlens.keys import KeyPattern

# The table's shapes and the grammar live in access_log_schema; they are re-exported here because the
# assets, the benchmarks and the tests know them as this module's.
__all__ = [
    "ACCESS_LOG_REGEX",
    "COLUMNS",
    "PARSE_SQL",
    "QUARANTINE_DDL",
    "TABLE_DDL",
    "AccessLogLoad",
    "stage_access_log_records",
    "stage_access_logs",
]


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
    timestamp (UTC) falls on ``day``, one per (request ID, operation, key): the first seen (file
    order, then line) of repeated deliveries. ``quarantine`` holds (file, line_number, raw_text,
    reason) for every line that does not parse. The caller replaces the partition from these tables
    in one transaction.

    The records are parsed straight into ``stage`` and the other days' records and the repeats are
    then deleted (2-3 % of a day's rows), instead of staging every record and copying the day's.
    """
    stage = plain_identifier(stage)
    names = [name for name, _ in files]
    load = _parse(con, files, key_pattern, stage, quarantine)
    try:
        if files:
            load.outside_day = deleted_rows(
                con, f"DELETE FROM {stage} WHERE usage_date <> $day", {"day": day}
            )
            load.duplicates = delete_repeats(con, stage, names)
            load.rows = load.parsed - load.outside_day - load.duplicates
    finally:
        _drop_work_columns(con, stage)
    return load


def _drop_work_columns(con, target: str) -> None:
    """Drop the parse's working columns (no rewrite: DuckDB drops a column's storage as a whole)."""
    for column in ("row_key", "dedupe_key"):
        con.execute(f"ALTER TABLE {target} DROP COLUMN IF EXISTS {column}")


def stage_access_log_records(
    con, files: list[tuple[str, str]], key_pattern: KeyPattern, records: str, quarantine: str
) -> AccessLogLoad:
    """Parse ``files`` into TEMP tables ``records`` (every parsed record of any day, the columns of
    ``raw.access_log_requests``, nothing dropped as a repeat) and ``quarantine``.

    Why records of every day and no dedupe: this is what one log object *contains*, independent of
    the partition that reads it, so it can be kept per object and reused by every day that needs it
    (``stage_first_seen`` picks a day's rows from it). ``rows`` of the result = records staged.
    """
    try:
        return _parse(con, files, key_pattern, records, quarantine)
    finally:
        _drop_work_columns(con, plain_identifier(records))


def _parse(
    con, files: list[tuple[str, str]], key_pattern: KeyPattern, target: str, quarantine: str
) -> AccessLogLoad:
    """Fill TEMP tables ``target`` (the warehouse columns and the working columns) with every record
    of ``files`` and ``quarantine`` with every bad line."""
    target, quarantine = plain_identifier(target), plain_identifier(quarantine)
    names = [name for name, _ in files]
    paths = [os.fspath(path) for _, path in files]
    for name, path in zip(names, paths, strict=True):
        if not os.path.isfile(path):
            raise SourceFormatError(name, f"log object not found at {path}")

    con.execute(f"CREATE OR REPLACE TEMP TABLE {target} ({COLUMN_DEFS}{WORK_COLUMNS})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quarantine} "
        "(file VARCHAR, line_number BIGINT, raw_text VARCHAR, reason VARCHAR)"
    )
    if not files:
        return AccessLogLoad(0, 0, 0, 0, 0, 0, 0, 0)

    user_id = key_pattern.sql_expr("decoded_key")
    # Every row carries its own line number, so the rows may be written in any order (cheaper).
    with scoped_settings(con, {"preserve_insertion_order": "false"}):
        read_logs(con, names, paths, target, user_id)
    bad = _finish_markers(con, target, quarantine, names, user_id)
    parsed = int(con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0])
    return AccessLogLoad(
        files=len(files),
        lines=parsed + bad,
        parsed=parsed,
        quarantined=bad,
        duplicates=0,
        outside_day=0,
        rows=parsed,
        bytes_read=sum(os.path.getsize(path) for path in paths),
    )


def _finish_markers(con, target: str, quarantine: str, names: list[str], user_id: str) -> int:
    """Take the marker rows (lines that are not records yet) out of ``target``: the ones that need
    the full grammar are parsed by the regular expression (records go back into ``target``), the
    bad lines go to ``quarantine`` in file order, then line. Two scans of ``target``'s narrow
    usage_date column; everything else works on the few marker rows. Returns the number of
    quarantined lines."""
    markers, grammar = f"{target}__markers", f"{target}__grammar"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {markers} AS SELECT row_key, source_line, key AS line, "
        f"user_id AS reason FROM {target} WHERE usage_date IS NULL"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {grammar} AS SELECT * FROM {target} LIMIT 0")
    try:
        if con.execute(f"SELECT count(*) FROM {markers}").fetchall()[0][0]:
            con.execute(f"DELETE FROM {target} WHERE usage_date IS NULL")
        pending = (
            f"(SELECT {FILE_OF_ROW} AS source_file, source_line, row_key, line FROM {markers} "
            f"WHERE reason = '{NEEDS_GRAMMAR}')"
        )
        con.execute(
            parse_statement("grammar", grammar, pending, user_id), {"regex": ACCESS_LOG_REGEX, "names": names}
        )
        con.execute(f"INSERT INTO {target} SELECT * FROM {grammar} WHERE usage_date IS NOT NULL")
        con.execute(
            f"""
            INSERT INTO {quarantine}
            SELECT file, line_number, raw_text, reason FROM (
                SELECT {FILE_OF_ROW} AS file, source_line AS line_number, line AS raw_text, reason
                FROM {markers} WHERE reason NOT IN ('{BLANK}', '{NEEDS_GRAMMAR}')
                UNION ALL
                SELECT source_file, source_line, key, user_id FROM {grammar} WHERE usage_date IS NULL)
            ORDER BY list_position($names, file), line_number
            """,
            {"names": names},
        )
        return int(con.execute(f"SELECT count(*) FROM {quarantine}").fetchall()[0][0])
    finally:
        con.execute(f"DROP TABLE IF EXISTS {markers}")
        con.execute(f"DROP TABLE IF EXISTS {grammar}")
