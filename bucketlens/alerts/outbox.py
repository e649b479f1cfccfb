"""The durable outbox: every notification is a row that moves pending → sending → sent / dead.

Why a table and not a queue: the outbox must survive a crash at any point and never hand one row to two
senders. The claim, lease and finish logic is shared with the response actions' outbox
(``bucketlens.leased_queue``): a row is claimed by one conditional ``UPDATE`` (the row count says who
won), so two drains — threads or processes on one SQLite file, or on PostgreSQL — never both send it; a
drain that died mid-send leaves the row in ``sending``, and once the lease expires the row returns to
``pending`` marked *uncertain* (``uncertain_since``): the message may have reached Slack, so delivery
looks for it before sending again. Sent rows stay as the audit trail and the address of later edits.

SQLAlchemy Core on purpose (not DuckDB): sensors drain the outbox while assets hold DuckDB's single writer.
Times are stored as naive UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bucketlens.alerts.alert_db import insert_new, notifications, open_engine, utc_naive
from bucketlens.alerts.notification import Notification
from bucketlens.leased_queue import QUEUE_STATES, LeasedQueue

__all__ = ["OUTBOX_STATES", "Outbox", "OutboxRow", "enqueue_in", "notifications", "utc_naive"]

OUTBOX_STATES = QUEUE_STATES


@dataclass(frozen=True)
class OutboxRow:
    """One stored notification and where its delivery stands."""

    identity: str
    kind: str
    channel: str
    severity: str
    payload: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    slack_channel_id: str
    slack_ts: str
    claim_token: str | None
    claimed_at: datetime | None
    uncertain_since: datetime | None

    @property
    def notification(self) -> Notification:
        return Notification.from_json(self.payload)


def enqueue_in(conn: sa.Connection, n: Notification, now: datetime | None = None) -> bool:
    """``Outbox.enqueue`` inside the caller's transaction (the planners enqueue and log in one); True when
    stored, False when the identity is already there."""
    moment = utc_naive(now)
    row = {
        "identity": n.identity,
        "kind": n.kind,
        "channel": n.channel,
        "severity": n.severity,
        "payload": n.to_json(),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": moment,
        "last_error": "",
        "created_at": moment,
        "slack_channel_id": "",
        "slack_ts": "",
    }
    return insert_new(conn, notifications, row, "identity")


def channel_names(channel: str) -> list[str]:
    """The spellings of one channel the outbox may hold (routing writes ``#name`` or ``name``)."""
    name = channel.strip().lstrip("#")
    return [name, f"#{name}"]


class Outbox(LeasedQueue):
    """The outbox at a SQLAlchemy URL (``sqlite:///path`` by default, ``postgresql+psycopg://…`` in production).

    ``due``, ``claim``, ``release``, ``mark_dead``, ``recover_expired`` and ``counts`` are the shared
    queue's (``LeasedQueue``); what is Slack's own is here: where a sent message is, and dead rows per
    channel.
    """

    def __init__(self, url: str, max_attempts: int = 8) -> None:
        super().__init__(open_engine(url), notifications, OutboxRow, max_attempts)

    def enqueue(self, n: Notification, now: datetime | None = None) -> bool:
        """Store ``n`` to be sent; False (and nothing changes) when its identity is already stored."""
        with self.engine.begin() as conn:
            return enqueue_in(conn, n, now)

    def mark_sent(
        self, identity: str, token: str, channel_id: str, ts: str, now: datetime | None = None
    ) -> bool:
        """Record where the message is. Without the claim (the lease was taken over) the fact is still
        recorded on a row not yet finished, since the message does exist in Slack."""
        values = {
            "state": "sent",
            "sent_at": utc_naive(now),
            "slack_channel_id": channel_id,
            "slack_ts": ts,
            "uncertain_since": None,
            "last_error": "",
        }
        return self.record_delivered(identity, token, **values)

    def message_ref(self, identity: str) -> tuple[str, str] | None:
        """(channel id, ts) of a sent notification's message: what an edit or thread reply needs."""
        row = self.get(identity)
        if row is None or row.state != "sent" or not row.slack_ts:
            return None
        return row.slack_channel_id, row.slack_ts

    def dead(self, limit: int = 50, channel: str | None = None) -> list[OutboxRow]:
        """The most recent dead notifications (of one channel), newest first."""
        where = [notifications.c.channel.in_(channel_names(channel))] if channel else []
        return self.dead_rows(limit, *where)

    def dead_by_channel(self) -> dict[str, int]:
        """How many notifications are dead, per channel as routed."""
        query = (
            sa.select(notifications.c.channel, sa.func.count())
            .where(notifications.c.state == "dead")
            .group_by(notifications.c.channel)
        )
        with self.engine.connect() as conn:
            return {channel: int(n) for channel, n in conn.execute(query).all()}

    def retry_dead(self, channel: str | None = None, now: datetime | None = None) -> int:
        """Dead notifications (all, or one channel's) back to pending, due now, attempts reset: what an
        operator runs once the channel exists or the bot is in it.

        The identity stays, so nothing can be enqueued twice, and ``uncertain_since`` stays: a row that
        may have reached Slack before it died is looked for in the channel before it is sent again.
        """
        where = [notifications.c.channel.in_(channel_names(channel))] if channel else []
        return self.revive_dead(*where, now=now)
