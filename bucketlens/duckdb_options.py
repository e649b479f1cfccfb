"""Setting DuckDB options with bound values.

Why: ``SET name = '{value}'`` breaks (or worse, runs something else) when a value carries a quote — a
temp directory under ``/home/o'brien`` is enough. DuckDB binds parameters in ``SET``, so values are always
bound; only the option's name is placed in the SQL, and it must be a plain identifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Bulk staging of source files: a larger memory budget than the warehouse's, no ordering guarantee to
# pay for, and timestamps read as UTC whatever the machine's zone.
STAGING_SETTINGS = {"memory_limit": "1GB", "preserve_insertion_order": "false", "TimeZone": "UTC"}


def set_option(con: duckdb.DuckDBPyConnection, name: str, value: object) -> None:
    """``SET name = value`` with ``value`` bound; a name that is not an identifier is refused."""
    if not _OPTION.fullmatch(name):
        raise ValueError(f"not a DuckDB option name: {name!r}")
    con.execute(f"SET {name} = ?", [value])


@contextmanager
def scoped_settings(con: duckdb.DuckDBPyConnection, settings: dict[str, str]) -> Iterator[None]:
    """Apply DuckDB settings for a block and restore the caller's values afterwards."""
    names = list(settings)
    before = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN (SELECT unnest(?))", [names]
        ).fetchall()
    )
    for name, value in settings.items():
        set_option(con, name, value)
    try:
        yield
    finally:
        for name in names:
            if name in before:
                set_option(con, name, _restorable(name, str(before[name])))


_UNITS = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50}
# How DuckDB shows a memory limit: "667.5 MiB" (one decimal, binary units).
_SHOWN_MEMORY = re.compile(r"(\d+)\.(\d) (\w+)")


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int | None:
    """DuckDB's memory limit in bytes, for work that sizes its batches by it. DuckDB shows the limit
    rounded to one decimal in binary units ("667.5 MiB" for 700MB), which is close enough to size a
    batch by; None if it shows something else."""
    shown = str(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]).strip()
    match = _SHOWN_MEMORY.fullmatch(shown)
    if not match or match[3] not in _UNITS:
        return None
    return int(float(f"{match[1]}.{match[2]}") * _UNITS[match[3]])


def _restorable(name: str, shown: str) -> str:
    """DuckDB shows memory limits truncated to one decimal ("2.7 GiB" for 3 GB); restoring the shown
    value would shrink the limit a little on every call, so restore the middle of the shown interval
    (a fixed point: "2.75 GiB" shows as "2.7 GiB" again)."""
    match = _SHOWN_MEMORY.fullmatch(shown) if name in ("memory_limit", "max_memory") else None
    return f"{match[1]}.{match[2]}5 {match[3]}" if match else shown
