"""Alert rules and routing: the ``alerts`` and ``routing`` sections of the rules file (design §7, §8).

The detectors decide what is unusual; these rules decide which of their rows page someone, how loudly,
and where. Like the thresholds, they change without a release, so a typo must fail at load time with
the rule and field named (``alerts.rules[3] (rapid_upload).severity: ...``) — a misspelt rule is an
alert that never fires. Column and table names are checked against a strict identifier pattern here,
because the evaluator places them in SQL (values are always bound as parameters).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bucketlens.alerts.routing import (
    Routing,
    column_name,
    one_of,
    parse_duration,
    parse_routing,
    scalar_values,
)
from bucketlens.anomaly.rules import SEVERITIES, Rules, RulesError, _bytes, load_rules

SEVERITY_CHOICES = (*SEVERITIES, "from_source")
OPS = (">", ">=", "<", "<=", "==", "!=")
AGGREGATES = ("max", "min", "sum", "count")
FORMATS = ("", "bytes", "usd", "pct", "int", "num")
TABLE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
RULE_FIELDS = {
    "name", "source", "labels", "severity", "subject", "summary", "where", "value", "op", "threshold",
    "aggregate", "date_column", "on_day", "data_from", "for", "send_resolved",
}  # fmt: skip


@dataclass(frozen=True)
class AlertRule:
    """Which rows of ``source`` on a day are alerts, and how each is named, valued and ranked."""

    name: str
    source: str  # warehouse table, e.g. anomaly.abuse_flags
    labels: tuple[str, ...]  # columns that make the alert's identity (with the rule name)
    severity: str  # critical | warning | info | from_source (the row's own severity column)
    subject: str  # template over columns: "user {user_id}"
    summary: str = ""  # template; empty: the source's reason column, else the subject
    where: dict[str, tuple] = field(default_factory=dict)  # column → accepted values
    value: str = "value"  # the column an alert reports (and compares, with op and threshold)
    op: str = ""
    threshold: float | None = None
    aggregate: str = "max"  # how rows sharing the labels combine into one value
    date_column: str = "usage_date"
    on_day: str = ""  # a timestamp column that must fall on the day (new signups)
    data_from: str = ""  # the table whose rows prove the day's data exists (sparse sources)
    for_days: int = 1  # consecutive days the condition holds before the alert fires
    send_resolved: bool = True

    @property
    def presence_table(self) -> str:
        return self.data_from or self.source

    @property
    def asset(self) -> str:
        """The Dagster asset of the source table (tables are named after their assets)."""
        return self.source.split(".", 1)[1]


@dataclass(frozen=True)
class Alerting:
    rules: tuple[AlertRule, ...]
    routing: Routing

    def has_rule(self, name: str) -> bool:
        return any(r.name == name for r in self.rules)

    def rule(self, name: str) -> AlertRule:
        return next(r for r in self.rules if r.name == name)


def template_fields(template: str) -> list[tuple[str, str]]:
    """(column, format) of each ``{column}`` or ``{column:bytes}`` placeholder."""
    return [(f, spec or "") for _, f, spec, _ in string.Formatter().parse(template) if f is not None]


def _table(value: Any, path: str) -> str:
    if not isinstance(value, str) or not TABLE.match(value):
        raise RulesError(f"{path}: must be a schema.table name, got {value!r}")
    return value


def _template(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RulesError(f"{path}: must be a non-empty text template, got {value!r}")
    try:
        fields = template_fields(value)
    except ValueError as exc:
        raise RulesError(f"{path}: bad template {value!r}: {exc}") from exc
    for name, spec in fields:
        column_name(name, f"{path} placeholder")
        if spec not in FORMATS:
            raise RulesError(f"{path}: format {spec!r} must be one of {', '.join(f for f in FORMATS if f)}")
    return value


def _rule(node: Any, index: int) -> AlertRule:
    name = node.get("name") if isinstance(node, dict) else None
    p = f"alerts.rules[{index}]" + (f" ({name})" if isinstance(name, str) else "")
    if not isinstance(node, dict):
        raise RulesError(f"{p}: must be a mapping, got {node!r}")
    unknown = sorted(set(node) - RULE_FIELDS)
    if unknown:
        raise RulesError(f"{p}: unknown field(s) {', '.join(map(str, unknown))}")
    missing = sorted({"name", "source", "labels", "severity", "subject"} - set(node))
    if missing:
        raise RulesError(f"{p}: missing field(s) {', '.join(missing)}")
    column_name(name, f"{p}.name")
    labels = node["labels"]
    if not isinstance(labels, list) or not labels:
        raise RulesError(f"{p}.labels: must be a non-empty list of columns, got {labels!r}")
    where = node.get("where", {})
    if not isinstance(where, dict):
        raise RulesError(f"{p}.where: must map columns to values, got {where!r}")
    op, threshold = node.get("op", ""), node.get("threshold")
    if bool(op) != (threshold is not None):
        raise RulesError(f"{p}.op: op and threshold go together (got op={op!r}, threshold={threshold!r})")
    if op:
        one_of(op, f"{p}.op", OPS)
        threshold = _threshold(threshold, f"{p}.threshold")
    for_days = node.get("for", 1)
    if for_days != 1:
        seconds = parse_duration(for_days if isinstance(for_days, str) else f"{for_days}d", f"{p}.for")
        if seconds % 86400:
            raise RulesError(f"{p}.for: must be whole days (data is daily), got {for_days!r}")
        for_days = seconds // 86400
    send_resolved = node.get("send_resolved", True)
    if not isinstance(send_resolved, bool):
        raise RulesError(f"{p}.send_resolved: must be true or false, got {send_resolved!r}")
    return AlertRule(
        name=name,
        source=_table(node["source"], f"{p}.source"),
        labels=tuple(column_name(c, f"{p}.labels") for c in labels),
        severity=one_of(node["severity"], f"{p}.severity", SEVERITY_CHOICES),
        subject=_template(node["subject"], f"{p}.subject"),
        summary=_template(node["summary"], f"{p}.summary") if "summary" in node else "",
        where={column_name(k, f"{p}.where"): scalar_values(v, f"{p}.where.{k}") for k, v in where.items()},
        value=column_name(node.get("value", "value"), f"{p}.value"),
        op=op,
        threshold=threshold,
        aggregate=one_of(node.get("aggregate", "max"), f"{p}.aggregate", AGGREGATES),
        date_column=column_name(node.get("date_column", "usage_date"), f"{p}.date_column"),
        on_day=column_name(node["on_day"], f"{p}.on_day") if "on_day" in node else "",
        data_from=_table(node["data_from"], f"{p}.data_from") if "data_from" in node else "",
        for_days=for_days,
        send_resolved=send_resolved,
    )


def _threshold(value: Any, path: str) -> float:
    if isinstance(value, str):
        return float(_bytes(value, path))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RulesError(f'{path}: must be a number or a size like "100 GB", got {value!r}')
    return float(value)


def load_alerting(rules: Rules) -> Alerting:
    """Validate the alerting sections carried by ``rules`` (``Rules.alerting``)."""
    section = rules.alerting.get("alerts") or {}
    if not isinstance(section, dict) or set(section) - {"rules"}:
        raise RulesError(f"alerts: must be a mapping with a rules list, got {section!r}")
    nodes = section.get("rules", [])
    if not isinstance(nodes, list):
        raise RulesError(f"alerts.rules: must be a list of rules, got {nodes!r}")
    parsed = tuple(_rule(n, i) for i, n in enumerate(nodes))
    seen: set[str] = set()
    for i, rule in enumerate(parsed):
        if rule.name in seen:
            raise RulesError(f"alerts.rules[{i}] ({rule.name}).name: duplicate rule name")
        seen.add(rule.name)
    return Alerting(parsed, parse_routing(rules.alerting.get("routing")))


def check_rules_file(path: str | Path) -> list[str]:
    """Human lines for ``bucketlens rules check FILE``: what loaded, or the error (prefixed ``error:``)."""
    try:
        rules = load_rules(path)
        alerting = load_alerting(rules)
    except RulesError as exc:
        return [f"error: {exc}"]
    r = alerting.routing
    by_severity: dict[str, int] = {}
    for rule in alerting.rules:
        by_severity[rule.severity] = by_severity.get(rule.severity, 0) + 1
    counts = ", ".join(f"{n} {sev}" for sev, n in sorted(by_severity.items()))
    return [
        f"{path}: ok",
        f"{len(alerting.rules)} alert rules ({counts or 'none'})",
        "routing: " + ", ".join(f"{sev} → {ch}" for sev, ch in sorted(r.channels.items())),
        f"group by {', '.join(r.group_by)}; group interval {r.group_interval}s, repeat {r.repeat_interval}s, "
        f"at most {r.max_per_hour} per rule per hour, escalate after {r.escalate_after}s, "
        f"digest beyond {r.max_alert_age // 86400} days",
    ]
