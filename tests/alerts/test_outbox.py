"""The outbox: idempotent enqueue, atomic claims (also across threads), leases, and what it reports."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

from bucketlens.alerts.outbox import Outbox, utc_naive
from tests.alerts.conftest import START, notification


def test_enqueue_is_idempotent_by_identity(outbox):
    assert outbox.enqueue(notification("a1", title="first"), START) is True
    assert outbox.enqueue(notification("a1", title="second"), START + timedelta(hours=1)) is False

    row = outbox.get("a1")
    assert row.notification.title == "first"
    assert (row.state, row.attempts, row.created_at) == ("pending", 0, utc_naive(START))
    assert (row.kind, row.channel, row.severity) == ("alert", "alerts-warning", "warning")
    assert outbox.counts() == {"pending": 1, "sending": 0, "sent": 0, "dead": 0}


def test_a_row_is_claimed_once_and_only_when_due(outbox):
    outbox.enqueue(notification("a1"), START)
    assert outbox.claim("a1", START - timedelta(seconds=1)) is None  # not due yet

    token = outbox.claim("a1", START)
    assert token and outbox.claim("a1", START) is None
    assert outbox.get("a1").state == "sending" and outbox.pending_count() == 1


def test_concurrent_claims_on_one_sqlite_file_have_exactly_one_winner(outbox_url):
    Outbox(outbox_url).enqueue(notification("a1"), START)
    boxes = [Outbox(outbox_url) for _ in range(8)]
    barrier = threading.Barrier(len(boxes))
    tokens: list[str | None] = []

    def claim(box: Outbox) -> None:
        barrier.wait()
        tokens.append(box.claim("a1", START))

    threads = [threading.Thread(target=claim, args=(box,)) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(tokens) == 8 and sum(t is not None for t in tokens) == 1


def test_sqlite_runs_in_wal_mode(outbox, tmp_path):
    outbox.enqueue(notification("a1"), START)
    with sqlite3.connect(tmp_path / "outbox.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchall() == [("wal",)]


def test_an_expired_lease_returns_the_row_as_uncertain_since_its_claim(outbox):
    outbox.enqueue(notification("a1"), START)
    outbox.claim("a1", START)
    lease = timedelta(minutes=2)

    assert outbox.recover_expired(START + timedelta(minutes=1), lease) == 0
    assert outbox.recover_expired(START + timedelta(minutes=2), lease) == 1

    row = outbox.get("a1")
    assert (row.state, row.claim_token, row.uncertain_since) == ("pending", None, utc_naive(START))


def test_a_late_claim_holder_cannot_finish_a_row_someone_else_finished(outbox):
    outbox.enqueue(notification("a1"), START)
    stale = outbox.claim("a1", START)
    outbox.recover_expired(START + timedelta(minutes=5), timedelta(minutes=2))
    fresh = outbox.claim("a1", START + timedelta(minutes=5))
    assert outbox.mark_sent("a1", fresh, "C1", "100.000001", START + timedelta(minutes=5))

    assert outbox.release("a1", stale, START, "late failure") is False
    assert outbox.mark_sent("a1", stale, "C1", "999.000001") is False
    assert outbox.message_ref("a1") == ("C1", "100.000001")


def test_release_counts_attempts_and_keeps_the_earliest_uncertainty(outbox):
    outbox.enqueue(notification("a1"), START)
    token = outbox.claim("a1", START)
    outbox.release("a1", token, START + timedelta(seconds=2), "HTTP 500", uncertain_since=START)
    token = outbox.claim("a1", START + timedelta(seconds=2))
    outbox.release("a1", token, START + timedelta(seconds=30), "429", counts_as_attempt=False)
    token = outbox.claim("a1", START + timedelta(seconds=30))
    outbox.release(
        "a1", token, START + timedelta(minutes=1), "timeout", uncertain_since=START + timedelta(seconds=30)
    )

    row = outbox.get("a1")
    assert (row.attempts, row.last_error, row.uncertain_since) == (2, "timeout", utc_naive(START))
    assert row.next_attempt_at == utc_naive(START + timedelta(minutes=1))


def test_sent_rows_are_kept_and_dead_ones_listed_newest_first(outbox):
    for identity in ("a1", "a2", "a3"):
        outbox.enqueue(notification(identity), START)
    outbox.mark_sent("a1", outbox.claim("a1", START), "C1", "1.000001", START)
    outbox.mark_dead("a2", outbox.claim("a2", START), "channel_not_found")
    outbox.mark_dead("a3", outbox.claim("a3", START), "invalid_auth")

    assert outbox.counts() == {"pending": 0, "sending": 0, "sent": 1, "dead": 2}
    assert outbox.pending_count() == 0
    assert [(r.identity, r.last_error, r.attempts) for r in outbox.dead()] == [
        ("a3", "invalid_auth", 1),
        ("a2", "channel_not_found", 1),
    ]
    assert outbox.get("a1").sent_at == utc_naive(START)
    assert outbox.message_ref("a2") is None and outbox.message_ref("unknown") is None


def test_due_rows_come_oldest_first_up_to_the_limit(outbox):
    for i in range(5):
        outbox.enqueue(notification(f"a{i}"), START + timedelta(seconds=i))
    assert [r.identity for r in outbox.due(START + timedelta(seconds=3), limit=3)] == ["a0", "a1", "a2"]
    assert [r.identity for r in outbox.due(START + timedelta(seconds=3))] == ["a0", "a1", "a2", "a3"]
