"""The durable outbox: every notification is a row that moves pending → sending → sent / dead.

Why a table and not a queue: the outbox must survive a crash at any point and never hand one row to two
senders. A row is claimed by one conditional ``UPDATE`` (the row count says who won), so two drains —
threads or processes on one SQLite file, or on PostgreSQL — never both send it. A claim carries a lease:
a drain that died mid-send leaves the row in ``sending``, and once the lease expires the row returns to
``pending`` marked *uncertain* (``uncertain_since``): the message may have reached Slack, so delivery
looks for it before sending again. Sent rows stay as the audit trail and the address of later edits.

SQLAlchemy Core on purpose (not DuckDB): sensors drain the outbox while assets hold DuckDB's single writer.
Times are stored as naive UTC.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from bucketlens.alerts.alert_db import insert_new, notifications, open_engine, utc_naive
from bucketlens.alerts.notification import Notification

__all__ = ["OUTBOX_STATES", "Outbox", "OutboxRow", "enqueue_in", "notifications", "utc_naive"]

OUTBOX_STATES = ("pending", "sending", "sent", "dead")
MAX_ERROR_CHARS = 2000


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


_ROW_COLUMNS = [notifications.c[name] for name in OutboxRow.__dataclass_fields__]


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


class Outbox:
    """The outbox at a SQLAlchemy URL (``sqlite:///path`` by default, ``postgresql+psycopg://…`` in production)."""

    def __init__(self, url: str, max_attempts: int = 8) -> None:
        self.max_attempts = max_attempts
        self._engine = open_engine(url)

    def __repr__(self) -> str:
        return f"Outbox({self._engine.url.render_as_string(hide_password=True)!r})"

    def dispose(self) -> None:
        self._engine.dispose()

    def enqueue(self, n: Notification, now: datetime | None = None) -> bool:
        """Store ``n`` to be sent; False (and nothing changes) when its identity is already stored."""
        with self._engine.begin() as conn:
            return enqueue_in(conn, n, now)

    def get(self, identity: str) -> OutboxRow | None:
        with self._engine.connect() as conn:
            found = conn.execute(sa.select(*_ROW_COLUMNS).where(notifications.c.identity == identity)).all()
        return OutboxRow(**found[0]._mapping) if found else None

    def due(self, now: datetime | None = None, limit: int = 100) -> list[OutboxRow]:
        """Pending rows whose next attempt is due, oldest first (an original before its edit)."""
        query = (
            sa.select(*_ROW_COLUMNS)
            .where(notifications.c.state == "pending", notifications.c.next_attempt_at <= utc_naive(now))
            .order_by(notifications.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [OutboxRow(**r._mapping) for r in conn.execute(query).all()]

    def recover_expired(self, now: datetime | None, lease: timedelta) -> int:
        """Rows whose drain died mid-send go back to pending, uncertain since that claim."""
        moment = utc_naive(now)
        stmt = (
            notifications.update()
            .where(notifications.c.state == "sending", notifications.c.claimed_at <= moment - lease)
            .values(
                state="pending",
                claim_token=None,
                next_attempt_at=moment,
                uncertain_since=sa.func.coalesce(notifications.c.uncertain_since, notifications.c.claimed_at),
            )
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def claim(self, identity: str, now: datetime | None = None) -> OutboxRow | None:
        """Take the row for sending: the row *as claimed* (read back by its claim token in the same
        transaction), or None when another drain took it first.

        Every decision about the attempt (look in Slack first? out of attempts?) must use this row, never
        one read before the claim: another drain may have tried it in between and left it uncertain.
        """
        moment = utc_naive(now)
        token = uuid.uuid4().hex
        stmt = (
            notifications.update()
            .where(
                notifications.c.identity == identity,
                notifications.c.state == "pending",
                notifications.c.next_attempt_at <= moment,
            )
            .values(state="sending", claim_token=token, claimed_at=moment)
        )
        with self._engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                return None
            mine = sa.and_(notifications.c.identity == identity, notifications.c.claim_token == token)
            found = conn.execute(sa.select(*_ROW_COLUMNS).where(mine)).one()
        return OutboxRow(**found._mapping)

    def _finish(self, identity: str, token: str, **values) -> bool:
        stmt = (
            notifications.update()
            .where(notifications.c.identity == identity, notifications.c.claim_token == token)
            .values(claim_token=None, **values)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

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
        if self._finish(identity, token, **values):
            return True
        stmt = (
            notifications.update()
            .where(notifications.c.identity == identity, notifications.c.state.in_(("pending", "sending")))
            .values(claim_token=None, **values)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def release(
        self,
        identity: str,
        token: str,
        next_attempt_at: datetime,
        error: str,
        *,
        counts_as_attempt: bool = True,
        uncertain_since: datetime | None = None,
    ) -> bool:
        """Back to pending after a failed try, due again at ``next_attempt_at``. An ``uncertain_since``
        (the send may have reached Slack) is kept at its earliest value so the search looks far enough back."""
        values = {
            "state": "pending",
            "next_attempt_at": utc_naive(next_attempt_at),
            "last_error": error[:MAX_ERROR_CHARS],
        }
        if counts_as_attempt:
            values["attempts"] = notifications.c.attempts + 1
        if uncertain_since is not None:
            values["uncertain_since"] = sa.func.coalesce(
                notifications.c.uncertain_since, utc_naive(uncertain_since)
            )
        return self._finish(identity, token, **values)

    def mark_dead(self, identity: str, token: str, error: str, *, counts_as_attempt: bool = True) -> bool:
        """Give up: the row stays (with its error) for the audit and ``bucketlens alerts`` to show."""
        values = {"state": "dead", "last_error": error[:MAX_ERROR_CHARS]}
        if counts_as_attempt:
            values["attempts"] = notifications.c.attempts + 1
        return self._finish(identity, token, **values)

    def message_ref(self, identity: str) -> tuple[str, str] | None:
        """(channel id, ts) of a sent notification's message: what an edit or thread reply needs."""
        row = self.get(identity)
        if row is None or row.state != "sent" or not row.slack_ts:
            return None
        return row.slack_channel_id, row.slack_ts

    def counts(self) -> dict[str, int]:
        """Rows per state, every state present (zero when empty)."""
        query = sa.select(notifications.c.state, sa.func.count()).group_by(notifications.c.state)
        with self._engine.connect() as conn:
            found = dict(conn.execute(query).all())
        return {state: int(found.get(state, 0)) for state in OUTBOX_STATES}

    def pending_count(self) -> int:
        counts = self.counts()
        return counts["pending"] + counts["sending"]

    def dead(self, limit: int = 50, channel: str | None = None) -> list[OutboxRow]:
        """The most recent dead notifications (of one channel), newest first."""
        query = sa.select(*_ROW_COLUMNS).where(notifications.c.state == "dead")
        if channel:
            query = query.where(notifications.c.channel.in_(channel_names(channel)))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(notifications.c.id.desc()).limit(limit)).all()
        return [OutboxRow(**r._mapping) for r in rows]

    def dead_by_channel(self) -> dict[str, int]:
        """How many notifications are dead, per channel as routed."""
        query = (
            sa.select(notifications.c.channel, sa.func.count())
            .where(notifications.c.state == "dead")
            .group_by(notifications.c.channel)
        )
        with self._engine.connect() as conn:
            return {channel: int(n) for channel, n in conn.execute(query).all()}

    def retry_dead(self, channel: str | None = None, now: datetime | None = None) -> int:
        """Dead notifications (all, or one channel's) back to pending, due now, attempts reset: what an
        operator runs once the channel exists or the bot is in it.

        The identity stays, so nothing can be enqueued twice, and ``uncertain_since`` stays: a row that
        may have reached Slack before it died is looked for in the channel before it is sent again.
        """
        stmt = (
            notifications.update()
            .where(notifications.c.state == "dead")
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=utc_naive(now),
                claim_token=None,
            )
        )
        if channel:
            stmt = stmt.where(notifications.c.channel.in_(channel_names(channel)))
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount
