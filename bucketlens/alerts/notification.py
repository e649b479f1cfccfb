"""What the alert engine hands to delivery: one notification is one Slack message, or one edit of one.

The engine (rules → alert state → grouping, silences, inhibition, suppression, routing) decides *what*
to say and *to whom*; the outbox and the Slack sender decide only *how to get it there exactly once*.
This module is the contract between the two, so each side can be tested without the other.
A notification is plain data: it is stored in the outbox as JSON and rendered to Block Kit only when it
is sent, so a renderer fix applies to messages still waiting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime

SEVERITIES = ("info", "warning", "critical")
KINDS = (
    "alert",  # a group of firing alerts (first notification, or a repeat after repeat_interval)
    "resolved",  # the group resolved: chat.update of the original message + a thread reply
    "escalation",  # a critical still firing past the escalation delay
    "digest",  # alerts about data older than max_alert_age, one message per run
    "suppressed",  # the summary of what "at most N similar per hour" held back
    "meta",  # about bucketlens itself: dead notifications, failed runs, stale sources
    "report",  # a report posted to a channel (text and optionally a file)
    "action",  # a response action: proposed (how to approve it), taken, or decided (an edit)
)
STATES = ("firing", "resolved")


@dataclass(frozen=True)
class AlertSummary:
    """One alert as a message shows it: what crossed which line, and where the evidence is."""

    alert_key: str  # stable hash of rule + labels: the alert's identity across days
    rule: str
    severity: str
    subject: str  # who or what: "user 1042", "bucket photos-prod"
    state: str  # firing | resolved
    usage_date: str  # ISO date of the data the alert is about
    value: float | None
    threshold: float | None
    reason: str  # human text: "uploaded 412 GB, 38× the usual 11 GB/day"
    labels: dict[str, str] = field(default_factory=dict)
    evidence: tuple[dict[str, str], ...] = ()  # top evidence rows (column → text)
    evidence_query: str = ""  # SQL listing the evidence rows in the warehouse
    link: str = ""  # Dagster UI URL of the asset partition the alert comes from


@dataclass(frozen=True)
class Notification:
    """One message to send (or one edit of a message already sent)."""

    identity: str  # unique: the outbox refuses a second notification with the same identity
    kind: str  # one of KINDS
    channel: str  # Slack channel name or id, chosen by severity routing
    severity: str  # one of SEVERITIES
    title: str
    group_key: str  # the alert group this message speaks for ("" for reports and meta)
    alerts: tuple[AlertSummary, ...] = ()
    text: str = ""  # free text (digest, suppression summary, report, meta); escaped when rendered
    mention: str = ""  # Slack user-group id to mention (critical → on-call), rendered <!subteam^ID>
    edit_of: str = ""  # identity of an earlier notification whose message this edits (chat.update)
    thread_of: str = ""  # identity of an earlier notification to reply to in its thread
    attachment_path: str = ""  # a file uploaded with the message (files_upload_v2), e.g. a chart
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"notification kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {self.severity!r}")
        if not self.identity:
            raise ValueError("a notification needs an identity")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> Notification:
        data = json.loads(text)
        data["alerts"] = tuple(
            AlertSummary(**{**a, "evidence": tuple(a.get("evidence", ()))}) for a in data.get("alerts", ())
        )
        return cls(**data)


def report_post(
    name: str, day: date, channel: str, title: str, text: str, attachment_path: str = ""
) -> Notification:
    """A report posted to a channel, one per report and day: its identity is ``<name>:<day>``, so a rerun
    of the partition cannot post twice (the outbox refuses a second identity). Why shared: the weekly
    cost summary and the savings digest are both posts of this kind, only their content differs."""
    return Notification(
        identity=f"{name}:{day.isoformat()}",
        kind="report",
        channel=channel,
        severity="info",
        title=title,
        group_key="",
        text=text,
        attachment_path=attachment_path,
    )
