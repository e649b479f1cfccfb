"""Which actions the alerts call for: one request per episode, modes, cooldown, stale data, lifts, emails."""

from __future__ import annotations

import json
from datetime import timedelta

from bucketlens.actions.model import lift_id, request_id
from bucketlens.actions.outbox import EMAIL, LIFTED, OPERATOR_ALERT, REQUESTED, USER_NOTICE, WEBHOOK
from bucketlens.actions.planner import Snapshot, plan_actions
from tests.actions.conftest import CHANNELS, DAY, START, alert, section

NOW = START.replace(tzinfo=None)


def plan(alerts, **policy_values):
    actions = section(max_data_age="30d", **policy_values)
    return plan_actions(alerts, actions, CHANNELS, Snapshot(), START)


def test_auto_queues_the_signed_request_now_and_its_lift_after_the_duration():
    p = plan(
        [alert()],
        policies=[{"rule": "rapid_upload", "action": "block_uploads", "mode": "auto", "duration": "24h"}],
    )
    (r,) = p.requests
    rid = request_id("rapid_upload", "block_uploads", "1042", "krapid_1042", DAY.isoformat())
    assert (r.request_id, r.state, r.decided_by, r.effective_at, r.expires_at) == (
        rid, "requested", "policy", NOW, NOW + timedelta(hours=24),
    )  # fmt: skip
    request, lift = p.outgoing
    assert (request.identity, request.kind, request.event_type, request.due) == (rid, WEBHOOK, REQUESTED, NOW)
    assert (lift.identity, lift.event_type, lift.due, lift.after_identity) == (
        lift_id(rid), LIFTED, NOW + timedelta(hours=24), rid,
    )  # fmt: skip
    assert json.loads(lift.payload)["data"]["lift_reason"] == "duration"
    (notice,) = p.notifications  # on-call sees that bucketlens blocked a user's uploads
    assert notice.title == "Requested: block uploads of user 1042 for 1d (rapid_upload, auto)"
    assert [(e.event, e.webhook_id) for e in p.log] == [("decided", rid)]


def test_one_request_per_episode_however_many_days_it_fires():
    """Firing on 11, 12 and 13 November is one episode (first seen the 11th): one request."""
    days = [DAY + timedelta(days=i) for i in range(3)]
    alerts = [alert(day=d, first_seen=DAY) for d in days]
    p = plan(alerts, policies=[{"rule": "rapid_upload", "action": "block_uploads", "mode": "auto"}])
    assert len(p.requests) == 1 and len(p.outgoing) == 1  # no duration: no lift


def test_approve_waits_with_a_slack_proposal_that_says_how_to_approve():
    p = plan([alert(rule="failed_access_storm")], approval_timeout="12h",
             policies=[{"rule": "failed_access_storm", "action": "throttle", "mode": "approve", "duration": "24h"}])  # fmt: skip
    (r,) = p.requests
    assert (r.state, r.approval_deadline, r.effective_at, p.outgoing) == (
        "awaiting_approval", NOW + timedelta(hours=12), None, [],
    )  # fmt: skip
    (proposal,) = p.notifications
    assert proposal.channel == "#storage-critical" and proposal.title.startswith("Approval needed: throttle")
    assert f"bucketlens actions approve {r.request_id} --reason" in proposal.text
    assert "actions_approve" in proposal.text and "expires at 2026-11-12T21:00:00Z" in proposal.text


def test_dry_run_logs_everything_and_queues_nothing():
    p = plan([alert(), alert(user="7")], policies=[{"rule": "rapid_upload", "action": "block_uploads"}])
    assert [r.state for r in p.requests] == ["dry_run", "dry_run"]  # dry_run is the default mode
    assert (p.outgoing, p.notifications) == ([], [])
    assert [e.detail for e in p.log] == ["dry_run: dry run: logged, never sent"] * 2


def test_a_new_episode_within_the_cooldown_is_skipped_and_logged():
    """Flapping: episodes starting the 11th, 13th and 20th; cooldown 7 days → the 13th is skipped."""
    alerts = [alert(day=DAY + timedelta(days=d), first_seen=DAY + timedelta(days=d)) for d in (0, 2, 9)]
    p = plan(
        alerts,
        policies=[{"rule": "rapid_upload", "action": "block_uploads", "mode": "auto", "cooldown": "7d"}],
    )
    assert [(r.episode, r.state) for r in p.requests] == [
        ("2026-11-11", "requested"), ("2026-11-13", "skipped"), ("2026-11-20", "requested"),
    ]  # fmt: skip
    assert p.requests[1].decision_reason == "cooldown 7d: the episode of 2026-11-11 was acted on"
    assert len(p.outgoing) == 2


def test_an_alert_about_old_data_is_never_acted_on():
    """A backfill of data 31 days old (max_data_age 30d) is logged as skipped."""
    old = alert(day=NOW.date() - timedelta(days=31))
    p = plan([old], policies=[{"rule": "rapid_upload", "action": "block_uploads", "mode": "auto"}])
    assert [(r.state, r.decision_reason) for r in p.requests] == [
        ("skipped", f"data of {old.usage_date} is older than max_data_age 30d"),
    ]  # fmt: skip
    assert p.outgoing == []


def test_resolving_pulls_the_lift_forward_only_for_lift_on_resolve():
    policies = [
        {"rule": "rapid_upload", "action": "block_uploads", "mode": "auto", "duration": "3d", "lift_on_resolve": True},
        {"rule": "rapid_upload", "action": "throttle", "mode": "auto", "duration": "3d"},
    ]  # fmt: skip
    first = plan([alert()], policies=policies)
    snapshot = Snapshot({r.request_id: r for r in first.requests})
    resolved = alert(day=DAY + timedelta(days=1), first_seen=DAY, state="resolved")
    p = plan_actions([resolved], section(max_data_age="30d", policies=policies), CHANNELS, snapshot, START)
    assert [(r.action, why) for r, why in p.lift_now] == [
        ("block_uploads", "the alert resolved on the data of 2026-11-12")
    ]


def test_user_notices_and_operator_emails():
    alerts = [alert(rule="quota_80_percent", severity="info"), alert(user="9", severity="critical")]
    p = plan(alerts, policies=[], email={"mode": "auto", "user_notices": {"quota_80_percent": "quota_warning"},
                                         "operators": {"critical": ["oncall@example.com"]}})  # fmt: skip
    kinds = sorted((o.kind, o.event_type, o.user_id) for o in p.outgoing)
    assert kinds == [(EMAIL, OPERATOR_ALERT, "9"), (EMAIL, USER_NOTICE, "1042")]
    notice = next(json.loads(o.payload) for o in p.outgoing if o.event_type == USER_NOTICE)
    assert (notice["notice"], notice["user_id"]) == ("quota_warning", "1042")
    again = plan(alerts + [alert(rule="quota_80_percent", severity="info", day=DAY + timedelta(days=1), first_seen=DAY)],
                 policies=[], email={"mode": "auto", "user_notices": {"quota_80_percent": "quota_warning"}})  # fmt: skip
    assert len([o for o in again.outgoing if o.event_type == USER_NOTICE]) == 1  # one per user, rule, episode
    dry = plan(alerts, policies=[], email={"user_notices": {"quota_80_percent": "quota_warning"}})
    assert (dry.outgoing, [e.event for e in dry.log]) == ([], ["email_dry_run"])
