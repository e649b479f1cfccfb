"""Reading the warehouse from a report: named parameters, dict rows, and tables that may not exist yet."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> list[dict]:
    """All rows as dicts keyed by column name (reports are small: tens of rows, never a table scan)."""
    result = con.execute(sql, dict(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def one(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> dict:
    found = rows(con, sql, params)
    return found[0] if found else {}


def has_columns(con: duckdb.DuckDBPyConnection, table: str, *columns: str) -> bool:
    """Whether ``schema.table`` exists with every column named: a report built before an upstream layer
    exists (or before it gained a column) falls back instead of failing."""
    schema, name = table.split(".", 1)
    found = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }
    return bool(found) and set(columns) <= found
