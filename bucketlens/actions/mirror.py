"""The action tables mirrored into the warehouse: ``actions.action_requests`` and ``actions.action_log``.

The source of truth is the alert database (approvals, deliveries and expiries happen there, from the
sensor and the command line, while DuckDB may be held by a run); reports, statements and the UI read the
warehouse. Each mirror replaces the whole table in one transaction: the tables are small (a row per
request, a few per attempt), and a request decided days after its alert changes rows of old days.
A request's delivery is read from its outbox rows, so the mirror shows where each webhook stands.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from bucketlens.actions.db import action_log, action_outbox, action_requests
from bucketlens.actions.model import lift_id

REQUESTS_TABLE = "actions.action_requests"
LOG_TABLE = "actions.action_log"

REQUEST_COLUMNS = {
    "usage_date": pa.date32(), "request_id": pa.string(), "user_id": pa.string(), "rule": pa.string(),
    "action": pa.string(), "mode": pa.string(), "state": pa.string(), "severity": pa.string(),
    "alert_key": pa.string(), "episode": pa.date32(), "reason": pa.string(), "evidence": pa.string(),
    "duration_seconds": pa.int64(), "lift_on_resolve": pa.bool_(), "created_at": pa.timestamp("us"),
    "approval_deadline": pa.timestamp("us"), "decided_at": pa.timestamp("us"), "decided_by": pa.string(),
    "decision_reason": pa.string(), "effective_at": pa.timestamp("us"), "expires_at": pa.timestamp("us"),
    "webhook_id": pa.string(), "delivery_state": pa.string(), "attempts": pa.int64(), "last_status": pa.int64(),
    "delivered_at": pa.timestamp("us"), "lift_state": pa.string(), "lifted_at": pa.timestamp("us"),
    "lift_reason": pa.string(),
}  # fmt: skip
LOG_COLUMNS = {
    "logged_at": pa.timestamp("us"), "usage_date": pa.date32(), "request_id": pa.string(), "user_id": pa.string(),
    "event": pa.string(), "actor": pa.string(), "policy": pa.string(), "mode": pa.string(),
    "detail": pa.string(), "status_code": pa.int64(), "webhook_id": pa.string(),
}  # fmt: skip
SQL_TYPES = {
    pa.date32(): "DATE", pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN",
    pa.timestamp("us"): "TIMESTAMP",
}  # fmt: skip


def ddl(table: str, columns: dict[str, pa.DataType]) -> str:
    body = ", ".join(f"{name} {SQL_TYPES[kind]}" for name, kind in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {table} ({body})"


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS actions")
    con.execute(ddl(REQUESTS_TABLE, REQUEST_COLUMNS))
    con.execute(ddl(LOG_TABLE, LOG_COLUMNS))


def _lift_reason(payload: str | None) -> str | None:
    if not payload:
        return None
    return json.loads(payload).get("data", {}).get("lift_reason")


def request_rows(engine: sa.Engine) -> list[dict]:
    """Every request with its webhook's and its lift's delivery state."""
    r, sent, lift = action_requests, action_outbox.alias("sent"), action_outbox.alias("lift")
    query = (
        sa.select(
            r,
            sent.c.identity.label("webhook_id"),
            sent.c.state.label("delivery_state"),
            sent.c.attempts,
            sent.c.last_status,
            sent.c.sent_at.label("delivered_at"),
            lift.c.identity.label("lift_identity"),
            lift.c.state.label("lift_state"),
            lift.c.sent_at.label("lifted_at"),
            lift.c.payload.label("lift_payload"),
        )  # fmt: skip
        .outerjoin(sent, sent.c.identity == r.c.request_id)
        .outerjoin(lift, lift.c.identity == r.c.request_id + lift_id(""))
        .order_by(r.c.usage_date, r.c.request_id)
    )
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query).all()]
    for row in rows:
        row["lift_reason"] = _lift_reason(row.pop("lift_payload")) if row["lift_state"] == "sent" else None
        row.pop("lift_identity")
        row.pop("channel")
    return rows


def log_rows(engine: sa.Engine) -> list[dict]:
    query = sa.select(action_log).order_by(action_log.c.at, action_log.c.id)
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query).all()]
    for row in rows:
        row.pop("id")
        row["logged_at"] = row.pop("at")  # AT is a keyword in DuckDB
    return rows


def replace_table(
    con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, pa.DataType], rows: list[dict]
) -> int:
    """``table`` becomes exactly ``rows``, in one transaction; returns the row count."""
    for row in rows:
        for name in ("usage_date", "episode"):  # ISO dates in the alert database, DATE in the warehouse
            if isinstance(row.get(name), str):
                row[name] = date.fromisoformat(row[name]) if row[name] else None
    arrow = pa.Table.from_pylist([{k: row.get(k) for k in columns} for row in rows], pa.schema(columns))
    con.register("_action_mirror", arrow)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _action_mirror")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("_action_mirror")
    return len(rows)


def mirror_requests(con: duckdb.DuckDBPyConnection, engine: sa.Engine) -> int:
    ensure_tables(con)
    return replace_table(con, REQUESTS_TABLE, REQUEST_COLUMNS, request_rows(engine))


def mirror_log(con: duckdb.DuckDBPyConnection, engine: sa.Engine) -> int:
    ensure_tables(con)
    return replace_table(con, LOG_TABLE, LOG_COLUMNS, log_rows(engine))
