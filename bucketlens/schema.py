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
