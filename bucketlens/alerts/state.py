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

A window of days is evaluated in one statement: the candidates of every day are staged at once (one
query per rule), and a recursive query steps through the days from the stored state of the day before
the window, each day from the previous day's rows — the same rule, day after day, as a run per day.
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

# One recursion step per day: day D's rows from D-1's (the anchor: the stored day before the window) and
# D's candidates. A marker row (alert_key NULL) per day carries the recursion over a day without alerts.
STATE_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
WITH RECURSIVE cand AS (
    SELECT left(sha256(c.rule || '|' || c.labels), {key_chars}) AS alert_key, c.*, r.for_days
    FROM {candidates} c JOIN {status} r USING (rule, usage_date)
),
states(usage_date, alert_key, rule, severity, subject, state, first_seen, last_seen, value, threshold, labels,
       reason, evidence, evidence_query, asset) AS (
    SELECT * FROM (
        SELECT usage_date, alert_key, rule, severity, subject, state, first_seen, last_seen, value, threshold,
               labels, reason, evidence, evidence_query, asset
        FROM {table} WHERE usage_date = $previous AND state IN ('firing', 'pending', 'nodata')
        UNION ALL
        SELECT $previous::DATE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    )
    UNION ALL
    SELECT * FROM (
        WITH step AS (SELECT max(usage_date) + 1 AS day FROM states),
        prev AS (
            SELECT * FROM states WHERE alert_key IS NOT NULL AND state IN ('firing', 'pending', 'nodata')
        ),
        today AS (SELECT c.* FROM cand c JOIN step s ON c.usage_date = s.day),
        current AS (
            SELECT c.usage_date, c.alert_key, c.rule, c.severity, c.subject,
                   coalesce(p.first_seen, c.usage_date) AS first_seen, c.value, c.threshold, c.labels, c.reason,
                   c.evidence, c.evidence_query, c.asset, c.for_days
            FROM today c LEFT JOIN prev p USING (alert_key)
        ),
        gone AS (
            SELECT p.* REPLACE (s.day AS usage_date), r.has_data
            FROM prev p JOIN step s ON true JOIN {status} r ON r.rule = p.rule AND r.usage_date = s.day
            WHERE p.state IN ('firing', 'nodata') AND p.alert_key NOT IN (SELECT alert_key FROM today)
        )
        SELECT usage_date, alert_key, rule, severity, subject,
               CASE WHEN datediff('day', first_seen, usage_date) + 1 >= for_days THEN 'firing' ELSE 'pending' END,
               first_seen, usage_date, value, threshold, labels, reason, evidence, evidence_query, asset
        FROM current
        UNION ALL
        SELECT usage_date, alert_key, rule, severity, subject, CASE WHEN has_data THEN 'resolved' ELSE 'nodata' END,
               first_seen, last_seen, value, threshold, labels, reason, evidence, evidence_query, asset
        FROM gone
        UNION ALL
        SELECT day, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM step WHERE day <= $end
    ) WHERE usage_date <= $end
)
SELECT * FROM states WHERE alert_key IS NOT NULL AND usage_date BETWEEN $start AND $end
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


def catalog_columns(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """The columns of every ``schema.table`` the connection sees, in one catalog query: a window asks
    about each rule's tables, and a catalog query per rule cost more than the rules' own small queries."""
    rows = con.execute(
        "SELECT table_schema || '.' || table_name, list(column_name) FROM information_schema.columns GROUP BY ALL"
    ).fetchall()
    found: dict[str, set[str]] = {}
    for table, columns in rows:
        found.setdefault(table, set()).update(columns)
    return found


def days_with_rows(
    con: duckdb.DuckDBPyConnection, table: str, column: str, start: date, end: date
) -> set[date]:
    """The days from ``start`` to ``end`` on which ``table`` (which has ``column``) has a row whose
    ``column`` equals the day."""
    sql = (
        "SELECT d.day FROM (SELECT CAST(unnest(generate_series(CAST(? AS DATE), CAST(? AS DATE), "
        f"INTERVAL 1 DAY)) AS DATE) AS day) d SEMI JOIN {ident(table)} t ON t.{ident(column)} = d.day"
    )
    return {row[0] for row in con.execute(sql, [start, end]).fetchall()}


def _rule_status(
    con: duckdb.DuckDBPyConnection,
    rules: tuple[AlertRule, ...],
    start: date,
    end: date,
    catalog: dict[str, set[str]],
) -> list[tuple]:
    """(rule, day, for_days, has_data) for each rule and day: does the day's data behind the rule exist?
    (One query per table and column, however many rules share it; none when the table or column does not
    exist.)"""
    days = [date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1)]
    found: dict[tuple[str, str], set[date]] = {}
    out = []
    for rule in rules:
        column = rule.date_column if rule.presence_table == rule.source else "usage_date"
        key = (rule.presence_table, column)
        if key not in found:
            exists = column in catalog.get(rule.presence_table, set())
            found[key] = days_with_rows(con, rule.presence_table, column, start, end) if exists else set()
        out.extend((rule.name, day, rule.for_days, day in found[key]) for day in days)
    return out


def stage_candidates(
    con: duckdb.DuckDBPyConnection, start: date, end: date, alerting: Alerting, catalog: dict[str, set[str]]
) -> int:
    """TEMP table of every rule's matching rows on each day of the window (rules over absent tables match
    nothing): one query per rule for all the days."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {CANDIDATES} (usage_date DATE, rule VARCHAR, labels VARCHAR, "
        "subject VARCHAR, severity VARCHAR, value DOUBLE, threshold DOUBLE, reason VARCHAR, evidence VARCHAR, "
        "evidence_query VARCHAR, asset VARCHAR)"
    )
    for rule in alerting.rules:
        columns = catalog.get(rule.source, set())
        if not columns:
            continue
        q = candidate_query(rule, start, end, columns)
        con.execute(f"INSERT INTO {CANDIDATES} BY NAME {q.text}", q.params)
    return int(con.execute(f"SELECT count(*) FROM {CANDIDATES}").fetchall()[0][0])


def evaluate_window(
    con: duckdb.DuckDBPyConnection, start: date, end: date, alerting: Alerting, out: str
) -> dict[date, dict[str, int]]:
    """Create TEMP table ``out`` with the alert rows (columns of ``alerts.alert_events``) of every day from
    ``start`` to ``end``, from the rules and the stored state of the day before ``start``, each day
    following from the previous one; return the number of alerts per state and day."""
    ensure_table(con)
    catalog = catalog_columns(con)
    stage_candidates(con, start, end, alerting, catalog)
    rows = _rule_status(con, alerting.rules, start, end, catalog)
    columns = list(zip(*rows, strict=True)) or [[]] * 4
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {RULE_STATUS} AS SELECT unnest(CAST($r AS VARCHAR[])) AS rule, "
        "unnest(CAST($d AS DATE[])) AS usage_date, unnest(CAST($f AS INTEGER[])) AS for_days, "
        "unnest(CAST($h AS BOOLEAN[])) AS has_data",
        dict(zip("rdfh", map(list, columns), strict=True)),
    )
    sql = STATE_SQL.format(
        out=ident(out), table=TABLE, candidates=CANDIDATES, status=RULE_STATUS, key_chars=KEY_CHARS
    )
    con.execute(sql, {"start": start, "end": end, "previous": start - timedelta(days=1)})
    found: dict[date, dict[str, int]] = {}
    for day, state, n in con.execute(
        f"SELECT usage_date, state, count(*) FROM {ident(out)} GROUP BY ALL"
    ).fetchall():
        found.setdefault(day, {})[state] = int(n)
    days = (date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1))
    return {
        day: {
            state: found.get(day, {}).get(state, 0) for state in ("firing", "pending", "resolved", "nodata")
        }
        for day in days
    }


def evaluate_day(con: duckdb.DuckDBPyConnection, day: date, alerting: Alerting, out: str) -> dict[str, int]:
    """Create TEMP table ``out`` with the day's alert rows (columns of ``alerts.alert_events``) from the
    rules and the previous day's stored state; return the number of alerts per state."""
    return evaluate_window(con, day, day, alerting, out)[day]


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
