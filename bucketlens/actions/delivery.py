"""Draining the action outbox: each due webhook or email is claimed, sent, and its outcome recorded.

Webhooks follow Standard Webhooks' delivery contract. The ``webhook-id`` never changes, so a send that
may have arrived (a timeout, a dropped connection, a crash before the answer was recorded) is simply
sent again under the same id: the receiver applies each id once. What each answer means:

* 2xx — delivered; the attempt and its status are logged in the same transaction as the state;
* 429 — the receiver is busy: due again after its ``Retry-After``, not counted as a failed attempt;
* 410 Gone — the endpoint is withdrawn: it is disabled (nothing more is sent there), the webhook kept as
  dead, and one meta-alert tells the operator how to resume (``actions enable-endpoint``, ``retry-dead``);
* any other answer or none — a failed attempt, retried with exponential backoff; after ``max_attempts``
  the webhook is dead, with a meta-alert.

A lift waits until its request was delivered (``after_identity``). Emails: an opted-out user or one
without an address is ``skipped`` (logged), a 4xx or an SMTP server out of reach is retried, a 5xx is
dead with a meta-alert.

Time is the caller's (``now`` or ``clock``) so tests replay hours of backoff instantly; a drain stops
claiming after ``deadline`` (a sensor tick must end within Dagster's 60 s).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from bucketlens.actions import notices
from bucketlens.actions.db import action_outbox
from bucketlens.actions.email import Mailer, MailError
from bucketlens.actions.model import LogEntry
from bucketlens.actions.outbox import EMAIL, LIFTED, ActionRow
from bucketlens.actions.store import ActionStore, insert_log
from bucketlens.actions.webhooks import Answer, WebhookSender
from bucketlens.alerts.delivery import DEFAULT_DEADLINE, DEFAULT_LEASE
from bucketlens.alerts.outbox import enqueue_in as enqueue_notification
from bucketlens.leased_queue import DrainCounts, utc_naive

GONE = 410
TOO_MANY = 429
SMTP_OK = 250
# A receiver down for a deploy or a night must not kill its webhooks: 5 s, 20 s, 80 s, 5 min, 21 min,
# 1.4 h, 5.7 h (each with jitter), so the 8 attempts span about 8 hours, as webhook providers retry.
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_FACTOR = 4
BACKOFF_CAP_SECONDS = 6 * 3600.0


def backoff(attempt: int, rng: random.Random) -> timedelta:
    """The wait after the ``attempt``-th failed send: exponential, capped, with jitter (half to whole)."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * BACKOFF_FACTOR ** max(attempt - 1, 0))
    return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass
class ActionDeliveryReport(DrainCounts):
    """What one drain did (``DrainCounts``). ``waiting``: lifts whose request is not delivered yet;
    ``elsewhere``: claimed by another drain; ``skipped``: emails not sent on purpose (opted out, no
    address)."""

    skipped: int = 0
    elsewhere: int = 0
    disabled_endpoints: list[str] = field(default_factory=list)

    def line(self) -> str:
        deferred = f", {self.deferred} left for the next tick (time limit)" if self.deferred else ""
        return (
            f"sent {self.sent}, retried {self.retried}, dead {self.dead}, skipped {self.skipped}, "
            f"waiting {self.waiting}{deferred}"
        )


def _policy(row: ActionRow) -> tuple[str, str]:
    """(policy, mode) of a row, from its body: for the audit entry of an attempt."""
    try:
        data = json.loads(row.payload)
    except ValueError:
        return "", ""
    if row.kind == EMAIL:
        return f"{data.get('rule', '')}/email", ""
    inner = data.get("data", {})
    return f"{inner.get('rule', '')}/{inner.get('action', '')}", inner.get("mode", "")


@dataclass
class _Drain:
    store: ActionStore
    webhooks: WebhookSender
    mailer: Mailer | None
    clock: Callable[[], datetime]
    rng: random.Random
    crash: Callable[[str, str], None] | None
    meta_channel: str
    report: ActionDeliveryReport = field(default_factory=ActionDeliveryReport)

    @property
    def now(self) -> datetime:
        return utc_naive(self.clock())

    @property
    def outbox(self):
        return self.store.outbox

    def _hook(self, step: str, identity: str) -> None:
        if self.crash is not None:
            self.crash(step, identity)

    def _entry(
        self, row: ActionRow, event: str, detail: str, status: int | None
    ) -> Callable[[sa.Connection], None]:
        policy, mode = _policy(row)
        entry = LogEntry(
            id=f"attempt_{uuid.uuid4().hex}", at=self.now, request_id=row.request_id, usage_date=row.usage_date,
            user_id=row.user_id, event=event, actor="delivery", policy=policy, mode=mode, detail=detail[:2000],
            status_code=status, webhook_id=row.identity,
        )  # fmt: skip
        return lambda conn: insert_log(conn, entry)

    # --- one row ----------------------------------------------------------------------------------------

    def row(self, due: ActionRow) -> None:
        if due.after_identity:
            parent = self.outbox.get(due.after_identity)
            if parent is None or parent.state != "sent":
                self.report.waiting += 1
                return
        claimed_at = self.now
        row = self.outbox.claim(due.identity, claimed_at)
        if row is None:
            self.report.elsewhere += 1
            return
        if row.attempts >= self.outbox.max_attempts:
            self._die(row, row.last_error or "too many attempts", row.last_status, counts=False)
            return
        try:
            if row.kind == EMAIL:
                self._email(row, claimed_at)
            else:
                self._webhook(row, claimed_at)
        except MailError as err:
            self._failed(row, err.kind, str(err), err.code, claimed_at)
        except Exception as err:  # unexpected: keep the row, count the try, assume it may have arrived
            self._failed(row, "uncertain", f"{type(err).__name__}: {err}", None, claimed_at)

    def _webhook(self, row: ActionRow, claimed_at: datetime) -> None:
        disabled = self.store.disabled_endpoint(self.webhooks.endpoint)
        if disabled is not None:
            error = f"endpoint {self.webhooks.endpoint} is disabled ({disabled})"
            self.outbox.mark_dead(row.identity, row.claim_token, error, counts_as_attempt=False)
            self.report.dead += 1
            return
        self._hook("before_send", row.identity)
        answer = self.webhooks.send(row.identity, row.payload, self.now)
        self._hook("after_send", row.identity)
        if answer.ok:
            event = "lifted" if row.event_type == LIFTED else "sent"
            then = self._entry(
                row, event, f"{row.event_type} delivered to {self.webhooks.endpoint}", answer.status
            )
            self.outbox.mark_sent(
                row.identity, row.claim_token, answer.status, self.webhooks.endpoint, self.now, then
            )
            self._hook("after_mark", row.identity)
            self.report.sent += 1
        elif answer.status == TOO_MANY:
            detail = f"429: the receiver asked to wait {answer.retry_after:g}s"
            self.outbox.release(
                row.identity, row.claim_token, self.now + timedelta(seconds=answer.retry_after), detail,
                counts_as_attempt=False, then=self._entry(row, "rate_limited", detail, TOO_MANY), last_status=TOO_MANY,
            )  # fmt: skip
            self.report.retried += 1
        elif answer.status == GONE:
            self._gone(row)
        else:
            kind = "uncertain" if answer.status is None else "failed"
            self._failed(row, kind, answer.error or f"HTTP {answer.status}", answer.status, claimed_at)

    def _email(self, row: ActionRow, claimed_at: datetime) -> None:
        if self.mailer is None:
            raise MailError("transient", "email is not configured")
        try:
            prepared = self.mailer.prepare(row)
        except (sa.exc.SQLAlchemyError, OSError) as err:  # the users database: a read, nothing was sent
            raise MailError("transient", f"address lookup failed: {type(err).__name__}") from None
        if prepared.message is None:
            self.outbox.skip(
                row.identity,
                row.claim_token,
                prepared.skip,
                self._entry(row, "email_skipped", prepared.skip, None),
            )
            self.report.skipped += 1
            return
        self._hook("before_send", row.identity)
        self.mailer.send(prepared.message)
        self._hook("after_send", row.identity)
        then = self._entry(row, "email_sent", f"{row.event_type} to {prepared.to}", SMTP_OK)
        self.outbox.mark_sent(row.identity, row.claim_token, SMTP_OK, prepared.to, self.now, then)
        self._hook("after_mark", row.identity)
        self.report.sent += 1

    # --- outcomes -----------------------------------------------------------------------------------------

    def _failed(
        self, row: ActionRow, kind: str, error: str, status: int | None, claimed_at: datetime
    ) -> None:
        """A failed attempt: ``transient`` (certainly not delivered), ``uncertain`` (may have been),
        ``failed`` (the receiver answered no) or ``permanent`` (retrying cannot help)."""
        if kind == "permanent" or row.attempts + 1 >= self.outbox.max_attempts:
            self._die(row, error, status)
            return
        uncertain = claimed_at if kind == "uncertain" else None
        self.outbox.release(
            row.identity, row.claim_token, self.now + backoff(row.attempts + 1, self.rng), error,
            uncertain_since=uncertain, then=self._entry(row, "retry", error, status), last_status=status,
        )  # fmt: skip
        self.report.retried += 1

    def _die(self, row: ActionRow, error: str, status: int | None, counts: bool = True) -> None:
        attempts = row.attempts + (1 if counts else 0)
        notice = notices.delivery_dead(row.identity, row.kind, row.target, attempts, error, self.meta_channel)
        log = self._entry(row, "dead", error, status)

        def then(conn: sa.Connection) -> None:
            log(conn)
            if self.meta_channel:
                enqueue_notification(conn, notice, self.now)

        if self.outbox.mark_dead(
            row.identity, row.claim_token, error, counts_as_attempt=counts, then=then, last_status=status
        ):
            self.report.dead += 1

    def _gone(self, row: ActionRow) -> None:
        endpoint, now = self.webhooks.endpoint, self.now
        error = f"410 Gone from {endpoint}: the endpoint is disabled"
        log = self._entry(row, "endpoint_gone", error, GONE)

        def then(conn: sa.Connection) -> None:
            log(conn)
            if self.store.disable_endpoint(conn, endpoint, "answered 410 Gone", now) and self.meta_channel:
                waiting = conn.execute(
                    sa.select(sa.func.count()).where(action_outbox.c.kind != EMAIL,
                                                     action_outbox.c.state.in_(("pending", "sending", "dead")))
                ).scalar_one()  # fmt: skip
                enqueue_notification(
                    conn, notices.endpoint_disabled(endpoint, int(waiting), self.meta_channel, now), now
                )

        if self.outbox.mark_dead(row.identity, row.claim_token, error, then=then, last_status=GONE):
            self.report.dead += 1
            if endpoint not in self.report.disabled_endpoints:
                self.report.disabled_endpoints.append(endpoint)


def deliver_actions(
    store: ActionStore,
    webhooks: WebhookSender,
    mailer: Mailer | None = None,
    *,
    now: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
    limit: int = 100,
    lease: timedelta = DEFAULT_LEASE,
    deadline: timedelta = DEFAULT_DEADLINE,
    rng: random.Random | None = None,
    crash: Callable[[str, str], None] | None = None,
    meta_channel: str = "",
) -> ActionDeliveryReport:
    """Drain up to ``limit`` due webhooks and emails once (what the action delivery sensor does each
    tick). ``lease`` must exceed the senders' timeouts; ``meta_channel`` receives meta-alerts (endpoint
    gone, dead rows); ``crash(step, identity)`` is a test hook at each of ``CRASH_POINTS``."""
    fixed = utc_naive(now) if now else None
    drain = _Drain(
        store,
        webhooks,
        mailer,
        (lambda: fixed) if fixed else (clock or utc_naive),
        rng or random.Random(),
        crash,
        meta_channel,
    )
    stop_at = time.monotonic() + deadline.total_seconds()
    store.outbox.recover_expired(drain.now, lease)
    rows = store.outbox.due(drain.now, limit)
    for i, row in enumerate(rows):
        if time.monotonic() >= stop_at:
            drain.report.deferred = len(rows) - i
            break
        drain.row(row)
    return drain.report


__all__ = ["ActionDeliveryReport", "Answer", "backoff", "deliver_actions"]
