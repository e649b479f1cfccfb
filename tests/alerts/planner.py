"""One planning turn as ``alert_events`` takes it, slowed down between its snapshot and its write (where
a second planner used to slip in). Light to import: spawned processes run it too."""

from __future__ import annotations

import copy
import dataclasses
import time
from datetime import date, datetime

from bucketlens.alerts.notify_log import NotifyLog
from bucketlens.alerts.policy import plan_notifications
from bucketlens.alerts.rules import Alerting, load_alerting
from bucketlens.alerts.state import AlertRow, alert_key
from bucketlens.anomaly.rules import load_rules

UI = "http://ui.test"


def alerting(**routing) -> Alerting:
    """The shipped rules with routing overrides (``group_by=["user_id"]``)."""
    base = load_rules()
    rules = copy.deepcopy(base.alerting)
    rules["routing"].update(routing)
    return load_alerting(dataclasses.replace(base, alerting=rules))


def alert_row(rule: str, user: str, day: date) -> AlertRow:
    """A firing warning about ``user`` on ``day``."""
    labels = {"user_id": user}
    return AlertRow(
        usage_date=day, alert_key=alert_key(rule, labels), rule=rule, severity="warning", subject=f"user {user}",
        state="firing", first_seen=day, last_seen=day, value=2.0, threshold=1.0, labels=labels,
        reason=f"{user} did it", evidence="{}", evidence_query="SELECT 1", asset="abuse_flags",
    )  # fmt: skip


def plan_turn(
    url: str,
    alerts: list[tuple[str, str, date]],
    now: datetime,
    delay: float,
    barrier=None,
    group_by: tuple[str, ...] = ("rule",),
) -> int:
    """Plan ``alerts`` (rule, user, day) in one locked turn, sleeping ``delay`` s between snapshot and
    write; returns how many notifications the outbox accepted."""
    rules = alerting(group_by=list(group_by))
    rows = [alert_row(*a) for a in alerts]
    log = NotifyLog(url)

    def slow(snapshot):
        plan = plan_notifications(rows, now, rules, snapshot, [], UI)
        time.sleep(delay)
        return plan

    if barrier is not None:
        barrier.wait()
    try:
        with log.planning() as turn:
            turn.run(slow, now)
    finally:
        log.dispose()
    return turn.enqueued
