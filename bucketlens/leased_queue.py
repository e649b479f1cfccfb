"""The state machine every durable outbox of bucketlens shares: pending → sending → sent / dead.

Slack notifications (``bucketlens.alerts.outbox``) and response actions (``bucketlens.actions.outbox``:
signed webhooks and emails) are delivered the same way, so the guarantees are written once, here:

* A row is **claimed** by one conditional ``UPDATE`` carrying a fresh token (the row count says who
  won), and the row is read back *by that token* in the same transaction: every decision about the
  attempt is taken from the row as claimed, never from one read before — another drain may have tried
  it in between. Two drains (threads or processes, SQLite or PostgreSQL) never both send a row.
* A claim is a **lease**: a drain that died mid-send leaves the row in ``sending``; once the lease has
  expired the row returns to ``pending`` marked *uncertain* (``uncertain_since``), because the send may
  have reached the other side. What an uncertain row does next is the sender's business (Slack: look
  for the message first; a webhook: send again under the same ``webhook-id``, which the receiver
  deduplicates).
* Every finish (sent, released for a retry, dead) is conditional on the claim token; ``then`` runs
  inside the same transaction, so an audit record of the attempt commits with the state it describes.

The table must have the columns ``id``, ``identity`` (unique), ``state``, ``attempts``,
``next_attempt_at``, ``last_error``, ``claim_token``, ``claimed_at`` and ``uncertain_since``; the row
type is a dataclass whose fields are the columns it reads. Times are naive UTC (``utc_naive``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

MAX_ERROR_CHARS = 2000
QUEUE_STATES = ("pending", "sending", "sent", "dead")

Then = Callable[[sa.Connection], None] | None


@dataclass
class DrainCounts:
    """What one drain of a leased queue did, in the counts every queue keeps: ``sent``, ``retried``,
    ``dead``; ``waiting``: rows held back for another row (the original a reply edits, the request a
    lift undoes); ``deferred``: due but left for the next drain because its deadline passed. Why shared:
    the alert outbox and the action outbox drain the same way, so they count alike; each report adds
    its own counts."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    deferred: int = 0


def utc_naive(moment: datetime | None = None) -> datetime:
    """``moment`` (default now) as naive UTC, the one form stored; a naive input is taken as UTC already."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class LeasedQueue:
    """The shared claim / lease / finish logic over one table of a SQLAlchemy engine."""

    states: tuple[str, ...] = QUEUE_STATES

    def __init__(self, engine: sa.Engine, table: sa.Table, row_type: type, max_attempts: int) -> None:
        self.max_attempts = max_attempts
        self.table = table
        self._engine = engine
        self._row_type = row_type
        self._columns = [table.c[name] for name in row_type.__dataclass_fields__]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._engine.url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def dispose(self) -> None:
        self._engine.dispose()

    def _rows(self, query) -> list:
        with self._engine.connect() as conn:
            return [self._row_type(**r._mapping) for r in conn.execute(query).all()]

    def select(self):
        """``SELECT`` of the row type's columns, for subclasses' own queries."""
        return sa.select(*self._columns)

    def get(self, identity: str):
        found = self._rows(self.select().where(self.table.c.identity == identity))
        return found[0] if found else None

    def due(self, now: datetime | None = None, limit: int = 100) -> list:
        """Pending rows whose next attempt is due, oldest first."""
        t = self.table
        query = (
            self.select()
            .where(t.c.state == "pending", t.c.next_attempt_at <= utc_naive(now))
            .order_by(t.c.id)
            .limit(limit)
        )
        return self._rows(query)

    def recover_expired(self, now: datetime | None, lease: timedelta) -> int:
        """Rows whose drain died mid-send go back to pending, uncertain since that claim."""
        t, moment = self.table, utc_naive(now)
        stmt = (
            t.update()
            .where(t.c.state == "sending", t.c.claimed_at <= moment - lease)
            .values(
                state="pending",
                claim_token=None,
                next_attempt_at=moment,
                uncertain_since=sa.func.coalesce(t.c.uncertain_since, t.c.claimed_at),
            )
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount

    def claim(self, identity: str, now: datetime | None = None):
        """Take the row for sending: the row *as claimed* (read back by its claim token in the same
        transaction), or None when another drain took it first (or it is not due)."""
        t, moment, token = self.table, utc_naive(now), uuid.uuid4().hex
        stmt = (
            t.update()
            .where(t.c.identity == identity, t.c.state == "pending", t.c.next_attempt_at <= moment)
            .values(state="sending", claim_token=token, claimed_at=moment)
        )
        with self._engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                return None
            mine = sa.and_(t.c.identity == identity, t.c.claim_token == token)
            found = conn.execute(self.select().where(mine)).one()
        return self._row_type(**found._mapping)

    def finish(self, identity: str, token: str, *, then: Then = None, **values: Any) -> bool:
        """Apply ``values`` to the row if this claim still holds it (and run ``then`` in the same
        transaction); False when the lease was taken over meanwhile."""
        t = self.table
        return self._update_one((t.c.identity == identity, t.c.claim_token == token), then, values)

    def record_delivered(self, identity: str, token: str, *, then: Then = None, **values: Any) -> bool:
        """Record that the row arrived (``values`` set ``state="sent"`` and where). Without the claim —
        the lease was taken over while the send was slow — the fact is still recorded on a row not yet
        finished, since the message did arrive; a row another drain finished meanwhile is left as is."""
        if self.finish(identity, token, then=then, **values):
            return True
        t = self.table
        return self._update_one(
            (t.c.identity == identity, t.c.state.in_(("pending", "sending"))), then, values
        )

    def _update_one(self, where: tuple, then: Then, values: dict[str, Any]) -> bool:
        """One conditional ``UPDATE`` that releases the claim and sets ``values``, with ``then`` in the same
        transaction when it changed the one row; whether it did. Why: finishing under the claim and
        recording a delivery without it differ only in their condition."""
        stmt = self.table.update().where(*where).values(claim_token=None, **values)
        with self._engine.begin() as conn:
            if conn.execute(stmt).rowcount != 1:
                return False
            if then is not None:
                then(conn)
        return True

    def release(
        self,
        identity: str,
        token: str,
        next_attempt_at: datetime,
        error: str,
        *,
        counts_as_attempt: bool = True,
        uncertain_since: datetime | None = None,
        then: Then = None,
        **extra: Any,
    ) -> bool:
        """Back to pending after a failed try, due again at ``next_attempt_at``. An ``uncertain_since``
        (the send may have arrived) is kept at its earliest value."""
        t = self.table
        values: dict[str, Any] = {
            "state": "pending",
            "next_attempt_at": utc_naive(next_attempt_at),
            "last_error": error[:MAX_ERROR_CHARS],
            **extra,
        }
        if counts_as_attempt:
            values["attempts"] = t.c.attempts + 1
        if uncertain_since is not None:
            values["uncertain_since"] = sa.func.coalesce(t.c.uncertain_since, utc_naive(uncertain_since))
        return self.finish(identity, token, then=then, **values)

    def mark_dead(
        self,
        identity: str,
        token: str,
        error: str,
        *,
        counts_as_attempt: bool = True,
        then: Then = None,
        **extra: Any,
    ) -> bool:
        """Give up: the row stays (with its error) for the audit and for an operator's retry."""
        values: dict[str, Any] = {"state": "dead", "last_error": error[:MAX_ERROR_CHARS], **extra}
        if counts_as_attempt:
            values["attempts"] = self.table.c.attempts + 1
        return self.finish(identity, token, then=then, **values)

    def counts(self) -> dict[str, int]:
        """Rows per state, every state present (zero when empty)."""
        t = self.table
        query = sa.select(t.c.state, sa.func.count()).group_by(t.c.state)
        with self._engine.connect() as conn:
            found = dict(conn.execute(query).all())
        return {state: int(found.get(state, 0)) for state in self.states}

    def pending_count(self) -> int:
        counts = self.counts()
        return counts["pending"] + counts["sending"]

    def dead_rows(self, limit: int = 50, *where) -> list:
        """The most recent dead rows (matching ``where``), newest first."""
        t = self.table
        query = self.select().where(t.c.state == "dead", *where).order_by(t.c.id.desc()).limit(limit)
        return self._rows(query)

    def revive_dead(self, *where, now: datetime | None = None) -> int:
        """Dead rows (matching ``where``) back to pending, due now, attempts reset. The identity stays,
        so nothing can be enqueued twice, and ``uncertain_since`` stays: a row that may have arrived
        before it died is treated as such."""
        t = self.table
        stmt = (
            t.update()
            .where(t.c.state == "dead", *where)
            .values(state="pending", attempts=0, next_attempt_at=utc_naive(now), claim_token=None)
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount
