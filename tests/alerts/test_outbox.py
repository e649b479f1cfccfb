"""The outbox: idempotent enqueue, atomic claims (also across threads), leases, what it reports, and
bringing dead rows back — each on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bucketlens.alerts.alert_db import notifications
from bucketlens.alerts.outbox import Outbox, utc_naive
from tests.alerts.conftest import START, notification


@pytest.fixture
def outbox_url(alert_db_url):
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return alert_db_url


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

    claimed = outbox.claim("a1", START)
    assert claimed.claim_token and outbox.claim("a1", START) is None
    assert (claimed.state, claimed.claimed_at) == ("sending", utc_naive(START))
    assert outbox.get("a1") == claimed and outbox.pending_count() == 1


def test_concurrent_claims_have_exactly_one_winner(outbox_url):
    Outbox(outbox_url).enqueue(notification("a1"), START)
    boxes = [Outbox(outbox_url) for _ in range(8)]
    barrier = threading.Barrier(len(boxes))
    tokens: list[str | None] = []

    def claim(box: Outbox) -> None:
        barrier.wait()
        row = box.claim("a1", START)
        tokens.append(row and row.claim_token)

    threads = [threading.Thread(target=claim, args=(box,)) for box in boxes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(tokens) == 8 and sum(t is not None for t in tokens) == 1
    for box in boxes:
        box.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path):
    outbox = Outbox(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
    outbox.enqueue(notification("a1"), START)
    outbox.dispose()
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
    stale = outbox.claim("a1", START).claim_token
    outbox.recover_expired(START + timedelta(minutes=5), timedelta(minutes=2))
    fresh = outbox.claim("a1", START + timedelta(minutes=5)).claim_token
    assert outbox.mark_sent("a1", fresh, "C1", "100.000001", START + timedelta(minutes=5))

    assert outbox.release("a1", stale, START, "late failure") is False
    assert outbox.mark_sent("a1", stale, "C1", "999.000001") is False
    assert outbox.message_ref("a1") == ("C1", "100.000001")


def test_release_counts_attempts_and_keeps_the_earliest_uncertainty(outbox):
    outbox.enqueue(notification("a1"), START)
    token = outbox.claim("a1", START).claim_token
    outbox.release("a1", token, START + timedelta(seconds=2), "HTTP 500", uncertain_since=START)
    token = outbox.claim("a1", START + timedelta(seconds=2)).claim_token
    outbox.release("a1", token, START + timedelta(seconds=30), "429", counts_as_attempt=False)
    token = outbox.claim("a1", START + timedelta(seconds=30)).claim_token
    outbox.release(
        "a1", token, START + timedelta(minutes=1), "timeout", uncertain_since=START + timedelta(seconds=30)
    )

    row = outbox.get("a1")
    assert (row.attempts, row.last_error, row.uncertain_since) == (2, "timeout", utc_naive(START))
    assert row.next_attempt_at == utc_naive(START + timedelta(minutes=1))


def test_sent_rows_are_kept_and_dead_ones_listed_newest_first(outbox):
    for identity in ("a1", "a2", "a3"):
        outbox.enqueue(notification(identity), START)
    outbox.mark_sent("a1", outbox.claim("a1", START).claim_token, "C1", "1.000001", START)
    outbox.mark_dead("a2", outbox.claim("a2", START).claim_token, "channel_not_found")
    outbox.mark_dead("a3", outbox.claim("a3", START).claim_token, "invalid_auth")

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


def test_the_claim_returns_the_row_as_claimed_not_as_read_before(outbox):
    """Another drain tried the row between our read and our claim: the claim shows its uncertainty."""
    outbox.enqueue(notification("a1"), START)
    [read_before] = outbox.due(START)
    other = outbox.claim("a1", START)
    outbox.release("a1", other.claim_token, START, "chat_postMessage: timeout", uncertain_since=START)

    mine = outbox.claim("a1", START)

    assert (read_before.uncertain_since, read_before.attempts) == (None, 0)
    assert (mine.uncertain_since, mine.attempts, mine.last_error) == (
        utc_naive(START),
        1,
        "chat_postMessage: timeout",
    )
    assert mine.claim_token not in (None, other.claim_token)


def test_retry_dead_brings_one_channels_dead_rows_back_with_their_identity(outbox):
    for identity, channel in (("a1", "#gone"), ("a2", "gone"), ("a3", "alerts-warning")):
        outbox.enqueue(notification(identity, channel=channel), START)
        claimed = outbox.claim(identity, START)
        if identity == "a2":  # this one may have reached Slack before it died: the search must still run
            outbox.release(identity, claimed.claim_token, START, "timeout", uncertain_since=START)
            claimed = outbox.claim(identity, START)
        outbox.mark_dead(identity, claimed.claim_token, "channel_not_found")
    assert outbox.dead_by_channel() == {"#gone": 1, "gone": 1, "alerts-warning": 1}
    assert [r.identity for r in outbox.dead(channel="gone")] == ["a2", "a1"]

    later = START + timedelta(hours=2)
    assert outbox.retry_dead(channel="#gone", now=later) == 2  # both spellings of the channel

    a1, a2, a3 = (outbox.get(i) for i in ("a1", "a2", "a3"))
    assert (a1.state, a1.attempts, a1.next_attempt_at, a1.claim_token) == (
        "pending",
        0,
        utc_naive(later),
        None,
    )
    assert (a2.state, a2.attempts, a2.uncertain_since) == ("pending", 0, utc_naive(START))
    assert a3.state == "dead"
    assert outbox.enqueue(notification("a1"), later) is False  # still one row per identity
    assert outbox.retry_dead(now=later) == 1 and outbox.counts()["dead"] == 0


def test_identities_group_keys_and_channels_longer_than_the_old_columns_fit(outbox):
    """PostgreSQL enforces VARCHAR lengths (SQLite does not): identities over 512 characters (a dead
    notice of a long identity), channels over 256 (routing is configuration) must be stored."""
    identity, channel = "report:" + "x" * 600, "#" + "c" * 300
    assert outbox.enqueue(notification(identity, channel=channel), START)
    claimed = outbox.claim(identity, START)
    outbox.mark_dead(identity, claimed.claim_token, "channel_not_found")
    assert outbox.get(identity).channel == channel
    assert outbox.dead_by_channel() == {channel: 1}


def test_enqueue_is_refused_without_error_inside_a_transaction(outbox_url):
    """The planners enqueue inside their transaction: a duplicate must not abort it (PostgreSQL aborts a
    transaction on any failed statement), so a later write in the same transaction still lands."""
    from bucketlens.alerts.outbox import enqueue_in

    box = Outbox(outbox_url)
    engine = sa.create_engine(outbox_url)
    with engine.begin() as conn:
        assert enqueue_in(conn, notification("a1"), START) is True
        assert enqueue_in(conn, notification("a1"), START) is False
        assert enqueue_in(conn, notification("a2"), START) is True
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(notifications)).scalar() == 2
    engine.dispose()
    box.dispose()
