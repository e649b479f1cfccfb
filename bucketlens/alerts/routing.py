"""Routing: where alert notifications go and how often (the ``routing`` section of the rules file).

Channels per severity, the on-call mention, grouping, intervals, the hourly limit, escalation, the
digest age, inhibition and the fallback channel for bucketlens's own delivery problems. Durations are
written as "5m", "4h", "14d" and checked at load time; column names are checked against a strict
identifier pattern because the evaluator places them in SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from bucketlens.anomaly.rule_types import (
    SEVERITIES,
    PositiveInt,
    RulesError,
    RulesModel,
    invalid,
    listing,
    mapping,
    one_of,
    yaml_text,
)

COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DURATION = re.compile(r"^\s*([0-9]+)\s*([smhd])\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_CHANNELS = {"critical": "#storage-critical", "warning": "#storage-alerts", "info": "#storage-info"}


def duration_seconds(value: Any) -> int:
    """Seconds in "30s", "5m", "4h" or "14d" (a bare whole number is seconds)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = DURATION.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise invalid('must be a duration like "5m", "4h" or "14d"')
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def _column(value: Any) -> str:
    if not isinstance(value, str) or not COLUMN.match(value):
        raise invalid("must be a column name (letters, digits, _)")
    return value


def _scalars(value: Any) -> tuple:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | int | float | bool) for v in values):
        raise invalid("must be a value or a list of values")
    return tuple(values)


def _channel(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("must be a channel name or id")
    return value


def _channels(value: Any) -> dict:
    """Channels written are merged over the defaults: a file may name only the ones it changes."""
    mapping("must be a mapping of severity to channel")(value)
    return {**DEFAULT_CHANNELS, **value}


Duration = Annotated[int, BeforeValidator(duration_seconds)]
Column = Annotated[str, BeforeValidator(_column)]
Columns = Annotated[tuple[Column, ...], BeforeValidator(listing("must be a non-empty list of columns"))]
Scalars = Annotated[tuple, BeforeValidator(_scalars)]
Matchers = Annotated[
    dict[Column, Annotated[tuple[str, ...], BeforeValidator(lambda v: tuple(str(x) for x in _scalars(v)))]],
    BeforeValidator(mapping("must map fields to values", non_empty=True)),
]


class InhibitRule(RulesModel):
    """A firing alert matching ``source`` mutes alerts matching ``target`` with equal ``equal`` fields."""

    source: Matchers
    target: Matchers
    equal: Annotated[tuple[Column, ...], BeforeValidator(listing("must be a non-empty list of fields"))]


DEFAULT_INHIBIT = (
    InhibitRule(
        source={"severity": ["critical"]}, target={"severity": ["warning", "info"]}, equal=["subject"]
    ),
)


class Routing(RulesModel):
    channels: Annotated[
        dict[Annotated[str, BeforeValidator(one_of(SEVERITIES))], Annotated[str, BeforeValidator(_channel)]],
        BeforeValidator(_channels),
    ] = Field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    oncall_group: str = ""  # Slack user-group id mentioned on critical; empty: no mention
    group_by: Annotated[
        tuple[Column, ...], BeforeValidator(listing("must be a non-empty list of labels"))
    ] = ("rule",)
    group_interval: Duration = 300  # seconds
    repeat_interval: Duration = 4 * 3600
    max_per_hour: PositiveInt = 5
    escalate_after: Duration = 2 * 3600
    escalate_channel: str = ""  # empty: the critical channel
    escalate_group: str = ""  # empty: the on-call group
    max_alert_age: Duration = 14 * 86400
    inhibit: Annotated[
        tuple[InhibitRule, ...], BeforeValidator(listing("must be a list of inhibit rules", non_empty=False))
    ] = DEFAULT_INHIBIT
    # where bucketlens reports problems with its own delivery (a channel missing, messages dead);
    # empty: the critical channel
    fallback_channel: str = ""


def _checked(check: Callable[[Any], Any], value: Any, path: str) -> Any:
    try:
        return check(value)
    except PydanticCustomError as exc:
        raise RulesError(f"{path}: {exc.message()}, got {yaml_text(value)}") from None


def parse_duration(value: Any, path: str) -> int:
    """Seconds in "30s", "5m", "4h" or "14d" (a bare number is seconds); ``path`` names it in errors."""
    return _checked(duration_seconds, value, path)


def column_name(value: Any, path: str) -> str:
    """``value`` if it is a plain identifier (it goes into SQL); ``path`` names it in errors."""
    return _checked(_column, value, path)
