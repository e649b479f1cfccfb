"""CloudFront standard logs → ``raw.cdn_requests``, parsed in DuckDB.

Why this module exists: much of a media service's egress is served by its CDN, not by S3, and only
CloudFront's own logs say which object (hence which user) each viewer request was for. AWS writes two
shapes to S3 and both are read here into the one table of ``cloudfront_schema``:

* standard logging (legacy): gzip files ``<prefix>/<distribution ID>.YYYY-MM-DD-HH.<unique ID>.gz``,
  ``#Version`` and ``#Fields`` header lines, then one tab-separated record a line (33 fields, ``-`` for
  empty, ``cs-uri-stem``, referer and user agent URL-encoded). Fields are found by their name in the
  file's ``#Fields`` line, never by an assumed position. The v2 ``w3c`` output is the same shape.
* standard logging v2 (CloudWatch vended logs delivered to S3): the fields the user selected, as JSON
  lines or Parquet (optionally under Hive-style ``DistributionId=…/year=…/month=…/day=…/hour=…``
  partitions); a field not selected is NULL. JSON keys may be spelt as the W3C names, lower case, or
  with underscores (Parquet's column names); all are accepted. v2 values are not URL-encoded.

Every line of every file becomes a request or a quarantined line with file, line number and reason
(wrong field count, unparsable date or number, undecodable URI); a file DuckDB cannot read at all (a
truncated gzip, a damaged Parquet footer) is quarantined as a whole (line 0) and the others still load.
The owner comes from the decoded ``cs-uri-stem`` without its leading '/' through the configured key
pattern (query strings never count); the edge location's airport code gives the price-class region
through ``cloudfront_edges.csv`` ('unknown' when the code is not listed: counted, never dropped).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources

import duckdb

from bucketlens.formats.access_log_schema import plain_identifier
from bucketlens.formats.cloudfront_files import file_distribution
from bucketlens.formats.cloudfront_schema import COLUMN_DEFS, COLUMNS
from bucketlens.formats.errors import SourceFormatError
from bucketlens.keys import KeyPattern

PARSE_SQL = resources.files(__package__).joinpath("cloudfront.sql").read_text(encoding="utf-8")
FRAGMENTS = dict(
    (part.split("\n", 1)[0].strip(), part.split("\n", 1)[1]) for part in PARSE_SQL.split("-- fragment: ")[1:]
)
EDGES_CSV = resources.files(__package__).joinpath("cloudfront_edges.csv")
EDGES_TABLE = "cloudfront_edge_regions"
COLUMN_NAMES = [name for name, _ in COLUMNS]

# The v2 fields read, by their W3C name: the parse's column (f_<name>) ← every spelling of the field.
V2_FIELDS = {
    "date": ("date",),
    "time": ("time",),
    "timestamp": ("timestamp",),
    "timestamp_ms": ("timestamp(ms)",),
    "distribution_id": ("DistributionId", "distribution-id"),
    "edge_location": ("x-edge-location",),
    "sc_bytes": ("sc-bytes",),
    "c_ip": ("c-ip",),
    "method": ("cs-method",),
    "cs_host": ("cs(Host)",),
    "uri_stem": ("cs-uri-stem",),
    "status": ("sc-status",),
    "referer": ("cs(Referer)",),
    "user_agent": ("cs(User-Agent)",),
    "query": ("cs-uri-query",),
    "result_type": ("x-edge-result-type",),
    "host_header": ("x-host-header",),
    "protocol": ("cs-protocol",),
    "time_taken": ("time-taken",),
    "response_result_type": ("x-edge-response-result-type",),
    "ttfb": ("time-to-first-byte",),
    "detailed_result_type": ("x-edge-detailed-result-type",),
    "content_type": ("sc-content-type",),
}


def canonical(name: str) -> str:
    """A field name as Parquet spells it: lower case, '(' and '-' as '_', no ')' (``cs(User-Agent)`` →
    ``cs_user_agent``). The SQL applies the same rule to ``#Fields`` headers."""
    return name.lower().replace("(", "_").replace(")", "").replace("-", "_")


def _spellings(name: str) -> list[str]:
    return list(dict.fromkeys([name, name.lower(), canonical(name)]))


def _json_columns() -> str:
    def one(spelling: str) -> str:
        escaped = spelling.replace('"', '\\"').replace("'", "''")
        return f"""json_extract_string(j, '$."{escaped}"')"""

    return ",\n           ".join(
        f"coalesce({', '.join(one(s) for names in [n] for w3c in names for s in _spellings(w3c))}) AS f_{col}"
        for col, n in V2_FIELDS.items()
    )


@dataclass
class CloudFrontLoad:
    """What one parse saw, for Dagster metadata."""

    files: int = 0
    requests: int = 0
    quarantined: int = 0
    unreadable_files: list[str] = field(default_factory=list)


def file_shape(name: str) -> str:
    """'parquet', 'json' or 'text' (legacy and v2 W3C) from the object's name."""
    lowered = name.lower()
    if lowered.endswith(".parquet") or ".parquet." in lowered:
        return "parquet"
    if any(part in lowered for part in (".json", ".jsonl", ".ndjson")):
        return "json"
    return "text"


def ensure_edges(con) -> None:
    """The edge-code → region table, from the CSV shipped with the package."""
    with resources.as_file(EDGES_CSV) as path:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {EDGES_TABLE} AS SELECT upper(code) AS code, region, city "
            "FROM read_csv(?, header = true, columns = {'code': 'VARCHAR', 'region': 'VARCHAR', 'city': 'VARCHAR'})",
            [str(path)],
        )


def stage_cloudfront(
    con,
    files: list[tuple[str, str]],
    key_pattern: KeyPattern,
    target: str = "stage_cdn_requests",
    quarantine: str = "stage_cdn_quarantine",
) -> CloudFrontLoad:
    """Parse ``files`` ((object key, local path), in reading order) into TEMP tables ``target`` (the
    columns of ``raw.cdn_requests``: every request of any day) and ``quarantine`` (file, line_number,
    raw_text, reason). The caller keeps the days it replaces."""
    target, quarantine = plain_identifier(target), plain_identifier(quarantine)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {target} ({COLUMN_DEFS})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quarantine} "
        "(file VARCHAR, line_number BIGINT, raw_text VARCHAR, reason VARCHAR)"
    )
    load = CloudFrontLoad(files=len(files))
    for name, path in files:
        if not os.path.isfile(path):
            raise SourceFormatError(name, f"log file not found at {path}")
    if not files:
        return load
    ensure_edges(con)
    parsed = f"{target}__parsed"
    stem = "CASE WHEN starts_with(uri_stem, '/') THEN uri_stem[2:] ELSE uri_stem END"
    user_id = key_pattern.sql_expr(f"({stem})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {parsed} ({COLUMN_DEFS.replace(' NOT NULL', '')}, "
        "reason VARCHAR, raw_text VARCHAR)"
    )
    try:
        for shape in ("text", "json", "parquet"):
            group = [(n, p) for n, p in files if file_shape(n) == shape]
            if group:
                _parse_group(con, shape, group, parsed, user_id, load)
        columns = ", ".join(COLUMN_NAMES)
        con.execute(f"INSERT INTO {target} SELECT {columns} FROM {parsed} WHERE reason IS NULL")
        con.execute(
            f"INSERT INTO {quarantine} SELECT source_file, source_line, raw_text, reason FROM {parsed} "
            "WHERE reason IS NOT NULL ORDER BY list_position($names, source_file), source_line",
            {"names": [n for n, _ in files]},
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {parsed}")
    load.requests = _count(con, target)
    load.quarantined = _count(con, quarantine)
    return load


def _count(con, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _statement(shape: str, user_id: str, parquet_columns: str = "") -> str:
    typed = FRAGMENTS["typed"].format(user_id=user_id, edges=EDGES_TABLE)
    if shape == "parquet":
        return FRAGMENTS["parquet_fields"].format(parquet_columns=parquet_columns) + typed
    lines = "WITH lines AS (\n" + FRAGMENTS["text_lines"] + "\n)"
    fields = FRAGMENTS["w3c_fields"] if shape == "text" else FRAGMENTS["json_fields"]
    return lines + fields.format(json_columns=_json_columns()) + typed


def _parquet_columns(con, paths: list[str]) -> str:
    """Each v2 field as the Parquet files spell it, or NULL when no file has the column."""
    described = con.execute(
        "DESCRIBE SELECT * FROM read_parquet($paths, union_by_name = true, hive_partitioning = false)",
        {"paths": paths},
    ).fetchall()
    present = {canonical(row[0]): row[0] for row in described}
    out = []
    for col, names in V2_FIELDS.items():
        found = next((present[canonical(n)] for n in names if canonical(n) in present), None)
        quoted = '"' + found.replace('"', '""') + '"' if found else None
        out.append(f"CAST({quoted} AS VARCHAR) AS f_{col}" if quoted else f"CAST(NULL AS VARCHAR) AS f_{col}")
    return ",\n           ".join(out)


def _parse_group(con, shape: str, files: list[tuple[str, str]], parsed: str, user_id: str, load) -> None:
    """One statement for every file of a shape; if DuckDB cannot read one of them, file by file, and a
    file it cannot read at all is quarantined whole (loops over files, never over lines)."""
    try:
        _insert(con, shape, files, parsed, user_id)
        return
    except duckdb.Error:
        if len(files) == 1:
            _unreadable(con, files[0], parsed, load)
            return
    for one in files:
        try:
            _insert(con, shape, [one], parsed, user_id)
        except duckdb.Error:
            _unreadable(con, one, parsed, load)


def _insert(con, shape: str, files: list[tuple[str, str]], parsed: str, user_id: str) -> None:
    paths = [p for _, p in files]
    params = {
        "paths": paths,
        "names": [n for n, _ in files],
        "dists": [file_distribution(n) for n, _ in files],
    }
    columns = _parquet_columns(con, paths) if shape == "parquet" else ""
    con.execute(f"INSERT INTO {parsed} {_statement(shape, user_id, columns)}", params)


def _unreadable(con, file: tuple[str, str], parsed: str, load: CloudFrontLoad) -> None:
    name, path = file
    try:
        con.execute("SELECT count(*) FROM read_blob(?)", [path]).fetchall()
        why = "file cannot be read as a CloudFront log (damaged gzip or Parquet, or not a log file)"
    except duckdb.Error as exc:  # pragma: no cover - read_blob reads any file
        why = f"file cannot be read: {exc}"
    load.unreadable_files.append(name)
    con.execute(
        f"INSERT INTO {parsed} (usage_date, request_time, user_id, source_file, source_line, reason, raw_text) "
        "VALUES (NULL, NULL, '_shared', ?, 0, ?, NULL)",
        [name, why],
    )
