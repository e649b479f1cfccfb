"""Reading the warehouse from a report: named parameters, dict rows, and tables that may not exist yet.

A range run renders a page per day from a handful of queries over the whole window (``rows_by_day``):
each query in ``sql/`` takes the window's first and last day (``$start``, ``$end``) and returns its rows
for every day at once, the day first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from importlib import resources

import duckdb


def report_sql(name: str, **fragments: str) -> str:
    """The query ``sql/<name>.sql``; ``fragments`` fill its ``{placeholders}`` with SQL written in code
    (an expression, an ORDER BY), never with a value — values are bound."""
    text = resources.files(__package__).joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    return text.format(**fragments) if fragments else text


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object]) -> list[dict]:
    """All rows as dicts keyed by column name (reports are small: tens of rows, never a table scan)."""
    result = con.execute(sql, dict(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def rows_by_day(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object], days: Sequence[date]
) -> dict[date, list[dict]]:
    """A window query's rows per report day (its first column, dropped from the dicts), in the query's
    order; every day of ``days`` is present, with ``[]`` when the query returned no row for it."""
    result = con.execute(sql, dict(params))
    names = [d[0] for d in result.description][1:]
    out: dict[date, list[dict]] = {day: [] for day in days}
    for row in result.fetchall():
        out[row[0]].append(dict(zip(names, row[1:], strict=True)))
    return out


def window(days: Sequence[date]) -> dict[str, date]:
    """The parameters of a window query: its first and last day."""
    return {"start": days[0], "end": days[-1]}


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
