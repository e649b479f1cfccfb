"""The shapes shared by the access-log parse: warehouse columns, DDL, the grammar, SQL fragments.

Why this module exists: the reader (``access_log_reader``), the dedupe (``access_log_dedupe``) and
the staging entry points (``access_log``) all build statements from the same columns and the same
fragments of ``access_log.sql``; keeping those definitions here lets each of them import one place
without importing each other.
"""

from __future__ import annotations

import re
from importlib import resources

from bucketlens.schema import UNCOMPRESSED, ZSTD, table_ddl

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

COLUMN_DEFS = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS)
# every request has its own request ID and URI, keys mostly differ: stored with zstd; the host ID is random
# base64 that zstd shrinks by a third at five times the CPU of storing it as is (bucketlens.schema)
COMPRESSION = {"request_id": ZSTD, "key": ZSTD, "request_uri": ZSTD, "host_id": UNCOMPRESSED}
TABLE_DDL = table_ddl("raw.access_log_requests", COLUMNS, COMPRESSION)
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
FRAGMENTS = dict(
    (part.split("\n", 1)[0].strip(), part.split("\n", 1)[1]) for part in PARSE_SQL.split("-- fragment: ")[1:]
)

# Marker reasons of rows that are not (yet) records; the real quarantine reasons are in access_log.sql.
BLANK = "blank"
NEEDS_GRAMMAR = "needs the full grammar"

# The parse target's working columns (see the end of access_log.sql), dropped before returning.
WORK_COLUMNS = ", row_key BIGINT, dedupe_key UBIGINT"
FILE_OF_ROW = "$names[row_key // 4294967296]"


def parse_statement(fragment: str, target: str, source: str, user_id: str) -> str:
    """``INSERT INTO target`` the rows of ``fragment``: 'pieces' over ``source`` (numbered raw lines,
    see branch_lines), or 'grammar' over ``source`` (a table of marker rows)."""
    if fragment == "pieces":
        source = FRAGMENTS["lines"].format(raw_lines=source)
    sql = (FRAGMENTS[fragment] + FRAGMENTS["typed"]).format(source=source, user_id=user_id)
    return f"INSERT INTO {target}\n{sql}"


def plain_identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain table name: {name!r}")
    return name
