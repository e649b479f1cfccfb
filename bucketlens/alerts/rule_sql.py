"""One alert rule as one DuckDB query: the matching rows of its source on each day of a window, one row
per day and identity.

Names (tables, columns) come from a validated rules file and are quoted as identifiers; every value —
the days, the ``where`` values, the threshold, template text — is a bound parameter. The query returns
``usage_date`` and the columns of ``CANDIDATE_COLUMNS``; ``state.evaluate_window`` turns them into alert
state. A window's query groups by the day, so each day's rows are exactly a one-day query's.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date

from bucketlens.alerts.rules import AlertRule, template_fields

CANDIDATE_COLUMNS = (
    "rule", "labels", "subject", "severity", "value", "threshold", "reason", "evidence",
    "evidence_query", "asset",
)  # fmt: skip
EVIDENCE_ROWS = 5
SEVERITY_LIST = "['info', 'warning', 'critical']"
FORMAT_SQL = {
    "": "CAST({x} AS VARCHAR)",
    "bytes": "format_bytes(CAST({x} AS BIGINT))",
    "usd": "format('${{:,.2f}}', CAST({x} AS DOUBLE))",
    "pct": "format('{{:.1f}} %', CAST({x} AS DOUBLE))",
    "int": "format('{{:,.0f}}', CAST({x} AS DOUBLE))",
    "num": "format('{{:,.2f}}', CAST({x} AS DOUBLE))",
}


def ident(name: str) -> str:
    """A validated name as a quoted SQL identifier (``schema.table`` quoted part by part)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def sql_literal(value: object) -> str:
    """A value as SQL literal *text* for the human-readable evidence query (never executed here)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def quoted_text_sql(expr: str) -> str:
    """SQL that renders ``expr`` as a quoted SQL string literal (for the evidence query text)."""
    return f"('''' || replace(CAST({expr} AS VARCHAR), '''', '''''') || '''')"


@dataclass
class Query:
    """SQL text with ``?`` placeholders and the parameters in order."""

    sql: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def add(self, sql: str, *params: object) -> Query:
        self.sql.append(sql)
        self.params.extend(params)
        return self

    @property
    def text(self) -> str:
        return "".join(self.sql)


def _template_sql(template: str, q: Query, columns: dict[str, str]) -> None:
    """Append ``concat(...)`` of the template's literal parts (bound) and formatted columns."""
    q.add("concat(")
    parts = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        if literal:
            parts.append(("?", literal))
        if name is not None:
            parts.append(("coalesce(" + FORMAT_SQL[spec or ""].format(x=columns[name]) + ", '')", None))
    for i, (sql, param) in enumerate(parts or [("''", None)]):
        q.add((", " if i else "") + sql, *(() if param is None else (param,)))
    q.add(")")


def _evidence_query_parts(rule: AlertRule) -> list[str]:
    """The fixed text of a rule's evidence query (its table and ``where`` values) around each place the
    day goes: ``parts[0] + day + parts[1] + day + …``."""
    day = "\0"
    conditions = [f"{ident(rule.date_column)} = DATE '{day}'"]
    if rule.on_day:
        conditions.append(f"CAST({ident(rule.on_day)} AS DATE) = DATE '{day}'")
    for column, values in rule.where.items():
        conditions.append(f"{ident(column)} IN ({', '.join(sql_literal(v) for v in values)})")
    return (f"SELECT * FROM {ident(rule.source)} WHERE " + " AND ".join(conditions)).split(day)


def evidence_query_prefix(rule: AlertRule, day: date) -> str:
    """The fixed part of a rule's evidence query: its table, day and ``where`` values."""
    return day.isoformat().join(_evidence_query_parts(rule))


def candidate_query(rule: AlertRule, start: date, end: date, source_columns: set[str]) -> Query:
    """The alerts of ``rule`` on each day from ``start`` to ``end``: one row per day and label values,
    with ``usage_date`` and the columns of CANDIDATE_COLUMNS."""
    used = {*rule.labels, *(n for n, _ in template_fields(rule.subject))}
    used |= {n for n, _ in template_fields(rule.summary)} | set(rule.where) | {rule.value, rule.date_column}
    used |= {rule.on_day} if rule.on_day else set()
    used -= {"value", "threshold"} - {rule.value}
    missing = sorted(used - source_columns)
    if missing:
        raise ValueError(f"alert rule {rule.name}: {rule.source} has no column(s) {', '.join(missing)}")
    date_column = ident(rule.date_column)
    day_sql = f"CAST({date_column} AS DATE)"
    q = Query().add(f"WITH matched AS (SELECT *, CAST({ident(rule.value)} AS DOUBLE) AS _v ")
    # a day's rows are those whose date column equals the day (as a one-day query's ``= day`` selects)
    q.add(f"FROM {ident(rule.source)} AS m WHERE {date_column} BETWEEN ? AND ?", start, end)
    q.add(f" AND {date_column} = {day_sql}")
    if rule.on_day:
        q.add(f" AND CAST({ident(rule.on_day)} AS DATE) = {day_sql}")
    for column, values in rule.where.items():
        q.add(f" AND {ident(column)} IN ({', '.join('?' * len(values))})", *values)
    labels = ", ".join(ident(c) for c in rule.labels)
    q.add(f"), grouped AS (SELECT {day_sql} AS _day, {labels}, ")
    q.add("count(*)::DOUBLE" if rule.aggregate == "count" else f"{rule.aggregate}(_v)")
    q.add(" AS _value, ")
    if rule.threshold is not None:
        q.add("CAST(? AS DOUBLE)", rule.threshold)
    else:
        q.add('max(CAST("threshold" AS DOUBLE))' if "threshold" in source_columns else "NULL::DOUBLE")
    q.add(" AS _threshold, ")
    if rule.severity == "from_source":
        q.add(f"coalesce({SEVERITY_LIST}[max(list_position({SEVERITY_LIST}, severity))], 'warning')")
    else:
        q.add("CAST(? AS VARCHAR)", rule.severity)
    q.add(" AS _severity, ")
    q.add('arg_max("reason", _v)' if "reason" in source_columns else "NULL::VARCHAR")
    q.add(" AS _reason")
    has_evidence = "evidence" in source_columns
    if has_evidence:
        q.add(', arg_max(CAST("evidence" AS VARCHAR), _v) AS _evidence')
    others = sorted(used - set(rule.labels) - {"value", "threshold"})
    for column in others:
        q.add(f", arg_max({ident(column)}, _v) AS {ident(column)}")
    q.add(
        f" FROM matched AS m GROUP BY {day_sql}, {labels}), kept AS (SELECT row_number() OVER () AS _group, *"
    )
    q.add(" FROM grouped")
    if rule.op:
        q.add(f" WHERE _value {'=' if rule.op == '==' else rule.op} ?", rule.threshold)
    q.add(")")
    if not has_evidence:
        # The source's top rows as evidence, for the alerts kept only (a rule over every user's rows keeps a
        # few); rows of equal value in a fixed order (by their columns), so it never varies between runs.
        same = " AND ".join(f"k.{ident(c)} IS NOT DISTINCT FROM m.{ident(c)}" for c in rule.labels)
        q.add(
            f", evidence AS (SELECT k._group, CAST(to_json(list(m ORDER BY m._v DESC, m)[1:{EVIDENCE_ROWS}])"
        )
        q.add(
            f" AS VARCHAR) AS _evidence FROM kept AS k JOIN matched AS m ON k._day = CAST(m.{date_column} AS DATE)"
        )
        q.add(f" AND {same} GROUP BY k._group)")
    q.add(" SELECT _day AS usage_date, ")
    q.add("CAST(? AS VARCHAR) AS rule, ", rule.name)
    keys = sorted(rule.labels)
    q.add(
        "CAST(json_object(" + ", ".join(f"?, CAST({ident(k)} AS VARCHAR)" for k in keys) + ") AS VARCHAR)",
        *keys,
    )
    q.add(" AS labels, ")
    columns = {c: ident(c) for c in used} | {"value": "_value", "threshold": "_threshold"}
    _template_sql(rule.subject, q, columns)
    q.add(" AS subject, _severity AS severity, _value AS value, _threshold AS threshold, ")
    if rule.summary:
        _template_sql(rule.summary, q, columns)
    else:
        q.add("coalesce(_reason, subject)")
    parts = _evidence_query_parts(rule)
    q.add(" AS reason, _evidence AS evidence, concat(?", parts[0])
    for part in parts[1:]:
        q.add(", CAST(_day AS VARCHAR), ?", part)
    for k in rule.labels:
        q.add(f", ?, {quoted_text_sql(ident(k))}", f" AND {ident(k)} = ")
    q.add(") AS evidence_query, CAST(? AS VARCHAR) AS asset FROM kept", rule.asset)
    if not has_evidence:
        q.add(" LEFT JOIN evidence USING (_group)")
    return q
