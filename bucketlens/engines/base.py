"""The engine interface of the heavy steps, and the DuckDB engine (the warehouse itself).

Why an interface: the per-user aggregates (``usage.user_daily_storage``, ``usage.user_daily_requests``)
are the only steps that read every object version and every request; what they produce is small (a row
per user × class × day). So an engine only has to do one thing — run a catalog query over the window's
raw data and put its rows in a DuckDB stage table — and everything downstream (replacing the days, the
checks, cost, anomalies, alerts, reports) stays in the warehouse, unaware of where the rows came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from bucketlens.engines.sql_catalog import catalog


@dataclass
class EngineRun:
    """What ran: the engine, its own job or query ids, and where to look at them (a Spark UI, the
    Athena console), for the materialization's metadata."""

    engine: str
    ids: list[str] = field(default_factory=list)
    link: str | None = None

    def merged(self, other: EngineRun) -> EngineRun:
        """One record for several queries of one materialization (a window cut in spans)."""
        return EngineRun(self.engine, [*self.ids, *other.ids], self.link or other.link)


class Engine(Protocol):
    """Runs a catalog query (``bucketlens.engines.sql_catalog``) over the window's raw data."""

    name: str

    def aggregate(self, con, query: str, params: dict[str, object], stage: str) -> EngineRun:
        """Insert the rows of catalog query ``query`` (its ``$name`` parameters bound from ``params``)
        into the existing DuckDB table ``stage`` of connection ``con``, by column name."""
        ...


class DuckDBEngine:
    """Today's behaviour: the query runs in the warehouse connection itself, at no extra cost."""

    name = "duckdb"

    def aggregate(self, con, query: str, params: dict[str, object], stage: str) -> EngineRun:
        con.execute(f"INSERT INTO {stage} BY NAME {catalog()[query]}", params)
        return EngineRun(self.name)


def stage_rows(con, rows, stage: str) -> int:
    """Insert ``rows`` (an Arrow table from another engine) into ``stage``, each column cast to the stage's
    type by name: the contract's types, whatever the engine returned (Athena: text; Spark: its own)."""
    types = {name: dtype for name, dtype, *_ in con.execute(f"DESCRIBE {stage}").fetchall()}
    missing = [name for name in types if name not in rows.column_names]
    if missing:
        raise ValueError(f"the engine's result lacks the column(s) {', '.join(missing)} of {stage}")
    select = ", ".join(f'CAST("{name}" AS {dtype}) AS "{name}"' for name, dtype in types.items())
    con.register("bucketlens_engine_rows", rows)
    try:
        con.execute(f"INSERT INTO {stage} BY NAME SELECT {select} FROM bucketlens_engine_rows")
    finally:
        con.unregister("bucketlens_engine_rows")
    return rows.num_rows
