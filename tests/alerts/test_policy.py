"""The notification policy replayed with explicit clocks: grouping, intervals, the hourly limit,
inhibition, routing, resolution, escalation, digests and reruns (Alertmanager's semantics, design §8)."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from bucketlens.alerts.notify_log import LogSnapshot, NotifyLog
from bucketlens.alerts.policy import flush_due, plan_escalations, plan_notifications
from bucketlens.alerts.rules import load_alerting
from bucketlens.alerts.state import AlertRow, alert_key
from bucketlens.anomaly.rules import load_rules

DAY = date(2026, 10, 1)
NOW = datetime(2026, 10, 2, 8, 0, tzinfo=UTC)
UI = "http://ui.test"


def make_alerting(**routing):
    base = load_rules()
    alerting = copy.deepcopy(base.alerting)
    alerting["routing"].update({"oncall_group": "S0NCALL", **routing})
    return load_alerting(dataclasses.replace(base, alerting=alerting))


@pytest.fixture(scope="module")
def alerting():
    return make_alerting(escalate_channel="#storage-escalations", escalate_group="S0MANAGERS")


@pytest.fixture
def log(alert_db_url):
    """The notify log on SQLite and on the real PostgreSQL server: every policy replay runs on both."""
    notify_log = NotifyLog(alert_db_url)
    yield notify_log
    notify_log.dispose()


def row(rule, user, severity="warning", state="firing", day=DAY) -> AlertRow:
    labels = {"user_id": user}
    return AlertRow(
        usage_date=day, alert_key=alert_key(rule, labels), rule=rule, severity=severity, subject=f"user {user}",
        state=state, first_seen=day, last_seen=day, value=2.0, threshold=1.0, labels=labels, reason=f"{user} did it",
        evidence='{"bytes": 5}', evidence_query="SELECT 1", asset="abuse_flags",
    )  # fmt: skip


def step(log, alerting, alerts, now, silences=()):
    """Plan, then record (as the asset does after enqueueing); returns the plan."""
    plan = plan_notifications(alerts, now, alerting, log.snapshot(now), list(silences), UI)
    log.apply(plan, now)
    return plan


def kinds(plan):
    return [(n.kind, n.title) for n in plan.notifications]


def test_alerts_of_one_rule_go_out_as_one_message_listing_them(log, alerting):
    plan = step(log, alerting, [row("daily_upload_volume", u) for u in ("u1", "u2", "u3")], NOW)
    (n,) = plan.notifications
    assert (n.kind, n.channel, n.severity, n.mention) == ("alert", "#storage-alerts", "warning", "")
    assert n.title == "daily_upload_volume: 3 alerts"
    assert sorted(a.subject for a in n.alerts) == ["user u1", "user u2", "user u3"]
    assert n.alerts[0].link == "http://ui.test/assets/abuse_flags?partition=2026-10-01"
    assert n.alerts[0].evidence == ({"bytes": "5"},)


def test_severity_routes_the_channel_and_only_critical_mentions_on_call(log, alerting):
    alerts = [row("rapid_upload", "u1", "critical"), row("quota_80_percent", "u2", "info")]
    by_rule = {n.alerts[0].rule: n for n in step(log, alerting, alerts, NOW).notifications}
    assert (by_rule["rapid_upload"].channel, by_rule["rapid_upload"].mention) == (
        "#storage-critical",
        "S0NCALL",
    )
    assert (by_rule["quota_80_percent"].channel, by_rule["quota_80_percent"].mention) == ("#storage-info", "")


def test_new_members_of_a_notified_group_wait_for_the_group_interval_then_one_update(log, alerting):
    step(log, alerting, [row("large_object", "u1")], NOW)
    later = NOW + timedelta(minutes=2)
    day2 = [row("large_object", u, day=DAY + timedelta(days=1)) for u in ("u1", "u2", "u3")]
    plan = step(log, alerting, day2, later)
    assert plan.notifications == [] and plan.counts["held_back"] == 2
    assert flush_due(NOW + timedelta(minutes=4), alerting, log.snapshot(later), []).notifications == []
    tick = NOW + timedelta(minutes=5)
    flushed = flush_due(tick, alerting, log.snapshot(tick), [])
    (update,) = flushed.notifications
    assert update.title == "large_object: 3 alerts" and update.alerts[0].usage_date == "2026-10-02"
    log.apply(flushed, tick)
    assert flush_due(tick, alerting, log.snapshot(tick), []).notifications == []


def test_a_group_still_firing_is_repeated_only_after_the_repeat_interval(log, alerting):
    assert len(step(log, alerting, [row("large_object", "u1")], NOW).notifications) == 1
    day2 = [row("large_object", "u1", day=DAY + timedelta(days=1))]
    assert step(log, alerting, day2, NOW + timedelta(hours=3, minutes=59)).notifications == []
    day3 = [row("large_object", "u1", day=DAY + timedelta(days=2))]
    (repeat,) = step(log, alerting, day3, NOW + timedelta(hours=4)).notifications
    assert repeat.kind == "alert" and repeat.alerts[0].usage_date == "2026-10-03"


def test_seven_similar_in_an_hour_send_five_and_one_summary_naming_the_other_two(log):
    per_user = make_alerting(group_by=["rule", "subject"])
    users = [f"u{i}" for i in range(1, 8)]
    plan = step(log, per_user, [row("sharing_abuse", u) for u in users], NOW)
    alerts = [n for n in plan.notifications if n.kind == "alert"]
    (summary,) = [n for n in plan.notifications if n.kind == "suppressed"]
    assert len(alerts) == 5 and len(plan.notifications) == 6
    assert (
        summary.text
        == "At most 5 sharing_abuse notifications per hour: 2 held back (2 alerts): user u6, user u7"
    )
    assert plan.counts["suppressed"] == 2
    # an hour later the limit has room again: a new user's alert goes out on its own
    plan = step(
        log, per_user, [row("sharing_abuse", "u8", day=DAY + timedelta(days=1))], NOW + timedelta(hours=1)
    )
    assert kinds(plan) == [("alert", "sharing_abuse: user u8")]


def test_a_critical_inhibits_warnings_and_info_about_the_same_subject(log, alerting):
    alerts = [
        row("over_plan_limit", "u1", "critical"),
        row("quota_80_percent", "u1", "info"),
        row("quota_80_percent", "u2", "info"),
    ]
    plan = step(log, alerting, alerts, NOW)
    assert sorted(kinds(plan)) == [
        ("alert", "over_plan_limit: user u1"),
        ("alert", "quota_80_percent: user u2"),
    ]
    assert plan.counts["inhibited"] == 1


def test_resolution_edits_the_groups_last_firing_message(log, alerting):
    (first,) = step(log, alerting, [row("rapid_upload", "u1", "critical")], NOW).notifications
    day2 = [row("rapid_upload", "u1", "critical", state="resolved", day=DAY + timedelta(days=1))]
    (resolved,) = step(log, alerting, day2, NOW + timedelta(hours=1)).notifications
    assert (resolved.kind, resolved.edit_of, resolved.channel) == (
        "resolved",
        first.identity,
        "#storage-critical",
    )
    assert resolved.alerts[0].state == "resolved" and resolved.mention == ""


def test_no_data_keeps_a_group_firing_without_a_message(log, alerting):
    step(log, alerting, [row("rapid_upload", "u1", "critical")], NOW)
    day2 = [row("rapid_upload", "u1", "critical", state="nodata", day=DAY + timedelta(days=1))]
    assert step(log, alerting, day2, NOW + timedelta(hours=1)).notifications == []
    assert log.snapshot(NOW).groups["rule=rapid_upload"].state == "firing"


def test_a_critical_still_firing_past_escalate_after_escalates_once(log, alerting):
    (first,) = step(log, alerting, [row("failed_access_storm", "u1", "critical")], NOW).notifications
    assert (
        plan_escalations(NOW + timedelta(hours=1, minutes=59), alerting, log.snapshot(NOW)).notifications
        == []
    )
    at = NOW + timedelta(hours=2)
    plan = plan_escalations(at, alerting, log.snapshot(at))
    (esc,) = plan.notifications
    assert (esc.kind, esc.channel, esc.mention, esc.thread_of) == (
        "escalation",
        "#storage-escalations",
        "S0MANAGERS",
        first.identity,
    )
    log.apply(plan, at)
    assert plan_escalations(at + timedelta(hours=1), alerting, log.snapshot(at)).notifications == []


def test_alerts_about_old_data_go_out_as_one_digest(log, alerting):
    old = [row("large_object", f"u{i}", day=date(2026, 9, d)) for i, d in ((1, 1), (2, 10), (3, 15))]
    recent = [row("large_object", "u9", day=date(2026, 9, 30))]
    plan = step(log, alerting, old + recent, NOW)
    assert [n.kind for n in plan.notifications] == ["digest", "alert"]
    digest = plan.notifications[0]
    assert (digest.channel, digest.mention, plan.counts["digested"]) == ("#storage-info", "", 3)
    assert digest.text == "large_object: 3 alerts (user u1, user u2, user u3)"


def test_a_rerun_of_a_day_plans_no_new_identity_even_after_the_repeat_interval(log, alerting):
    alerts = [row("rapid_upload", "u1", "critical"), row("large_object", "u2")]
    first = {n.identity for n in step(log, alerting, alerts, NOW).notifications}
    assert len(first) == 2
    assert step(log, alerting, alerts, NOW).notifications == []
    assert step(log, alerting, alerts, NOW + timedelta(hours=5)).notifications == []
    # and the plan itself is deterministic: a fresh log gives the same identities
    again = plan_notifications(alerts, NOW + timedelta(minutes=1), alerting, LogSnapshot(), [], UI)
    assert {n.identity for n in again.notifications} == first
