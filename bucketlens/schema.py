"""Warehouse tables that more than one module writes or reads: their DDL, written once.

``raw.quarantine`` keeps every line or row a source could not type — inventory rows, access-log lines —
with the file and line it came from, so a bad input is visible and counted, never silently dropped. The
per-source staging tables share its columns (a file, a line, the text, why) without the partition ones.
"""

from __future__ import annotations

# a bad line as the parsers stage it: the file (object key), its 1-based line or row, the text, why
LINE_COLUMNS = "file VARCHAR, line_number BIGINT, raw_text VARCHAR, reason VARCHAR"
QUARANTINE_COLUMNS = f"source VARCHAR, partition_date DATE, {LINE_COLUMNS}, loaded_at TIMESTAMP"
QUARANTINE_DDL = f"CREATE TABLE IF NOT EXISTS raw.quarantine ({QUARANTINE_COLUMNS})"


def temp_quarantine_ddl(table: str) -> str:
    """A TEMP table shaped like ``raw.quarantine`` (a day's bad rows before they replace the partition's)."""
    return f"CREATE OR REPLACE TEMP TABLE {table} ({QUARANTINE_COLUMNS})"


# Nearly unique strings (object keys, version and request IDs, ETags, URIs) are stored with zstd, and
# random ones that no method shrinks much (S3's host IDs) uncompressed. DuckDB's default for strings,
# DICT_FSST, builds a dictionary and a symbol table per segment: for columns where almost every value is
# new that was half the CPU time of writing a raw table (8.75 M inventory rows: 3.0 → 1.75 CPU s per 2 M
# rows, 157 → 143 MiB; docs/performance.md, "Storing the raw tables"). Strings that repeat (user ids,
# buckets, classes, operations) keep the default: their dictionary is what makes grouping and filtering
# on them cheap.
ZSTD = "zstd"
UNCOMPRESSED = "uncompressed"


def table_ddl(
    table: str, columns: tuple[tuple[str, str], ...], compression: dict[str, str] | None = None
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``columns`` (name, type), each column named in ``compression``
    stored with that method. An existing table keeps the compression it was created with (DuckDB decides
    it per column at creation), so older warehouses are read and written as before."""
    compression = compression or {}
    unknown = set(compression) - {name for name, _ in columns}
    if unknown:
        raise ValueError(f"{table}: no such column(s) {sorted(unknown)}")
    defs = ",\n    ".join(
        f"{name} {sql_type}" + (f" USING COMPRESSION {compression[name]}" if name in compression else "")
        for name, sql_type in columns
    )
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {defs}\n)"
