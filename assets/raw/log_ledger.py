"""The access-log ledger: which log objects have been parsed, what each held, and its bad lines.

Why a ledger: a log object is parsed once, when it arrives (the hourly ``access_log_objects`` run) or
when a day first needs it, and every later read of it — the day's partition, the next day's partition
that reads the same late objects, a rerun — is SQL over ``raw.access_log_records`` instead of a re-parse.
"""

import hashlib
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from assets.raw.log_bundles import MAP, bundle_objects, create_bundle_map, unbundled
from assets.raw.log_objects import log_objects_for_days
from assets.window import groups_within
from bucketlens.duckdb_options import memory_limit_bytes
from bucketlens.formats import access_log as fmt
from bucketlens.formats import access_log_schema as log_schema
from bucketlens.schema import LINE_COLUMNS, table_ddl
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from resources.warehouse import Replacement, drop_tables, replace_partitions

LEDGER_DDL = (
    "CREATE TABLE IF NOT EXISTS raw.access_log_objects (key VARCHAR, size BIGINT, "
    "etag_or_mtime VARCHAR, parser VARCHAR, loaded_at TIMESTAMP, lines BIGINT, records BIGINT, "
    "quarantined BIGINT, first_request_time TIMESTAMP, last_request_time TIMESTAMP)"
)
RECORDS_DDL = table_ddl("raw.access_log_records", log_schema.COLUMNS, log_schema.COMPRESSION)
OBJECT_QUARANTINE_DDL = f"CREATE TABLE IF NOT EXISTS raw.access_log_object_quarantine ({LINE_COLUMNS})"
# The objects a parse replaces in the ledger (a join, not ``list_contains`` over thousands of keys).
PARSED = "(SELECT key FROM stage_access_log_objects)"
# Log bytes parsed in one call (one transaction), at most: a backfill's small objects together — per-object
# overhead is what a day of ~290 small objects costs — yet a bounded stage.
PARSE_BATCH_BYTES = 4 << 30
# ... and at most this share of DuckDB's memory limit. A call's records are staged in an uncompressed TEMP
# table (~1.7 bytes per log byte) before they are copied into raw.access_log_records; a stage larger than
# the limit spills, and the parse and the copy then write and re-read it on disk. Measured on a 5 M-line
# day of 96 objects of 24 MB under the 700 MB limit (docs/performance.md, "Incremental access logs"): the
# day in one call 24.2-27.3 s, in calls of 350 MB 21.3-25.7 s, system CPU 12.6-13.6 -> 8.5-8.9 s.
PARSE_BATCH_MEMORY_SHARE = 0.5


def ensure_ledger(con) -> None:
    """Create the ledger tables (the records table has the columns of ``raw.access_log_requests``)."""
    for ddl in (fmt.TABLE_DDL, LEDGER_DDL, RECORDS_DDL, OBJECT_QUARANTINE_DDL):
        con.execute(ddl)


def object_version(source: SourceStore, key: str, size: int) -> str:
    """What says an object changed: its size, plus the file's mtime for a local source.

    An S3 object's ETag would be better, but the listing (``SourceObject``) does not carry it yet;
    a replaced S3 object of the same size is therefore not detected (S3 never rewrites log objects).
    """
    if source.is_s3:
        return str(size)
    return f"{size}:{os.stat(source.local_path(key)).st_mtime_ns}"


def parser_fingerprint(service: ServiceLayout) -> str:
    """Staged records are reused only if they were parsed by the same grammar and key ownership."""
    text = fmt.ACCESS_LOG_REGEX + fmt.PARSE_SQL + service.ownership().sql_expr("key")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stage_new_objects(con, keys, listing, source: SourceStore, service: ServiceLayout) -> list[str]:
    """Parse the objects among ``keys`` not yet in the ledger (or changed) and record them with their
    records and bad lines — a window's new objects in as few calls (one transaction each) as
    :func:`parse_batch_bytes` allows; return the keys parsed."""
    parser = parser_fingerprint(service)
    versions = {key: object_version(source, key, listing[key]) for key in keys}
    known = dict(
        con.execute(
            "SELECT key, etag_or_mtime FROM raw.access_log_objects "
            "WHERE key IN (SELECT unnest(?::VARCHAR[])) AND parser = ?",
            [keys, parser],
        ).fetchall()
    )
    new = [key for key in keys if known.get(key) != versions[key]]
    for batch in groups_within(new, listing, parse_batch_bytes(con)):
        _parse_batch(con, batch, listing, versions, parser, source, service)
    return new


def parse_batch_bytes(con) -> int:
    """Log bytes one parse call takes: ``PARSE_BATCH_MEMORY_SHARE`` of DuckDB's memory limit, at most
    ``PARSE_BATCH_BYTES`` (an object larger than this is still parsed, in a call of its own)."""
    limit = memory_limit_bytes(con)
    if limit is None:
        return PARSE_BATCH_BYTES
    return max(1, min(PARSE_BATCH_BYTES, int(limit * PARSE_BATCH_MEMORY_SHARE)))


def parsed_now(con, parsed: list[str], objects_by_day: dict) -> dict:
    """``{day: (objects parsed now, their lines)}``: each parsed object counts for the first day of the
    window that reads it (``objects_by_day``: day -> its objects, in window order), as when the days
    run one by one and the first day to read an object parses it."""
    lines = dict(
        con.execute(
            "SELECT key, lines FROM raw.access_log_objects WHERE key IN (SELECT unnest(?::VARCHAR[]))",
            [parsed],
        ).fetchall()
    )
    unclaimed = set(parsed)
    out = {}
    for day, keys in objects_by_day.items():
        mine = [key for key in keys if key in unclaimed]
        unclaimed.difference_update(mine)
        out[day] = (len(mine), sum(int(lines.get(key) or 0) for key in mine))
    return out


def _parse_batch(
    con, new, listing, versions, parser: str, source: SourceStore, service: ServiceLayout
) -> None:
    """Parse ``new`` objects in one call (small ones bundled: ``assets.raw.log_bundles``) and record
    them with their records and bad lines, in one transaction."""
    files = [(key, source.local_path(key, size=listing[key])) for key in new]
    with tempfile.TemporaryDirectory(prefix="bucketlens-logs-") as directory:
        bundles = bundle_objects(files, Path(directory))
        drop_tables(con, "parsed_access_log_records", "parsed_access_log_quarantine")
        fmt.stage_access_log_records(
            con,
            bundles.files,
            service.ownership(),
            "parsed_access_log_records",
            "parsed_access_log_quarantine",
        )
    create_bundle_map(con, bundles)
    con.execute(
        "CREATE OR REPLACE TEMP VIEW stage_access_log_records AS "
        + unbundled("parsed_access_log_records", "source_file", "source_line")
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW stage_access_log_object_quarantine AS "
        + unbundled("parsed_access_log_quarantine", "file", "line_number")
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE stage_access_log_objects AS
           SELECT o.key, o.size, o.version AS etag_or_mtime, ? AS parser, now()::TIMESTAMP AS loaded_at,
                  coalesce(r.n, 0) + coalesce(q.n, 0) AS lines, coalesce(r.n, 0) AS records,
                  coalesce(q.n, 0) AS quarantined, r.first_request_time, r.last_request_time
           FROM (SELECT unnest(?) AS key, unnest(?) AS size, unnest(?) AS version) o
           LEFT JOIN (SELECT source_file, count(*) AS n, min(request_time) AS first_request_time,
                             max(request_time) AS last_request_time
                      FROM stage_access_log_records GROUP BY ALL) r ON r.source_file = o.key
           LEFT JOIN (SELECT file, count(*) AS n FROM stage_access_log_object_quarantine GROUP BY ALL) q
                  ON q.file = o.key""",
        [parser, new, [listing[k] for k in new], [versions[k] for k in new]],
    )
    refuse_shrunk_objects(con, parser, source)
    replace_partitions(
        con,
        [
            Replacement("raw.access_log_records", "stage_access_log_records", f"source_file IN {PARSED}"),
            Replacement(
                "raw.access_log_object_quarantine", "stage_access_log_object_quarantine", f"file IN {PARSED}"
            ),
            Replacement("raw.access_log_objects", "stage_access_log_objects", f"key IN {PARSED}"),
        ],
    )
    con.execute("DROP VIEW stage_access_log_records")
    con.execute("DROP VIEW stage_access_log_object_quarantine")
    drop_tables(con, "parsed_access_log_records", "parsed_access_log_quarantine", MAP)


SHRUNK_SQL = """
SELECT o.key, o.records, s.records, s.quarantined, o.size, s.size
FROM raw.access_log_objects o JOIN stage_access_log_objects s USING (key)
WHERE o.parser = ? AND s.records < o.records
ORDER BY o.key
"""


def refuse_shrunk_objects(con, parser: str, source: SourceStore) -> None:
    """A log object parsed before that now yields fewer records under the same grammar was truncated or
    garbled after delivery: S3 never rewrites a log object, so its new content must not replace the
    records already loaded. Fail naming it, before anything is written."""
    shrunk = con.execute(SHRUNK_SQL, [parser]).fetchall()
    if not shrunk:
        return
    key, before, after, bad, old_size, new_size = shrunk[0]
    more = f" (and {len(shrunk) - 1} more object(s))" if len(shrunk) > 1 else ""
    raise dg.Failure(
        description=f"{source.describe(key)} changed after it was parsed: {before} records then, {after} now "
        f"({bad} unparseable lines; {old_size} -> {new_size} bytes){more}. S3 never rewrites a log object, so it "
        "was truncated or garbled: its loaded records were kept and nothing was replaced. Restore the object "
        "to reload the day."
    )


# A log object's delivery day, from the end of its name (…YYYY-mm-DD-HH-MM-SS-<unique>).
_DELIVERY_DAY_SQL = r"regexp_extract(key, '(\d{4}-\d{2}-\d{2})-\d{2}-\d{2}-\d{2}-[0-9A-Za-z]+$', 1)"


def ledger_objects_for_days(
    con, days: list[date], lateness_hours: int
) -> dict[date, tuple[list[str], list[str]]]:
    """Like :func:`log_objects_for_days`, over the objects the ledger has parsed: what was delivered
    stays counted when its object later disappears from the source (a lifecycle rule expiring old
    logs, a partial copy), so rebuilding a day never drops requests the warehouse already holds. One
    read of the ledger for the whole window."""
    last = days[-1] + timedelta(days=1 + lateness_hours // 24)
    keys = [
        k
        for (k,) in con.execute(
            f"SELECT key FROM raw.access_log_objects WHERE TRY_CAST({_DELIVERY_DAY_SQL} AS DATE) BETWEEN ? AND ?",
            [days[0], last],
        ).fetchall()
    ]
    return log_objects_for_days(sorted(keys), days, lateness_hours)
