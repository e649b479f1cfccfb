"""One call of the notification policy: the log snapshot plus what the call has decided so far.

``PolicyRun`` holds the mechanics every policy entry point shares — emitting a notification once per
identity, the hourly limit per rule, recording a group's state, resolving it, and summarising what the
limit held back. ``policy`` decides *when* to call them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bucketlens.alerts.alert_db import utc_naive
from bucketlens.alerts.grouping import channel_for, identity, match_labels, title, top_severity
from bucketlens.alerts.notification import AlertSummary, Notification
from bucketlens.alerts.notify_log import RATE_WINDOW, GroupState, LogSnapshot, Plan, similar_key
from bucketlens.alerts.rules import Alerting
from bucketlens.alerts.silences import Silence, silenced_by


@dataclass
class PolicyRun:
    """One policy call: the snapshot plus what this call has already decided."""

    now: datetime  # naive UTC
    alerting: Alerting
    log: LogSnapshot
    silences: list[Silence]
    plan: Plan = field(default_factory=Plan)
    suppressed: dict[str, list[tuple[str, tuple[AlertSummary, ...]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.groups = dict(self.log.groups)
        self.recent = list(self.log.recent)
        self.identities = set(self.log.identities)

    @property
    def routing(self):
        return self.alerting.routing

    def stamp(self) -> str:
        return self.now.replace(tzinfo=UTC).isoformat()

    def emit(self, n: Notification) -> bool:
        """Plan ``n`` unless its identity was planned before (a rerun): then the log already has it."""
        if n.identity in self.identities:
            return False
        self.identities.add(n.identity)
        self.plan.notifications.append(n)
        return True

    def set_group(self, state: GroupState) -> None:
        self.groups[state.group_key] = state
        self.plan.groups[state.group_key] = state

    def muted(self, a: AlertSummary) -> bool:
        return silenced_by(self.silences, match_labels(a), self.now) is not None

    def rate_limited(self, similar: str) -> bool:
        since = self.now - RATE_WINDOW
        sent = sum(1 for rule, at in self.recent if rule == similar and utc_naive(at) > since)
        return sent >= self.routing.max_per_hour

    def send_firing(self, key: str, alerts: tuple[AlertSummary, ...], day: str, keep: frozenset = frozenset()) -> None:  # fmt: skip
        """A group message (first, update or repeat), unless the hourly limit holds it back."""
        similar = similar_key(alerts, key)
        if self.rate_limited(similar):
            self.suppressed.setdefault(similar, []).append((key, alerts))
            return
        firing = [a for a in alerts if a.state == "firing"]
        severity = top_severity(firing or alerts)
        n = Notification(
            identity=identity("alert", key, alerts, day),
            kind="alert",
            channel=channel_for(self.routing, severity),
            severity=severity,
            title=title("alert", alerts, key),
            group_key=key,
            alerts=alerts,
            mention=self.routing.oncall_group if severity == "critical" else "",
            created_at=self.stamp(),
        )
        if not self.emit(n):
            return
        self.recent.append((similar, self.now))
        self._fired(key, similar, severity, {a.alert_key for a in firing} | keep, day, n.identity, False)

    def _fired(self, key, rule, severity, members, day, ident, suppressed) -> None:
        old = self.groups.get(key)
        episode = old is not None and old.state == "firing"
        self.set_group(
            GroupState(
                group_key=key,
                rule=rule,
                severity=severity,
                state="firing",
                members=tuple(sorted(members)),
                usage_date=day,
                first_identity=old.first_identity if episode else ident,
                last_identity=ident,
                first_notified_at=old.first_notified_at if episode else self.now,
                last_notified_at=self.now,
                escalated=old.escalated if episode else False,
                suppressed=suppressed,
            )
        )
        self.plan.release(key)

    def resolve(self, group: GroupState, gone: list[AlertSummary], day: str) -> None:
        """The group's last members resolved: edit its last firing message (or reply to a summary)."""
        sends = [self.alerting.rule(a.rule).send_resolved for a in gone if self.alerting.has_rule(a.rule)]
        if any(sends):
            alerts = tuple(gone)
            n = Notification(
                identity=identity("resolved", group.group_key, alerts, day),
                kind="resolved",
                channel=channel_for(self.routing, group.severity),
                severity=group.severity,
                title=title("resolved", alerts, group.group_key),
                group_key=group.group_key,
                alerts=alerts,
                edit_of="" if group.suppressed else group.last_identity,
                thread_of=group.last_identity if group.suppressed else "",
                created_at=self.stamp(),
            )
            if not self.emit(n):
                return
        self.set_group(replace(group, state="resolved", members=(), usage_date=day))
        self.plan.release(group.group_key)

    def flush_suppressed(self, day: str) -> None:
        """One summary per rule of what the hourly limit held back."""
        for similar, items in sorted(self.suppressed.items()):
            alerts = tuple(a for _, group_alerts in items for a in group_alerts)
            severity = top_severity(alerts)
            subjects = ", ".join(sorted({a.subject for a in alerts}))
            n = Notification(
                identity=identity("suppressed", similar, alerts, day),
                kind="suppressed",
                channel=channel_for(self.routing, severity),
                severity=severity,
                title=f"{similar}: {len(items)} more notifications held back",
                group_key=similar,
                alerts=alerts,
                text=f"At most {self.routing.max_per_hour} {similar} notifications per hour: {len(items)} "
                f"held back ({len(alerts)} alerts): {subjects}",
                mention=self.routing.oncall_group if severity == "critical" else "",
                created_at=self.stamp(),
            )
            self.plan.count("suppressed", len(items))
            if self.emit(n):
                for key, group_alerts in items:
                    members = {a.alert_key for a in group_alerts if a.state == "firing"}
                    self._fired(key, similar, top_severity(group_alerts), members, day, n.identity, True)
        self.suppressed = {}
