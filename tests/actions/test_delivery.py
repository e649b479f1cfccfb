"""Delivering signed webhooks to a strict receiver on 127.0.0.1: what each answer does, what is logged,
and that every request the receiver got passed the reference verifier."""

from __future__ import annotations

import json
import random
import urllib.request

import pytest
import sqlalchemy as sa

from bucketlens.actions.delivery import deliver_actions
from bucketlens.actions.model import lift_id
from bucketlens.actions.signing import parse_secret, signed_headers
from bucketlens.actions.webhooks import HttpWebhookSender, PreviewWebhookSender
from bucketlens.alerts.alert_db import notifications
from bucketlens.alerts.notification import Notification
from tests.actions.conftest import CHANNELS, SECRET, START, alert, section
from tests.actions.receiver import Fault

AUTO = section(
    max_data_age="30d", max_attempts=4,
    policies=[{"rule": "rapid_upload", "action": "block_uploads", "mode": "auto", "duration": "24h"}],
)  # fmt: skip
META = "#storage-critical"


def sender(receiver, timeout: float = 1.0) -> HttpWebhookSender:
    return HttpWebhookSender(receiver.url, parse_secret(SECRET), receiver.url, timeout=timeout)


def queue(store, users=("1042",)) -> list[str]:
    store.outbox.max_attempts = AUTO.max_attempts  # what the resource's store(section) sets
    plan, _ = store.plan([alert(user=u) for u in users], AUTO, CHANNELS, START)
    return [r.request_id for r in plan.requests]


def drain(store, receiver, clock, **kw):
    return deliver_actions(
        store, sender(receiver), now=clock(), meta_channel=META, rng=random.Random(1), **kw
    )


def metas(store) -> list[Notification]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(notifications.c.payload).where(notifications.c.kind == "meta")
        ).scalars()
        return [Notification.from_json(p) for p in rows]


def test_a_delivered_webhook_is_logged_with_its_status_and_id_and_the_lift_follows(store, receiver, clock):
    (rid,) = queue(store)
    report = drain(store, receiver, clock)
    assert (report.sent, report.waiting) == (1, 0)  # the lift is not due for 24 h
    assert receiver.state.applied[rid]["data"]["action"] == "block_uploads"
    sent = [e for e in store.log_of(rid) if e.event == "sent"]
    assert [(e.status_code, e.webhook_id) for e in sent] == [(200, rid)]
    clock.advance(hours=24)
    assert drain(store, receiver, clock).sent == 1
    lifted = receiver.state.applied[lift_id(rid)]
    assert (lifted["type"], lifted["data"]["lift_reason"]) == ("bucketlens.action.lifted", "duration")
    assert receiver.state.rejected == [] and receiver.state.redelivered == {}


def test_429_waits_for_retry_after_and_is_not_a_failed_attempt(store, receiver, clock):
    (rid,) = queue(store)
    receiver.state.fault_fn = lambda wid, n: Fault("429", retry_after=120) if n <= 5 else None
    for _ in range(5):
        assert drain(store, receiver, clock).retried == 1
        row = store.outbox.get(rid)
        assert (row.attempts, row.last_status) == (0, 429)  # five 429s, max_attempts 4: still alive
        assert drain(store, receiver, clock).sent == 0  # not due before Retry-After
        clock.advance(seconds=120)
    assert drain(store, receiver, clock).sent == 1
    assert [e.event for e in store.log_of(rid)].count("rate_limited") == 5


def test_410_disables_the_endpoint_with_one_meta_alert_until_an_operator_enables_it(store, receiver, clock):
    rids = queue(store, users=("1", "2", "3"))
    receiver.state.fault_fn = lambda wid, n: Fault("410") if wid == rids[0] and n == 1 else None
    report = drain(store, receiver, clock)
    assert (report.dead, report.sent, report.disabled_endpoints) == (3, 0, [receiver.url])
    assert len(receiver.state.applied) == 0 and sum(receiver.state.arrivals.values()) == 1  # one call only
    (meta,) = metas(store)
    assert meta.severity == "critical" and "answered 410 Gone" in meta.text and meta.channel == META
    assert store.enable_endpoints() == [receiver.url]
    assert store.outbox.retry_dead(now=clock()) == 3
    clock.advance(seconds=1)  # a resend in the same second would be byte for byte the refused request
    assert drain(store, receiver, clock).sent == 3
    assert set(receiver.state.applied) == set(rids) and len(metas(store)) == 1


def test_a_webhook_failing_every_time_dies_after_max_attempts_with_a_meta_alert(store, receiver, clock):
    (rid,) = queue(store)
    receiver.state.fault_fn = lambda wid, n: Fault("500")
    for _ in range(10):
        drain(store, receiver, clock)
        clock.advance(hours=7)  # past the longest backoff
    row = store.outbox.get(rid)
    assert (row.state, row.attempts, row.last_status) == ("dead", 4, 500)
    assert receiver.state.arrivals[rid] == 4
    (meta,) = metas(store)
    assert meta.identity == f"dead:{rid}" and "given up after 4 attempts: HTTP 500" in meta.text
    assert store.outbox.get(lift_id(rid)).state == "pending"  # the lift waits for its request
    receiver.state.fault_fn = None
    store.outbox.retry_dead(now=clock())
    assert drain(store, receiver, clock).sent == 2  # the request, then its (overdue) lift in the same drain


def test_a_slow_answer_is_sent_again_under_the_same_id_and_applied_once(store, receiver, clock):
    """The receiver applies the webhook but answers after the client gave up (0.3 s): the retry carries the
    same webhook-id, a new timestamp and signature; the receiver acknowledges it without applying it again."""
    (rid,) = queue(store)
    receiver.state.fault_fn = lambda wid, n: Fault("slow_after", delay=1.0) if n == 1 else None
    store.outbox.max_attempts = 8
    assert deliver_actions(store, sender(receiver, 0.3), now=clock(), rng=random.Random(1)).retried == 1
    assert store.outbox.get(rid).uncertain_since is not None
    clock.advance(minutes=1)
    assert deliver_actions(store, sender(receiver, 0.3), now=clock()).sent == 1
    assert (receiver.state.arrivals[rid], receiver.state.redelivered[rid], len(receiver.state.applied)) == (
        2,
        1,
        1,
    )


def test_the_receiver_refuses_replays_and_skewed_or_forged_requests(receiver, clock):
    """What the verifying side does with requests bucketlens never sends: the same request again, one
    signed 10 minutes ago, and one signed with another secret."""
    body = json.dumps({"type": "bucketlens.action.requested", "data": {"request_id": "act_x"}})

    def post(headers) -> int:
        request = urllib.request.Request(receiver.url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                return answer.status
        except urllib.error.HTTPError as err:
            return err.code

    now = int(clock.epoch())
    good = signed_headers(parse_secret(SECRET), "act_x", now, body)
    assert post(good) == 200
    assert post(good) == 400  # replayed byte for byte
    assert post(signed_headers(parse_secret(SECRET), "act_x", now - 600, body)) == 401  # skewed
    forged = signed_headers(parse_secret("whsec_" + "QUJD" * 8), "act_x", now, body)
    assert post(forged) == 401
    assert [why for _, why in receiver.state.rejected] == [
        "replayed request", "Message timestamp too old", "No matching signature found",
    ]  # fmt: skip


def test_without_an_endpoint_the_signed_requests_go_to_the_preview_file(store, tmp_path, clock):
    (rid,) = queue(store)
    preview = PreviewWebhookSender(tmp_path / "actions-preview.jsonl", parse_secret(SECRET))
    assert deliver_actions(store, preview, now=clock()).sent == 1
    (line,) = (tmp_path / "actions-preview.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["headers"]["webhook-id"] == rid and record["body"]["data"]["user_id"] == "1042"
    assert SECRET[6:] not in line  # the signature, never the secret


@pytest.mark.parametrize("status", ["500", "drop"])
def test_a_failed_attempt_is_retried_with_backoff_under_the_same_id(status, store, receiver, clock):
    """A 500 (the receiver said no) and a dropped connection (no answer: it may have arrived) are failed
    attempts: due again after the backoff (2.5-5 s for the first), same webhook-id."""
    (rid,) = queue(store)
    receiver.state.fault_fn = lambda wid, n: Fault(status) if n == 1 else None
    store.outbox.max_attempts = 8
    assert drain(store, receiver, clock).retried == 1
    row = store.outbox.get(rid)
    wait = (row.next_attempt_at - clock().replace(tzinfo=None)).total_seconds()
    assert (row.attempts, 2.5 <= wait <= 5.0) == (1, True)
    assert (row.uncertain_since is not None) == (status == "drop")
    clock.advance(seconds=5)
    assert drain(store, receiver, clock).sent == 1
    assert list(receiver.state.applied) == [rid] and receiver.state.arrivals[rid] == 2
