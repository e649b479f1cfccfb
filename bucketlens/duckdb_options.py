"""Setting DuckDB options with bound values.

Why: ``SET name = '{value}'`` breaks (or worse, runs something else) when a value carries a quote — a
temp directory under ``/home/o'brien`` is enough. DuckDB binds parameters in ``SET``, so values are always
bound; only the option's name is placed in the SQL, and it must be a plain identifier.
"""

from __future__ import annotations

import re

import duckdb

_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def set_option(con: duckdb.DuckDBPyConnection, name: str, value: object) -> None:
    """``SET name = value`` with ``value`` bound; a name that is not an identifier is refused."""
    if not _OPTION.fullmatch(name):
        raise ValueError(f"not a DuckDB option name: {name!r}")
    con.execute(f"SET {name} = ?", [value])
