"""Which notifications the day's alerts call for: Alertmanager's semantics, decided in pure Python.

Alerts are muted by silences and inhibition, grouped by ``routing.group_by`` (one message per group),
routed by severity (critical mentions on-call), and throttled: a notified group's new members wait for
``group_interval``, a group still firing is repeated after ``repeat_interval``, and at most
``max_per_hour`` similar (same rule) messages go out per hour — the rest become one summary. A group
that resolves edits its last firing message; a critical still firing after ``escalate_after`` escalates.
Alerts about data older than ``max_alert_age`` (a backfill) go out as one digest per run, paging nobody.

Everything is decided from the inputs (``now`` included), so a test can replay any sequence, and a rerun
of a partition plans the identities it planned before — which the outbox refuses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta

from bucketlens.alerts.alert_db import utc_naive
from bucketlens.alerts.grouping import (
    channel_for,
    group_key,
    identity,
    inhibited,
    summarize,
)
from bucketlens.alerts.notification import AlertSummary, Notification
from bucketlens.alerts.notify_log import HeldAlert, LogSnapshot, Plan
from bucketlens.alerts.policy_run import PolicyRun
from bucketlens.alerts.rules import Alerting
from bucketlens.alerts.silences import Silence
from bucketlens.alerts.state import AlertRow

DIGEST_ALERTS = 20


def _plan_group(run: PolicyRun, key: str, firing: list, resolved: list, nodata: set[str], day: str) -> None:
    group = run.groups.get(key)
    if group is not None and group.usage_date > day:
        return  # a rerun of an older day: the newer day has spoken for this group
    if group is None or group.state == "resolved":
        if firing:
            run.send_firing(key, tuple(firing), day)
        return
    members = set(group.members)
    kept = frozenset(nodata & members)  # NoData is not a resolution: those members stay
    active = {a.alert_key for a in firing} | kept
    gone = [a for a in resolved if a.alert_key in members]
    if not active:
        if gone:
            run.resolve(group, gone, day)
        return
    if active != members:
        due = utc_naive(group.last_notified_at) + timedelta(seconds=run.routing.group_interval)
        if run.now >= due:
            run.send_firing(key, tuple(firing + gone), day, kept)
        else:
            run.plan.hold(key, [HeldAlert(key, a, due) for a in firing])
            run.plan.count("held_back", len({a.alert_key for a in firing} - members))
            run.set_group(replace(group, usage_date=day))
        return
    since = run.now - utc_naive(group.last_notified_at)
    if firing and since >= timedelta(seconds=run.routing.repeat_interval):
        run.send_firing(key, tuple(firing), day, kept)


def _plan_day(run: PolicyRun, alerts: list[AlertRow], day: date, ui_url: str) -> None:
    summaries = [summarize(a, ui_url) for a in alerts if a.state in ("firing", "resolved", "nodata")]
    nodata = {a.alert_key for a in alerts if a.state == "nodata"}
    firing = [s for s in summaries if s.state == "firing" and s.alert_key not in nodata]
    silenced = {s.alert_key for s in firing if run.muted(s)}
    muted = silenced | inhibited(firing, run.routing.inhibit)
    run.plan.count("silenced", len(silenced))
    run.plan.count("inhibited", len(muted - silenced))
    buckets: dict[str, tuple[list, list, set]] = defaultdict(lambda: ([], [], set()))
    for s in summaries:
        firing_list, resolved_list, nodata_keys = buckets[group_key(s, run.routing.group_by)]
        if s.alert_key in nodata:
            nodata_keys.add(s.alert_key)
        elif s.state == "resolved":
            resolved_list.append(s)
        elif s.alert_key not in muted:
            firing_list.append(s)
    for key in sorted(buckets):
        _plan_group(run, key, *buckets[key], day.isoformat())
    run.flush_suppressed(day.isoformat())


def _digest(run: PolicyRun, alerts: list[AlertRow], ui_url: str) -> None:
    old = [summarize(a, ui_url) for a in alerts if a.state == "firing"]
    old = [a for a in old if not run.muted(a)]
    if not old:
        return
    by_rule: dict[str, list[AlertSummary]] = defaultdict(list)
    for a in old:
        by_rule[a.rule].append(a)
    days = sorted({a.usage_date for a in old})
    lines = [
        f"{rule}: {len(items)} alerts ({', '.join(sorted({a.subject for a in items})[:10])})"
        for rule, items in sorted(by_rule.items())
    ]
    age = run.routing.max_alert_age // 86400
    n = Notification(
        identity=identity("digest", "digest", old, f"{days[0]}..{days[-1]}"),
        kind="digest",
        channel=channel_for(run.routing, "info"),
        severity="info",
        title=f"Digest: {len(old)} alerts about {days[0]} .. {days[-1]} (data older than {age} days)",
        group_key="digest",
        alerts=tuple(old[:DIGEST_ALERTS]),
        text="\n".join(lines),
        created_at=run.stamp(),
    )
    run.emit(n)
    run.plan.count("digested", len(old))


def plan_notifications(
    day_alerts: list[AlertRow],
    now: datetime,
    alerting: Alerting,
    log: LogSnapshot,
    silences: list[Silence],
    ui_url: str,
) -> Plan:
    """Notifications for the stored alerts of one or more days (a backfill window), oldest day first."""
    run = PolicyRun(utc_naive(now), alerting, log, silences)
    cutoff = (run.now - timedelta(seconds=alerting.routing.max_alert_age)).date()
    _digest(run, [a for a in day_alerts if a.usage_date < cutoff], ui_url)
    recent = [a for a in day_alerts if a.usage_date >= cutoff]
    for day in sorted({a.usage_date for a in recent}):
        _plan_day(run, [a for a in recent if a.usage_date == day], day, ui_url)
    return run.plan


def flush_due(now: datetime, alerting: Alerting, log: LogSnapshot, silences: list[Silence]) -> Plan:
    """The delivery tick: one update per group whose held members' group_interval has passed."""
    run = PolicyRun(utc_naive(now), alerting, log, silences)
    due: dict[str, list[AlertSummary]] = defaultdict(list)
    for h in log.held:
        if utc_naive(h.due_at) <= run.now:
            due[h.group_key].append(h.summary)
    for key, alerts in sorted(due.items()):
        run.plan.release(key)
        group = run.groups.get(key)
        live = [a for a in alerts if not run.muted(a)]
        if group is None or group.state != "firing" or not live:
            continue
        run.send_firing(key, tuple(live), max(a.usage_date for a in live))
        run.flush_suppressed(max(a.usage_date for a in live))
    return run.plan


def plan_escalations(now: datetime, alerting: Alerting, log: LogSnapshot) -> Plan:
    """Critical groups still firing ``escalate_after`` past their first message: one escalation each."""
    run = PolicyRun(utc_naive(now), alerting, log, [])
    r = alerting.routing
    for key, group in sorted(run.groups.items()):
        age = run.now - utc_naive(group.first_notified_at)
        if group.state != "firing" or group.severity != "critical" or group.escalated:
            continue
        if age < timedelta(seconds=r.escalate_after):
            continue
        n = Notification(
            identity=identity("escalation", key, (), group.first_identity),
            kind="escalation",
            channel=r.escalate_channel or channel_for(r, "critical"),
            severity="critical",
            title=f"Escalation: {group.rule} still firing after {int(age.total_seconds() // 60)} minutes",
            group_key=key,
            text=f"{len(group.members)} critical alert(s) of {key} firing since "
            f"{utc_naive(group.first_notified_at):%Y-%m-%d %H:%M} UTC (data of {group.usage_date}).",
            mention=r.escalate_group or r.oncall_group,
            thread_of=group.first_identity,
            created_at=run.stamp(),
        )
        run.emit(n)
        run.set_group(replace(group, escalated=True))
    return run.plan
