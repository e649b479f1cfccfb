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
import re
from dataclasses import dataclass
from importlib import resources

import duckdb

from bucketlens.duckdb_options import scoped_settings
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

PARSE_SQL = resources.files(__package__).joinpath("access_log.sql").read_text(encoding="utf-8")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FRAGMENTS = dict(
    (part.split("\n", 1)[0].strip(), part.split("\n", 1)[1]) for part in PARSE_SQL.split("-- fragment: ")[1:]
)

# Marker reasons of rows that are not (yet) records; the real quarantine reasons are in access_log.sql.
_BLANK = "blank"
_NEEDS_GRAMMAR = "needs the full grammar"

# How objects are read (a statement joins up to MAX_BRANCHES branches with UNION ALL; the branches
# of a statement run in parallel). An object of SCAN_BYTES or more gets a branch of its own, read by
# DuckDB's CSV scanner in bounded memory; smaller ones are read whole, several to a branch of up to
# BATCH_BYTES. Measured: a branch per object costs planning time that grows faster than the number
# of branches (300 objects of 140 lines: 2.4 s; 1,500: 38 s), and reading a 117 MB object whole on
# each of two threads ran out of the 700 MB memory limit.
SCAN_BYTES = 16 << 20
BATCH_BYTES = 32 << 20
MAX_BRANCHES = 32
# One batch of objects, read whole by DuckDB (which refuses invalid UTF-8: then _read_lossy).
_TEXTS = (
    "(SELECT list_position($paths, filename) AS file_idx, content, FALSE AS lossy FROM read_text({files}))"
)


# The parse target's working columns (see the end of access_log.sql), dropped before returning.
_WORK_COLUMNS = ", row_key BIGINT, dedupe_key UBIGINT"
_FILE_OF_ROW = "$names[row_key // 4294967296]"


def _statement(fragment: str, target: str, source: str, user_id: str) -> str:
    """``INSERT INTO target`` the rows of ``fragment``: 'pieces' over ``source`` (numbered raw lines,
    see _branch_lines), or 'grammar' over ``source`` (a table of marker rows)."""
    if fragment == "pieces":
        source = _FRAGMENTS["lines"].format(raw_lines=source)
    sql = (_FRAGMENTS[fragment] + _FRAGMENTS["typed"]).format(source=source, user_id=user_id)
    return f"INSERT INTO {target}\n{sql}"


def _branch_lines(kind: str, indexes: list[int]) -> str:
    """The numbered raw lines of one branch: a 'scan' of one object ($path<i>), or a 'whole' read
    of a batch of objects ($batch<first i>); i is the object's 1-based position in $paths."""
    if kind == "scan":
        return _FRAGMENTS["scanned_lines"].format(index=indexes[0])
    return _FRAGMENTS["whole_file_lines"].format(texts=_TEXTS.format(files=f"$batch{indexes[0]}"))


def _branch_params(kind: str, indexes: list[int], paths: list[str]) -> dict:
    if kind == "scan":
        return {f"path{indexes[0]}": paths[indexes[0] - 1]}
    return {f"batch{indexes[0]}": [paths[i - 1] for i in indexes]}


def _branches(paths: list[str], threads: int) -> list[tuple[str, list[int]]]:
    """Branches in file order: ('scan', [i]) for each large object, ('whole', [i, j, …]) for runs
    of small ones, at least two per thread when the small objects allow it."""
    sizes = [os.path.getsize(path) for path in paths]
    small = sum(size for size in sizes if size < SCAN_BYTES)
    limit = max(1, min(BATCH_BYTES, small // (2 * threads)))
    branches: list[tuple[str, list[int]]] = []
    batch: list[int] = []
    filled = 0
    for index, size in enumerate(sizes, start=1):
        if size >= SCAN_BYTES:
            branches.append(("scan", [index]))
            continue
        if batch and filled + size > limit:
            branches.append(("whole", batch))
            batch, filled = [], 0
        batch.append(index)
        filled += size
    if batch:
        branches.append(("whole", batch))
    return branches


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
    stage = _identifier(stage)
    names = [name for name, _ in files]
    load = _parse(con, files, key_pattern, stage, quarantine)
    try:
        if files:
            load.outside_day = _deleted(con, f"DELETE FROM {stage} WHERE usage_date <> $day", {"day": day})
            load.duplicates = _delete_repeats(con, stage, names)
            load.rows = load.parsed - load.outside_day - load.duplicates
    finally:
        _drop_work_columns(con, stage)
    return load


def _delete_repeats(con, stage: str, names: list[str]) -> int:
    """Delete every record of ``stage`` but the first seen of its (request ID, operation, key).

    Repeats are rare: group the 8-byte dedupe keys, then rank on the strings themselves only the
    rows of repeated keys (a hash collision ranks two different records apart, never together), and
    delete by row_key. (Not by rowid: DuckDB 2.0 returned rowids from a filtered scan of a large
    TEMP table that its DELETE did not all find — 11,000 of 49,000 repeats survived at 10 M rows.)"""
    keys, repeats = f"{stage}__repeated_keys", f"{stage}__repeats"
    # The repeated keys are materialised first: as the build side of the join that finds their
    # rows, the same aggregate ran 25 times slower (DuckDB 2.0, 10 M rows).
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {keys} AS SELECT dedupe_key FROM {stage} "
        "WHERE dedupe_key IS NOT NULL GROUP BY ALL HAVING count(*) > 1"
    )
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {repeats} AS
            SELECT s.row_key FROM {stage} s SEMI JOIN {keys} k ON s.dedupe_key = k.dedupe_key
            QUALIFY row_number() OVER (PARTITION BY s.request_id, s.operation, s.key
                                       ORDER BY list_position($names, {_FILE_OF_ROW}), s.source_line) > 1
            """,
            {"names": names},
        )
        return _deleted(con, f"DELETE FROM {stage} USING {repeats} r WHERE {stage}.row_key = r.row_key", {})
    finally:
        con.execute(f"DROP TABLE IF EXISTS {keys}")
        con.execute(f"DROP TABLE IF EXISTS {repeats}")


def _deleted(con, sql: str, params: dict) -> int:
    return int(con.execute(sql, params).fetchall()[0][0])


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
        _drop_work_columns(con, _identifier(records))


def _parse(
    con, files: list[tuple[str, str]], key_pattern: KeyPattern, target: str, quarantine: str
) -> AccessLogLoad:
    """Fill TEMP tables ``target`` (the warehouse columns and the working columns) with every record
    of ``files`` and ``quarantine`` with every bad line."""
    target, quarantine = _identifier(target), _identifier(quarantine)
    names = [name for name, _ in files]
    paths = [os.fspath(path) for _, path in files]
    for name, path in zip(names, paths, strict=True):
        if not os.path.isfile(path):
            raise SourceFormatError(name, f"log object not found at {path}")

    con.execute(f"CREATE OR REPLACE TEMP TABLE {target} ({_COLUMN_DEFS}{_WORK_COLUMNS})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quarantine} "
        "(file VARCHAR, line_number BIGINT, raw_text VARCHAR, reason VARCHAR)"
    )
    if not files:
        return AccessLogLoad(0, 0, 0, 0, 0, 0, 0, 0)

    user_id = key_pattern.sql_expr("decoded_key")
    # Every row carries its own line number, so the rows may be written in any order (cheaper).
    with scoped_settings(con, {"preserve_insertion_order": "false"}):
        _read(con, names, paths, target, user_id)
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


def _read(con, names: list[str], paths: list[str], target: str, user_id: str) -> None:
    """Parse every line of the files into ``target``, a statement per MAX_BRANCHES branches. If a
    statement fails (an object the CSV scanner cannot read exactly, or one that is not valid
    UTF-8), its branches are retried one by one, and a failing branch's objects are read whole one
    by one, decoded here with replacement characters if they are not valid UTF-8, so that their
    damaged lines are quarantined, not guessed at (loops over files, never over lines)."""
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    branches = _branches(paths, threads)
    for start in range(0, len(branches), MAX_BRANCHES):
        group = branches[start : start + MAX_BRANCHES]
        if not _insert_branches(con, group, names, paths, target, user_id):
            for branch in group:
                if not _insert_branches(con, [branch], names, paths, target, user_id):
                    for index in branch[1]:
                        _read_whole(con, index, names, paths, target, user_id)


def _insert_branches(con, branches, names, paths, target, user_id) -> bool:
    """One INSERT of the lines of ``branches`` (UNION ALL); False if DuckDB refused to read them."""
    lines = "\nUNION ALL\n".join(_branch_lines(kind, indexes) for kind, indexes in branches)
    params = {"names": names, "paths": paths}
    for kind, indexes in branches:
        params |= _branch_params(kind, indexes, paths)
    try:
        con.execute(_statement("pieces", target, lines, user_id), params)
    except (duckdb.InvalidInputException, duckdb.ConversionException):
        return False
    return True


def _read_whole(con, index: int, names: list[str], paths: list[str], target: str, user_id: str) -> None:
    """One object read whole: as UTF-8 by DuckDB, or decoded here if it is not valid UTF-8."""
    try:
        con.execute(
            _statement("pieces", target, _branch_lines("whole", [index]), user_id),
            {"names": names, "paths": paths} | _branch_params("whole", [index], paths),
        )
        return
    except duckdb.InvalidInputException as exc:
        if "UTF-8" not in str(exc):
            raise SourceFormatError(names[index - 1], str(exc)) from exc
    texts = _read_lossy(con, index, paths[index - 1], target)
    try:
        con.execute(
            _statement("pieces", target, _FRAGMENTS["whole_file_lines"].format(texts=texts), user_id),
            {"names": names},
        )
    finally:
        con.execute(f"DROP TABLE {texts}")


def _read_lossy(con, index: int, path: str, stage: str) -> str:
    """A TEMP table of (file_idx, content, lossy): the object decoded, invalid UTF-8 replaced."""
    texts = f"{stage}__texts"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {texts} (file_idx INTEGER, content VARCHAR, lossy BOOLEAN)")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text, lossy = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, lossy = data.decode("utf-8", errors="replace"), True
    con.execute(f"INSERT INTO {texts} VALUES (?, ?, ?)", [index, text, lossy])
    return texts


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
            f"(SELECT {_FILE_OF_ROW} AS source_file, source_line, row_key, line FROM {markers} "
            f"WHERE reason = '{_NEEDS_GRAMMAR}')"
        )
        con.execute(
            _statement("grammar", grammar, pending, user_id), {"regex": ACCESS_LOG_REGEX, "names": names}
        )
        con.execute(f"INSERT INTO {target} SELECT * FROM {grammar} WHERE usage_date IS NOT NULL")
        con.execute(
            f"""
            INSERT INTO {quarantine}
            SELECT file, line_number, raw_text, reason FROM (
                SELECT {_FILE_OF_ROW} AS file, source_line AS line_number, line AS raw_text, reason
                FROM {markers} WHERE reason NOT IN ('{_BLANK}', '{_NEEDS_GRAMMAR}')
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


def stage_first_seen(con, records: str, stage: str, day: datetime.date, files: list[str]) -> tuple[int, int]:
    """Fill table ``stage`` with the records of ``day`` in ``files`` (display names, in reading
    order), each (request ID, operation, key) once; return (rows staged, records of the day).

    Delivery is best effort and may repeat a record: the first seen (file order, then line) is kept.
    Repeats are rare, so records are grouped on a hash of the key alone and only the rows of
    repeated hashes are ranked on the key itself (a hash collision ranks two keys apart, never
    together); a record without a request ID is never treated as a repeat. ``records`` may be any
    table with the warehouse columns (a TEMP stage or the per-object ledger ``raw.access_log_records``).

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
        f"(SELECT * FROM {records} SEMI JOIN (SELECT unnest($files) AS name) f ON source_file = f.name "
        "WHERE usage_date = $day)"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {repeats}_keys AS
        SELECT hash(request_id, operation, key) AS h FROM {source}
        WHERE request_id IS NOT NULL GROUP BY h HAVING count(*) > 1
        """,
        params,
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {repeats} AS
        SELECT d.source_file, d.source_line FROM {source} d
        SEMI JOIN {repeats}_keys r ON hash(d.request_id, d.operation, d.key) = r.h
        WHERE d.request_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY d.request_id, d.operation, d.key
                                   ORDER BY list_position($files, d.source_file), d.source_line) > 1
        """,
        params,
    )
    column_list = ", ".join(name for name, _ in COLUMNS)
    con.execute(
        f"""
        INSERT INTO {stage} ({column_list})
        SELECT s.* FROM {source} s
        ANTI JOIN {repeats} r ON s.source_file = r.source_file AND s.source_line = r.source_line
        """,
        params,
    )
    con.execute(f"DROP TABLE {repeats}")
    con.execute(f"DROP TABLE {repeats}_keys")
    rows, in_day = con.execute(
        f"SELECT (SELECT count(*) FROM {stage} WHERE usage_date = $day), (SELECT count(*) FROM {source})",
        params,
    ).fetchall()[0]
    return int(rows), int(in_day)
