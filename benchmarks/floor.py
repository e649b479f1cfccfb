"""The floor of the storage benchmark: a bare scan of the Parquet columns per-user aggregation needs.

Why: the issue asks how close ``user_daily_storage`` comes to the cost of merely reading its input
(target: within 2x). Every column is decoded (a ``sum(hash(...))`` of each forces it: ``count`` alone is answered from
Parquet statistics without reading a page), nothing is grouped or
written. Run as ``python -m benchmarks.floor FILE "col, col, ..."``; prints one JSON line.
"""

from __future__ import annotations

import json
import sys

import duckdb

from benchmarks.clock import clock


def scan_floor(parquet: str, columns: list[str]) -> dict:
    """Seconds to decode ``columns`` of ``parquet`` with DuckDB (all threads), and the row count."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        quoted = [f'"{c}"' for c in columns]
        counts = ", ".join(f"sum(hash({c}))" for c in quoted)
        with clock() as took:
            row = con.execute(
                f"SELECT count(*), {counts} FROM read_parquet($path)", {"path": parquet}
            ).fetchall()[0]
    finally:
        con.close()
    return {**took.report(), "rows": int(row[0]), "columns": columns}


if __name__ == "__main__":
    print(json.dumps(scan_floor(sys.argv[1], [c.strip() for c in sys.argv[2].split(",")])))
