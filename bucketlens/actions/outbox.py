"""The action outbox: signed webhooks and emails on the shared leased queue (``bucketlens.leased_queue``).

Its identities are the promises made to the receiving side: a webhook's identity *is* its
``webhook-id`` (the same on every retry, so the service applies it once), an email's is its Message-ID.
Besides the queue's states a row may end ``skipped``: an email to a user who opted out or has no
address — decided at send time, so an opt-out written after the notice was queued still counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bucketlens.actions.db import action_outbox
from bucketlens.alerts.alert_db import insert_new
from bucketlens.leased_queue import QUEUE_STATES, LeasedQueue, Then, utc_naive

ACTION_STATES = (*QUEUE_STATES, "skipped")
WEBHOOK, EMAIL = "webhook", "email"
REQUESTED = "bucketlens.action.requested"
LIFTED = "bucketlens.action.lifted"
USER_NOTICE = "email.user_notice"
OPERATOR_ALERT = "email.operator_alert"


@dataclass(frozen=True)
class _Message:
    """What a webhook or email is, queued or not (the leading columns of the action outbox). Why a base:
    a row of the outbox (``ActionRow``) and one to enqueue (``Outgoing``) start alike."""

    identity: str
    request_id: str
    kind: str
    event_type: str
    user_id: str
    usage_date: str
    payload: str


@dataclass(frozen=True)
class ActionRow(_Message):
    """One webhook or email and where its delivery stands."""

    after_identity: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    last_status: int | None
    target: str
    created_at: datetime
    sent_at: datetime | None
    claim_token: str | None
    claimed_at: datetime | None
    uncertain_since: datetime | None


@dataclass(frozen=True)
class Outgoing(_Message):
    """A webhook or email to enqueue."""

    due: datetime
    after_identity: str = ""


def enqueue_in(conn: sa.Connection, item: Outgoing, now: datetime) -> bool:
    """Store ``item`` inside the caller's transaction; False when its identity is already there."""
    row = {
        "identity": item.identity,
        "request_id": item.request_id,
        "kind": item.kind,
        "event_type": item.event_type,
        "user_id": item.user_id,
        "usage_date": item.usage_date,
        "payload": item.payload,
        "after_identity": item.after_identity,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": utc_naive(item.due),
        "last_error": "",
        "target": "",
        "created_at": utc_naive(now),
    }
    return insert_new(conn, action_outbox, row, "identity")


class ActionOutbox(LeasedQueue):
    states = ACTION_STATES

    def __init__(self, engine: sa.Engine, max_attempts: int = 8) -> None:
        super().__init__(engine, action_outbox, ActionRow, max_attempts)

    def mark_sent(
        self, identity: str, token: str, status: int, target: str, now: datetime, then: Then = None
    ) -> bool:
        values = {
            "state": "sent",
            "sent_at": utc_naive(now),
            "last_status": status,
            "target": target,
            "uncertain_since": None,
            "last_error": "",
        }
        return self.record_delivered(identity, token, then=then, **values)

    def skip(self, identity: str, token: str, reason: str, then: Then = None) -> bool:
        """Not sent, on purpose (opted out, no address): final, and not a failure."""
        return self.finish(identity, token, then=then, state="skipped", last_error=reason)

    def dead(self, limit: int = 50) -> list[ActionRow]:
        return self.dead_rows(limit)

    def retry_dead(self, now: datetime | None = None) -> int:
        """Every dead webhook and email back to pending (identities kept: the receiver still applies
        each webhook-id once)."""
        return self.revive_dead(now=now)

    def rows_of(self, request_id: str) -> list[ActionRow]:
        query = self.select().where(action_outbox.c.request_id == request_id).order_by(action_outbox.c.id)
        return self._rows(query)
