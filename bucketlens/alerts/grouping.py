"""From stored alert rows to what a message shows: summaries, match labels, inhibition, groups, identities.

Identities are hashes of what a message says (kind, group, member keys and states, day), never of the
time it is planned, so planning the same partition twice yields the same identities and the outbox
refuses the second copy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from bucketlens.alerts.notification import SEVERITIES, AlertSummary
from bucketlens.alerts.routing import InhibitRule, Routing
from bucketlens.alerts.state import AlertRow

EVIDENCE_ROWS = 5
EVIDENCE_FIELDS = 8
EVIDENCE_CHARS = 200
# A group key is a primary key on PostgreSQL: 512 characters (at most 2 KB of UTF-8) fit its b-tree
# index entry (~2.7 KB); longer label values keep a readable head and a hash of the whole.
MAX_GROUP_KEY_CHARS = 512
GROUP_KEY_HASH_CHARS = 16


def _text(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:EVIDENCE_CHARS]


def evidence_rows(evidence: str) -> tuple[dict[str, str], ...]:
    """The evidence JSON as up to 5 rows of column → text (a top-level object is one row)."""
    try:
        data = json.loads(evidence) if evidence else None
    except ValueError:
        return ({"evidence": evidence[:EVIDENCE_CHARS]},)
    rows = data if isinstance(data, list) else [data] if data is not None else []
    out = []
    for row in rows[:EVIDENCE_ROWS]:
        items = row.items() if isinstance(row, dict) else [("value", row)]
        out.append({str(k): _text(v) for k, v in list(items)[:EVIDENCE_FIELDS]})
    return tuple(out)


def link(ui_url: str, asset: str, day: str) -> str:
    return f"{ui_url.rstrip('/')}/assets/{asset}?partition={day}" if ui_url and asset else ""


def summarize(alert: AlertRow, ui_url: str) -> AlertSummary:
    day = alert.usage_date.isoformat()
    return AlertSummary(
        alert_key=alert.alert_key,
        rule=alert.rule,
        severity=alert.severity,
        subject=alert.subject,
        state="resolved" if alert.state == "resolved" else "firing",
        usage_date=day,
        value=alert.value,
        threshold=alert.threshold,
        reason=alert.reason,
        labels={k: "" if v is None else str(v) for k, v in alert.labels.items()},
        evidence=evidence_rows(alert.evidence),
        evidence_query=alert.evidence_query,
        link=link(ui_url, alert.asset, day),
    )


def match_labels(a: AlertSummary) -> dict[str, str]:
    """The fields silences, inhibition and grouping see: the alert's labels plus its own fields."""
    own = {"rule": a.rule, "severity": a.severity, "subject": a.subject, "alert_key": a.alert_key}
    return {**a.labels, **own}


def _matches(matchers: dict[str, tuple[str, ...]], labels: dict[str, str]) -> bool:
    return all(labels.get(k, "") in values for k, values in matchers.items())


def inhibited(alerts: list[AlertSummary], rules: Iterable[InhibitRule]) -> set[str]:
    """Keys of firing alerts muted by another firing alert (a critical mutes its subject's warnings)."""
    labelled = [(a, match_labels(a)) for a in alerts if a.state == "firing"]
    out = set()
    for rule in rules:
        sources = [lab for _, lab in labelled if _matches(rule.source, lab)]
        for alert, lab in labelled:
            if not _matches(rule.target, lab):
                continue
            if any(src["alert_key"] != lab["alert_key"] and all(src.get(e, "") == lab.get(e, "") for e in rule.equal) for src in sources):  # fmt: skip
                out.add(alert.alert_key)
    return out


def group_key(a: AlertSummary, group_by: tuple[str, ...]) -> str:
    """``label=value,…`` of the ``group_by`` labels; over 512 characters, its head plus a hash of the whole
    (distinct groups stay distinct, and the key fits the database's index)."""
    labels = match_labels(a)
    key = ",".join(f"{k}={labels.get(k, '')}" for k in group_by)
    if len(key) <= MAX_GROUP_KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:GROUP_KEY_HASH_CHARS]
    return f"{key[: MAX_GROUP_KEY_CHARS - GROUP_KEY_HASH_CHARS - 2]}…#{digest}"


def top_severity(alerts: Iterable[AlertSummary]) -> str:
    return max((a.severity for a in alerts), key=SEVERITIES.index, default="info")


def channel_for(routing: Routing, severity: str) -> str:
    return routing.channels[severity]


def identity(kind: str, key: str, alerts: Iterable[AlertSummary], day: str) -> str:
    """Deterministic: the same message about the same members on the same day has the same identity."""
    members = sorted(f"{a.alert_key}:{a.state}" for a in alerts)
    digest = hashlib.sha256(json.dumps([kind, key, members, day]).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def title(kind: str, alerts: tuple[AlertSummary, ...], key: str) -> str:
    rules = sorted({a.rule for a in alerts})
    what = rules[0] if len(rules) == 1 else key
    about = alerts[0].subject if len(alerts) == 1 else f"{len(alerts)} alerts"
    prefix = {"alert": "", "resolved": "Resolved: ", "escalation": "Escalation: "}.get(kind, "")
    return f"{prefix}{what}: {about}"
