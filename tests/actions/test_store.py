"""Approve, reject, expire and lift: each a conditional change in one transaction with its audit entry,
its queued webhooks and its Slack edit — on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bucketlens.actions.model import lift_id
from bucketlens.actions.store import ActionError, ActionStore
from bucketlens.alerts.alert_db import notifications
from bucketlens.alerts.notification import Notification
from tests.actions.conftest import CHANNELS, START, alert, section

APPROVE = section(
    max_data_age="30d", approval_timeout="24h",
    policies=[{"rule": "failed_access_storm", "action": "throttle", "mode": "approve", "duration": "24h"}],
)  # fmt: skip


@pytest.fixture
def pg_store(alert_db_url):
    s = ActionStore(alert_db_url)
    yield s
    s.dispose()


def proposed(store: ActionStore, user: str = "1291"):
    plan, written = store.plan([alert(user=user, rule="failed_access_storm")], APPROVE, CHANNELS, START)
    assert written["requests"] == 1
    return plan.requests[0]


def slack_messages(store: ActionStore) -> list[Notification]:
    with store.engine.connect() as conn:
        payloads = (
            conn.execute(sa.select(notifications.c.payload).order_by(notifications.c.id)).scalars().all()
        )
    return [Notification.from_json(p) for p in payloads]


def test_approve_queues_the_webhook_and_its_lift_and_edits_the_proposal(pg_store):
    r = proposed(pg_store)
    assert pg_store.outbox.counts()["pending"] == 0  # approve mode: nothing before the decision
    at = START + timedelta(hours=2)
    done = pg_store.decide(r.request_id, "approve", "alice", "403s from a known botnet", at)
    assert (done.outcome, done.queued) == ("approved", 2)
    got = pg_store.get(r.request_id)
    assert (got.state, got.decided_by, got.decision_reason) == (
        "requested",
        "alice",
        "403s from a known botnet",
    )
    assert got.expires_at == (at + timedelta(hours=24)).replace(
        tzinfo=None
    )  # the duration runs from the approval
    lift = pg_store.outbox.get(lift_id(r.request_id))
    assert (lift.after_identity, lift.next_attempt_at) == (r.request_id, got.expires_at)
    assert [(e.event, e.actor) for e in pg_store.log_of(r.request_id)] == [
        ("decided", "policy"),
        ("approved", "alice"),
    ]
    proposal, edit = slack_messages(pg_store)
    assert edit.edit_of == proposal.identity and edit.text.startswith(
        "Approved by alice at 2026-11-12T11:00:00Z"
    )


def test_reject_sends_nothing_and_a_decided_request_cannot_be_decided_again(pg_store):
    r = proposed(pg_store)
    pg_store.decide(r.request_id, "reject", "bob", "false positive: a pen test", START)
    assert pg_store.outbox.counts()["pending"] == 0
    with pytest.raises(ActionError, match=f"{r.request_id} is rejected by bob at 2026-11-12 09:00 UTC"):
        pg_store.decide(r.request_id, "approve", "alice", "changed my mind", START)
    with pytest.raises(ActionError, match="no action request 'act_nope'"):
        pg_store.decide("act_nope", "approve", "alice", "x", START)
    with pytest.raises(ActionError, match="needs a reason"):
        pg_store.decide(r.request_id, "approve", "alice", "  ", START)


def test_an_undecided_request_expires_and_cannot_be_approved_afterwards(pg_store):
    r = proposed(pg_store)
    assert pg_store.expire_overdue(START + timedelta(hours=23)) == []
    (expired,) = pg_store.expire_overdue(START + timedelta(hours=24))
    assert (expired.request_id, pg_store.get(r.request_id).state) == (r.request_id, "expired")
    with pytest.raises(ActionError, match="is expired by bucketlens"):
        pg_store.decide(r.request_id, "approve", "alice", "too late", START + timedelta(hours=25))
    assert pg_store.outbox.counts()["pending"] == 0
    assert slack_messages(pg_store)[-1].title.startswith("Expired unapproved: throttle")


def test_approving_after_the_deadline_expires_it_first(pg_store):
    """The sensor has not run yet: the approval itself finds the deadline passed and says so."""
    r = proposed(pg_store)
    with pytest.raises(
        ActionError, match="expired at 2026-11-13 09:00 UTC without a decision; nothing was sent"
    ):
        pg_store.decide(r.request_id, "approve", "alice", "late", START + timedelta(hours=30))
    assert pg_store.get(r.request_id).state == "expired"


def test_two_approvers_at_once_approve_once(pg_store, alert_db_url):
    r = proposed(pg_store)
    outcomes, barrier = [], threading.Barrier(2)

    def approve(name: str) -> None:
        own = ActionStore(alert_db_url)
        barrier.wait()
        try:
            outcomes.append(own.decide(r.request_id, "approve", name, "yes", START).outcome)
        except ActionError as exc:
            outcomes.append(str(exc).split(" is ")[1].split(" ")[0])
        finally:
            own.dispose()

    threads = [threading.Thread(target=approve, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["approved", "requested"]  # the second found it already requested
    assert pg_store.outbox.counts()["pending"] == 2  # one webhook and one lift, not two of each


def test_replanning_the_same_alerts_decides_nothing_new(store):
    plan, written = store.plan([alert(rule="failed_access_storm")], APPROVE, CHANNELS, START)
    again, rewritten = store.plan(
        [alert(rule="failed_access_storm")], APPROVE, CHANNELS, START + timedelta(hours=1)
    )
    assert (written["requests"], rewritten["requests"], rewritten["notices"]) == (1, 0, 0)
    assert len(store.log_entries()) == 1


def test_an_operator_lift_is_sent_now(store):
    auto = section(max_data_age="30d", policies=[{"rule": "rapid_upload", "action": "block_uploads", "mode": "auto", "duration": "7d"}])  # fmt: skip
    plan, _ = store.plan([alert()], auto, CHANNELS, START)
    (r,) = plan.requests
    assert store.lift(r.request_id, "carol", "user explained: a migration", START + timedelta(hours=1))
    lift = store.outbox.get(lift_id(r.request_id))
    assert lift.next_attempt_at == (START + timedelta(hours=1)).replace(tzinfo=None)
    assert '"lift_reason": "operator"' in lift.payload
    with pytest.raises(ActionError, match="needs a reason"):
        store.lift(r.request_id, "carol", "", START)


def test_a_resolved_alert_brings_a_scheduled_lift_forward_once(store):
    """lift_on_resolve: the lift scheduled for 3 days later is due as soon as the alert resolves, its body
    saying why; planning the resolution again changes nothing."""
    policy = section(max_data_age="30d", policies=[{"rule": "rapid_upload", "action": "block_uploads", "mode": "auto",
                                                      "duration": "3d", "lift_on_resolve": True}])  # fmt: skip
    plan, _ = store.plan([alert()], policy, CHANNELS, START)
    (r,) = plan.requests
    assert store.outbox.get(lift_id(r.request_id)).next_attempt_at == (START + timedelta(days=3)).replace(
        tzinfo=None
    )
    resolved = alert(day=START.date(), first_seen=alert().first_seen, state="resolved")
    later = START + timedelta(hours=20)
    _, written = store.plan([resolved], policy, CHANNELS, later)
    lift = store.outbox.get(lift_id(r.request_id))
    assert (written["lifts"], lift.next_attempt_at) == (1, later.replace(tzinfo=None))
    assert '"lift_reason": "resolved"' in lift.payload
    _, again = store.plan([resolved], policy, CHANNELS, later + timedelta(hours=1))
    assert (
        again["lifts"] == 0
        and store.outbox.get(lift_id(r.request_id)).next_attempt_at == lift.next_attempt_at
    )
    assert [e.event for e in store.log_of(r.request_id)] == ["decided", "lift_scheduled"]
