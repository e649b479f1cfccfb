"""Alert state per day: rule evaluation and the pending → firing → resolved life of each alert.

An alert's identity (``alert_key``) is a hash of its rule and label values, so the same user crossing the
same line on ten days is one alert with a streak, not ten. A day's state follows from the day's matching
rows and the previous day's state:

- **firing**: the condition holds and has held for the rule's ``for`` days (before that: **pending**);
  ``first_seen`` is the first day of the current streak, ``last_seen`` the day.
- **resolved**: firing (or NoData) the previous day, the condition does not hold, and the day's source
  data exists.
- **nodata**: firing the previous day and the source has no rows for the day. Missing data is not "zero
  problems": it never resolves an alert, and the alert carries its last values until data returns.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from bucketlens.alerts.rule_sql import candidate_query, ident
from bucketlens.alerts.rules import Alerting, AlertRule

TABLE = "alerts.alert_events"
KEY_CHARS = 20
EVENT_COLUMNS = """
    usage_date DATE NOT NULL, alert_key VARCHAR NOT NULL, rule VARCHAR NOT NULL, severity VARCHAR NOT NULL,
    subject VARCHAR NOT NULL, state VARCHAR NOT NULL, first_seen DATE NOT NULL, last_seen DATE NOT NULL,
    value DOUBLE, threshold DOUBLE, labels VARCHAR NOT NULL, reason VARCHAR, evidence VARCHAR,
    evidence_query VARCHAR, asset VARCHAR
"""
CANDIDATES = "_alert_candidates"
RULE_STATUS = "_alert_rule_status"

STATE_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
WITH prev AS (
    SELECT * FROM {table} WHERE usage_date = $previous AND state IN ('firing', 'pending', 'nodata')
),
cand AS (
    SELECT left(sha256(c.rule || '|' || c.labels), {key_chars}) AS alert_key, c.*, r.for_days
    FROM {candidates} c JOIN {status} r USING (rule)
),
current AS (
    SELECT c.alert_key, c.rule, c.severity, c.subject, coalesce(p.first_seen, $day) AS first_seen,
           c.value, c.threshold, c.labels, c.reason, c.evidence, c.evidence_query, c.asset, c.for_days
    FROM cand c LEFT JOIN prev p USING (alert_key)
),
gone AS (
    SELECT p.*, r.has_data FROM prev p JOIN {status} r USING (rule)
    WHERE p.state IN ('firing', 'nodata') AND p.alert_key NOT IN (SELECT alert_key FROM cand)
)
SELECT $day::DATE AS usage_date, alert_key, rule, severity, subject,
       CASE WHEN datediff('day', first_seen, $day::DATE) + 1 >= for_days THEN 'firing' ELSE 'pending' END AS state,
       first_seen, $day::DATE AS last_seen, value, threshold, labels, reason, evidence, evidence_query, asset
FROM current
UNION ALL
SELECT $day::DATE, alert_key, rule, severity, subject, CASE WHEN has_data THEN 'resolved' ELSE 'nodata' END,
       first_seen, last_seen, value, threshold, labels, reason, evidence, evidence_query, asset
FROM gone
"""


@dataclass(frozen=True)
class AlertRow:
    """One alert on one day, as stored in ``alerts.alert_events``."""

    usage_date: date
    alert_key: str
    rule: str
    severity: str
    subject: str
    state: str  # firing | pending | resolved | nodata
    first_seen: date
    last_seen: date
    value: float | None
    threshold: float | None
    labels: dict[str, str]
    reason: str
    evidence: str
    evidence_query: str
    asset: str


def alert_key(rule: str, labels: dict[str, str | None]) -> str:
    """The identity hash: the same as the SQL (``sha256(rule || '|' || labels JSON)``, sorted keys)."""
    text = json.dumps(dict(sorted(labels.items())), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{rule}|{text}".encode()).hexdigest()[:KEY_CHARS]


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS alerts")
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({EVENT_COLUMNS})")


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The columns of ``schema.table``; empty when the table does not exist (yet)."""
    schema, name = table.split(".", 1)
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchall()
    return {r[0] for r in rows}


def has_rows(con: duckdb.DuckDBPyConnection, table: str, column: str, day: date) -> bool:
    if column not in table_columns(con, table):
        return False
    sql = f"SELECT count(*) > 0 FROM (SELECT 1 FROM {ident(table)} WHERE {ident(column)} = ? LIMIT 1)"
    return bool(con.execute(sql, [day]).fetchall()[0][0])


def _rule_status(con: duckdb.DuckDBPyConnection, rules: tuple[AlertRule, ...], day: date) -> list[tuple]:
    """(rule, for_days, has_data) for each rule: does the day's data behind the rule exist?"""
    out = []
    for rule in rules:
        column = rule.date_column if rule.presence_table == rule.source else "usage_date"
        out.append((rule.name, rule.for_days, has_rows(con, rule.presence_table, column, day)))
    return out


def stage_candidates(con: duckdb.DuckDBPyConnection, day: date, alerting: Alerting) -> int:
    """TEMP table of every rule's matching rows on ``day`` (rules over absent tables match nothing)."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CANDIDATES} (rule VARCHAR, labels VARCHAR, subject VARCHAR, "
        "severity VARCHAR, value DOUBLE, threshold DOUBLE, reason VARCHAR, evidence VARCHAR, "
        "evidence_query VARCHAR, asset VARCHAR)"
    )
    for rule in alerting.rules:
        columns = table_columns(con, rule.source)
        if not columns:
            continue
        q = candidate_query(rule, day, columns)
        con.execute(f"INSERT INTO {CANDIDATES} BY NAME {q.text}", q.params)
    return int(con.execute(f"SELECT count(*) FROM {CANDIDATES}").fetchall()[0][0])


def evaluate_day(con: duckdb.DuckDBPyConnection, day: date, alerting: Alerting, out: str) -> dict[str, int]:
    """Create TEMP table ``out`` with the day's alert rows (columns of ``alerts.alert_events``) from the
    rules and the previous day's stored state; return the number of alerts per state."""
    ensure_table(con)
    stage_candidates(con, day, alerting)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {RULE_STATUS} (rule VARCHAR, for_days INTEGER, has_data BOOLEAN)"
    )
    con.executemany(f"INSERT INTO {RULE_STATUS} VALUES (?, ?, ?)", _rule_status(con, alerting.rules, day))
    sql = STATE_SQL.format(
        out=ident(out), table=TABLE, candidates=CANDIDATES, status=RULE_STATUS, key_chars=KEY_CHARS
    )
    con.execute(sql, {"day": day, "previous": day - timedelta(days=1)})
    counts = dict(con.execute(f"SELECT state, count(*) FROM {ident(out)} GROUP BY state").fetchall())
    return {state: int(counts.get(state, 0)) for state in ("firing", "pending", "resolved", "nodata")}


def read_alerts(con: duckdb.DuckDBPyConnection, days: list[date], table: str = TABLE) -> list[AlertRow]:
    """The stored alerts of ``days`` (any state), oldest day first, for the notification policy."""
    names = list(AlertRow.__dataclass_fields__)
    rows = con.execute(
        f"SELECT {', '.join(names)} FROM {table} WHERE list_contains(?, usage_date) "
        "ORDER BY usage_date, rule, alert_key",
        [days],
    ).fetchall()
    out = []
    for row in rows:
        data = dict(zip(names, row, strict=True))
        data["labels"] = json.loads(data["labels"] or "{}")
        for text in ("reason", "evidence", "evidence_query", "asset"):
            data[text] = data[text] or ""
        out.append(AlertRow(**data))
    return out
