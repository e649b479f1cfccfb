"""Alert rules and routing: the ``alerts`` and ``routing`` sections of the rules file (design §7, §8).

The detectors decide what is unusual; these rules decide which of their rows page someone, how loudly,
and where. Like the thresholds, they change without a release, so a typo must fail at load time with
the rule and field named (``alerts.rules[3] (rapid_upload).severity: ...``) — a misspelt rule is an
alert that never fires. Column and table names are checked against a strict identifier pattern here,
because the evaluator places them in SQL (values are always bound as parameters).
"""

from __future__ import annotations

import math
import re
import string
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from bucketlens.actions.policies import ActionsSection, unknown_rules
from bucketlens.actions.policies import describe as describe_actions
from bucketlens.alerts.routing import COLUMN, Column, Columns, Routing, Scalars, duration_seconds
from bucketlens.anomaly.rule_types import (
    SEVERITIES,
    RulesError,
    RulesModel,
    conflict,
    errors_at,
    invalid,
    listing,
    mapping,
    one_of,
    repeats,
    size_bytes,
    yaml_text,
)
from bucketlens.anomaly.rules import DEFAULT_RULES, Rules, alerting_sections, parse_rules, read_rules_document

SEVERITY_CHOICES = (*SEVERITIES, "from_source")
OPS = (">", ">=", "<", "<=", "==", "!=")
AGGREGATES = ("max", "min", "sum", "count")
FORMATS = ("", "bytes", "usd", "pct", "int", "num")
TABLE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


def template_fields(template: str) -> list[tuple[str, str]]:
    """(column, format) of each ``{column}`` or ``{column:bytes}`` placeholder."""
    return [(f, spec or "") for _, f, spec, _ in string.Formatter().parse(template) if f is not None]


def _template(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("must be a non-empty text template")
    try:
        fields = template_fields(value)
    except ValueError as exc:
        raise invalid(f"bad template: {exc}") from None
    for name, spec in fields:
        if not COLUMN.match(name):
            raise invalid(f"placeholder {yaml_text(name)} must be a column name (letters, digits, _)")
        if spec not in FORMATS:
            raise invalid(f"format {spec!r} must be one of {', '.join(f for f in FORMATS if f)}")
    return value


def _table(value: Any) -> str:
    if not isinstance(value, str) or not TABLE.match(value):
        raise invalid("must be a schema.table name")
    return value


def _threshold(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return float(size_bytes(value))
        except PydanticCustomError:
            raise invalid('must be a number or a size like "100 GB"') from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid('must be a number or a size like "100 GB"')
    return float(value)


def _for_days(value: Any) -> int:
    """Consecutive days: "2d", or a whole number of days; hours are refused (the data is daily)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    seconds = duration_seconds(value)
    if seconds % 86400:
        raise invalid("must be whole days (data is daily)")
    return seconds // 86400


Template = Annotated[str, BeforeValidator(_template)]
Table = Annotated[str, BeforeValidator(_table)]
ColumnValues = Annotated[dict[Column, Scalars], BeforeValidator(mapping("must map columns to values"))]


class AlertRule(RulesModel):
    """Which rows of ``source`` on a day are alerts, and how each is named, valued and ranked."""

    name: Column
    source: Table  # warehouse table, e.g. anomaly.abuse_flags
    labels: Columns  # columns that make the alert's identity (with the rule name)
    severity: Annotated[str, BeforeValidator(one_of(SEVERITY_CHOICES))]  # from_source: the row's own
    subject: Template  # template over columns: "user {user_id}"
    summary: Template = ""  # template; empty: the source's reason column, else the subject
    where: ColumnValues = Field(default_factory=dict)  # column → accepted values
    value: Column = "value"  # the column an alert reports (and compares, with op and threshold)
    op: Annotated[str, BeforeValidator(one_of(OPS, also=("",)))] = ""
    threshold: Annotated[float | None, BeforeValidator(_threshold)] = None
    aggregate: Annotated[str, BeforeValidator(one_of(AGGREGATES))] = "max"  # rows sharing the labels
    date_column: Column = "usage_date"
    on_day: Column = ""  # a timestamp column that must fall on the day (new signups)
    data_from: Table = ""  # the table whose rows prove the day's data exists (sparse sources)
    for_days: Annotated[int, BeforeValidator(_for_days)] = Field(1, alias="for")  # days held before firing
    send_resolved: StrictBool = True

    @model_validator(mode="after")
    def _op_with_threshold(self) -> AlertRule:
        if self.op and self.threshold is None:
            message = f"op and threshold go together: op {yaml_text(self.op)} has none"
        elif self.threshold is not None and not self.op:
            message = f"op and threshold go together: threshold {self.threshold:g} has no op"
        else:
            return self
        raise conflict("AlertRule", ("op",), message)

    @property
    def presence_table(self) -> str:
        return self.data_from or self.source

    @property
    def asset(self) -> str:
        """The Dagster asset of the source table (tables are named after their assets)."""
        return self.source.split(".", 1)[1]


class AlertsSection(RulesModel):
    rules: Annotated[
        tuple[AlertRule, ...], BeforeValidator(listing("must be a list of alert rules", non_empty=False))
    ] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsSection:
        duplicates = [
            (("rules", i, "name"), f"duplicate rule name (also alerts.rules[{j}])", rule.name)
            for i, rule, j in repeats(self.rules, lambda rule: rule.name)
        ]
        if duplicates:
            raise errors_at("alerts", *duplicates)
        return self


def _empty_if_none(value: Any) -> Any:
    return {} if value is None else value


class Alerting(RulesModel):
    """The ``alerts``, ``routing`` and ``actions`` sections; any may be left out (no rules; default
    routing; no response actions). Actions are validated here because a policy must name an alert rule
    of the same file."""

    alerts: Annotated[AlertsSection, BeforeValidator(_empty_if_none)] = AlertsSection()
    routing: Annotated[Routing, BeforeValidator(_empty_if_none)] = Routing()
    actions: Annotated[ActionsSection, BeforeValidator(_empty_if_none)] = ActionsSection()

    @model_validator(mode="after")
    def _actions_name_user_rules(self) -> Alerting:
        errors = unknown_rules(self.actions, {r.name: r.labels for r in self.alerts.rules})
        if errors:
            raise errors_at("Alerting", *errors)
        return self

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        return self.alerts.rules

    def has_rule(self, name: str) -> bool:
        return any(r.name == name for r in self.rules)

    def rule(self, name: str) -> AlertRule:
        return next(r for r in self.rules if r.name == name)


def parse_alerting(sections: dict, source: str = "") -> Alerting:
    """Validate the alerting sections of a rules document (``{"alerts": ..., "routing": ...}``)."""
    try:
        return Alerting.model_validate(sections)
    except ValidationError as exc:
        raise RulesError.from_validation(exc, sections, source) from None


def load_alerting(rules: Rules) -> Alerting:
    """Validate the alerting sections carried by ``rules`` (``Rules.alerting``)."""
    return parse_alerting(rules.alerting, rules.source)


def load_rules_file(path: str | Path | None = None) -> tuple[Rules, Alerting]:
    """Thresholds and alerting of one file (``None``: the packaged defaults), the errors of both at once."""
    path = Path(path) if path is not None else DEFAULT_RULES
    document = read_rules_document(path)
    errors: list[str] = []
    try:
        rules = parse_rules(document, str(path))
    except RulesError as exc:
        errors += exc.errors
    try:
        alerting = parse_alerting(alerting_sections(document), str(path))
    except RulesError as exc:
        errors += exc.errors
    if errors:
        raise RulesError(errors, str(path))
    return rules, alerting


def check_rules_file(path: str | Path) -> list[str]:
    """Human lines for ``bucketlens rules check FILE``: what loaded, or every error (prefixed ``error:``)."""
    try:
        _, alerting = load_rules_file(path)
    except RulesError as exc:
        return [f"error: {line}" for line in exc.errors]
    r = alerting.routing
    by_severity: dict[str, int] = {}
    for rule in alerting.rules:
        by_severity[rule.severity] = by_severity.get(rule.severity, 0) + 1
    counts = ", ".join(f"{n} {sev}" for sev, n in sorted(by_severity.items()))
    return [
        f"{path}: ok",
        f"{len(alerting.rules)} alert rules ({counts or 'none'})",
        "routing: "
        + ", ".join(f"{sev} → {ch}" for sev, ch in sorted(r.channels.items()))
        + f"; delivery problems → {r.fallback_channel or r.channels['critical']}",
        f"group by {', '.join(r.group_by)}; group interval {r.group_interval}s, repeat {r.repeat_interval}s, "
        f"at most {r.max_per_hour} per rule per hour, escalate after {r.escalate_after}s, "
        f"digest beyond {r.max_alert_age // 86400} days",
        *describe_actions(alerting.actions),
    ]
