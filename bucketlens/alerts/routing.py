"""Routing: where alert notifications go and how often (the ``routing`` section of the rules file).

Channels per severity, the on-call mention, grouping, intervals, the hourly limit, escalation, the
digest age and inhibition. Durations are written as "5m", "4h", "14d" and checked at load time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bucketlens.anomaly.rules import SEVERITIES, RulesError

COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DURATION = re.compile(r"^\s*([0-9]+)\s*([smhd])\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DEFAULT_CHANNELS = {"critical": "#storage-critical", "warning": "#storage-alerts", "info": "#storage-info"}
DEFAULT_INHIBIT = ({"source": {"severity": ["critical"]}, "target": {"severity": ["warning", "info"]}, "equal": ["subject"]},)  # fmt: skip
ROUTING_FIELDS = {
    "channels", "oncall_group", "group_by", "group_interval", "repeat_interval", "max_per_hour",
    "escalate_after", "escalate_channel", "escalate_group", "max_alert_age", "inhibit",
}  # fmt: skip


@dataclass(frozen=True)
class InhibitRule:
    """A firing alert matching ``source`` mutes alerts matching ``target`` with equal ``equal`` fields."""

    source: dict[str, tuple[str, ...]]
    target: dict[str, tuple[str, ...]]
    equal: tuple[str, ...]


@dataclass(frozen=True)
class Routing:
    channels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    oncall_group: str = ""  # Slack user-group id mentioned on critical; empty: no mention
    group_by: tuple[str, ...] = ("rule",)
    group_interval: int = 300  # seconds
    repeat_interval: int = 4 * 3600
    max_per_hour: int = 5
    escalate_after: int = 2 * 3600
    escalate_channel: str = ""  # empty: the critical channel
    escalate_group: str = ""  # empty: the on-call group
    max_alert_age: int = 14 * 86400
    inhibit: tuple[InhibitRule, ...] = ()


def parse_duration(value: Any, path: str) -> int:
    """Seconds in "30s", "5m", "4h" or "14d" (a bare number is seconds)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = DURATION.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise RulesError(f'{path}: must be a duration like "5m", "4h" or "14d", got {value!r}')
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


def column_name(value: Any, path: str) -> str:
    if not isinstance(value, str) or not COLUMN.match(value):
        raise RulesError(f"{path}: must be a column name (letters, digits, _), got {value!r}")
    return value


def scalar_values(value: Any, path: str) -> tuple:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str | int | float | bool) for v in values):
        raise RulesError(f"{path}: must be a value or a list of values, got {value!r}")
    return tuple(values)


def one_of(value: Any, path: str, choices: tuple) -> Any:
    if value not in choices:
        raise RulesError(f"{path}: must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def _matchers(node: Any, path: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(node, dict) or not node:
        raise RulesError(f"{path}: must map fields to values, got {node!r}")
    return {
        column_name(k, path): tuple(str(v) for v in scalar_values(v, f"{path}.{k}")) for k, v in node.items()
    }


def _inhibit(node: Any, index: int) -> InhibitRule:
    p = f"routing.inhibit[{index}]"
    if not isinstance(node, dict) or set(node) - {"source", "target", "equal"} or "equal" not in node:
        raise RulesError(f"{p}: must be a mapping of source, target and equal, got {node!r}")
    equal = node["equal"]
    if not isinstance(equal, list) or not equal:
        raise RulesError(f"{p}.equal: must be a non-empty list of fields, got {equal!r}")
    return InhibitRule(
        _matchers(node.get("source"), f"{p}.source"),
        _matchers(node.get("target"), f"{p}.target"),
        tuple(column_name(e, f"{p}.equal") for e in equal),
    )


def parse_routing(node: Any) -> Routing:
    p = "routing"
    node = {} if node is None else node
    if not isinstance(node, dict):
        raise RulesError(f"{p}: must be a mapping, got {node!r}")
    unknown = sorted(set(node) - ROUTING_FIELDS)
    if unknown:
        raise RulesError(f"{p}: unknown field(s) {', '.join(map(str, unknown))}")
    channels = {**DEFAULT_CHANNELS, **node.get("channels", {})}
    for sev, channel in channels.items():
        one_of(sev, f"{p}.channels", SEVERITIES)
        if not isinstance(channel, str) or not channel.strip():
            raise RulesError(f"{p}.channels.{sev}: must be a channel name or id, got {channel!r}")
    group_by = node.get("group_by", ["rule"])
    if not isinstance(group_by, list) or not group_by:
        raise RulesError(f"{p}.group_by: must be a non-empty list of labels, got {group_by!r}")
    max_per_hour = node.get("max_per_hour", 5)
    if isinstance(max_per_hour, bool) or not isinstance(max_per_hour, int) or max_per_hour < 1:
        raise RulesError(f"{p}.max_per_hour: must be a positive whole number, got {max_per_hour!r}")
    texts = {k: node.get(k, "") for k in ("oncall_group", "escalate_channel", "escalate_group")}
    for key, text in texts.items():
        if not isinstance(text, str):
            raise RulesError(f"{p}.{key}: must be text, got {text!r}")
    inhibit = node.get("inhibit", list(DEFAULT_INHIBIT))
    if not isinstance(inhibit, list):
        raise RulesError(f"{p}.inhibit: must be a list, got {inhibit!r}")
    durations = {
        "group_interval": "5m",
        "repeat_interval": "4h",
        "escalate_after": "2h",
        "max_alert_age": "14d",
    }
    return Routing(
        channels=channels,
        group_by=tuple(column_name(g, f"{p}.group_by") for g in group_by),
        max_per_hour=max_per_hour,
        inhibit=tuple(_inhibit(n, i) for i, n in enumerate(inhibit)),
        **texts,
        **{k: parse_duration(node.get(k, d), f"{p}.{k}") for k, d in durations.items()},
    )
