"""Draining the outbox: each due notification is claimed, rendered, sent once, and its message recorded.

The one rule everything here serves: a message may be *delayed* by failures, never *lost* and never
*posted twice*. Whenever a send may have reached Slack without us learning so (a timeout, a dropped
connection, a 5xx, a crash between Slack's answer and our write), the row is marked uncertain and the
next attempt first looks for the message in the channel by its metadata identity. Only a send that
Slack certainly refused (429, or an error code) is retried blind.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bucketlens.alerts.blocks import render, render_resolved_reply
from bucketlens.alerts.notification import Notification
from bucketlens.alerts.outbox import Outbox, OutboxRow, utc_naive
from bucketlens.alerts.preview import PreviewSender
from bucketlens.alerts.senders import Sender, SendError, SlackSender

__all__ = [
    "DeliveryReport",
    "PreviewSender",
    "SendError",
    "Sender",
    "SimulatedCrash",
    "SlackSender",
    "backoff",
    "deliver_once",
]

DEFAULT_LEASE = timedelta(minutes=2)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
RECONCILE_MARGIN = timedelta(minutes=5)  # Slack's clock and ours may disagree a little
EDIT_TARGET_GONE = ("message_not_found", "cant_update_message", "edit_window_closed")
CRASH_POINTS = ("before_send", "after_send", "after_mark")


class SimulatedCrash(BaseException):
    """Raised by a test's crash hook: a BaseException, so it escapes like a killed process would."""


@dataclass
class DeliveryReport:
    """What one drain did: ``waiting`` rows wait for their original; ``skipped`` were claimed elsewhere."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    reconciled: int = 0
    waiting: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class _Target:
    """Where a notification goes: a new message, an edit of the original, or a reply in its thread."""

    mode: str = "new"  # new | edit | thread | wait
    channel_id: str = ""
    ref_ts: str = ""


def backoff(attempt: int, rng: random.Random) -> timedelta:
    """Exponential (2 s, 4 s, … capped at 10 min) with jitter, so retries after an outage spread out."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempt - 1, 0))
    return timedelta(seconds=ceiling / 2 + rng.uniform(0, ceiling / 2))


def _target(outbox: Outbox, n: Notification) -> _Target:
    """An edit or reply waits while its original is unsent; a dead or unknown original means a new post."""
    ref = n.edit_of or n.thread_of
    if not ref:
        return _Target()
    original = outbox.get(ref)
    if original is not None and original.state in ("pending", "sending"):
        return _Target("wait")
    if original is None or original.state != "sent" or not original.slack_ts:
        return _Target()
    return _Target("edit" if n.edit_of else "thread", original.slack_channel_id, original.slack_ts)


def _dead_notice(n: Notification, error: str, attempts: int) -> Notification:
    return Notification(
        identity=f"dead:{n.identity}",
        kind="meta",
        channel=n.channel,
        severity="warning",
        title="A bucketlens notification could not be delivered",
        group_key="",
        text=(
            f"The {n.kind} notification “{n.title}” ({n.identity}) for {n.channel} was given up "
            f"after {attempts} attempt{'s' if attempts != 1 else ''}: {error}"
        ),
    )


@dataclass
class _Drain:
    outbox: Outbox
    sender: Sender
    fixed_now: datetime | None  # a test's clock; None: the real time at each step
    rng: random.Random
    crash: Callable[[str, str], None] | None
    report: DeliveryReport

    @property
    def now(self) -> datetime:
        """The time of this step: a claim's lease starts when the row is claimed, not when the drain did."""
        return self.fixed_now or utc_naive()

    def _hook(self, step: str, identity: str) -> None:
        if self.crash is not None:
            self.crash(step, identity)

    def row(self, row: OutboxRow) -> None:
        n = row.notification
        target = _target(self.outbox, n)
        if target.mode == "wait":
            self.report.waiting += 1
            return
        claimed_at = self.now
        token = self.outbox.claim(row.identity, claimed_at)
        if token is None:
            self.report.skipped += 1
            return
        try:
            self._attempt(row, n, target, token)
        except SendError as err:
            self._failed(row, n, token, err, claimed_at)
        except Exception as err:  # unexpected: keep the row, count the try, assume it may have posted
            self._failed(row, n, token, SendError("uncertain", f"{type(err).__name__}: {err}"), claimed_at)

    def _attempt(self, row: OutboxRow, n: Notification, target: _Target, token: str) -> None:
        if row.uncertain_since is not None:
            found = self._reconcile(row, n, target)
            if found is not None:
                self.outbox.mark_sent(row.identity, token, found[0], found[1], self.now)
                self.report.reconciled += 1
                return
        if row.attempts >= self.outbox.max_attempts:
            self._die(row, n, token, row.last_error or "too many attempts", counts_as_attempt=False)
            return
        self._hook("before_send", row.identity)
        channel_id, ts = self._send(n, target)
        self._hook("after_send", row.identity)
        self.outbox.mark_sent(row.identity, token, channel_id, ts, self.now)
        self._hook("after_mark", row.identity)
        self.report.sent += 1

    def _send(self, n: Notification, target: _Target) -> tuple[str, str]:
        args = render(n, self.sender.ui_url)
        channel_id = target.channel_id or self.sender.channel_id(n.channel)
        args["channel"] = channel_id
        if target.mode == "edit":
            try:
                self.sender.update(channel_id, target.ref_ts, args)
            except SendError as err:
                if err.code not in EDIT_TARGET_GONE:
                    raise
                return self.sender.post(args)  # the original is gone: say it as a new message
            if n.kind != "resolved":
                return channel_id, target.ref_ts
            reply = render_resolved_reply(n)
            return self.sender.post({**reply, "channel": channel_id, "thread_ts": target.ref_ts})
        thread_ts = target.ref_ts if target.mode == "thread" else ""
        if n.attachment_path:
            return self.sender.upload(channel_id, n.attachment_path, args["text"], thread_ts)
        if thread_ts:
            args["thread_ts"] = thread_ts
        return self.sender.post(args)

    def _reconcile(self, row: OutboxRow, n: Notification, target: _Target) -> tuple[str, str] | None:
        """The message a previous, unconfirmed attempt may have posted: its thread first, then the channel."""
        if target.mode == "edit" and n.kind != "resolved":
            return None  # an edit alone is idempotent: doing it again is the reconciliation
        channel_id = target.channel_id or self.sender.channel_id(n.channel)
        oldest = utc_naive(row.uncertain_since) - RECONCILE_MARGIN
        upload_text = render(n, self.sender.ui_url)["text"] if n.attachment_path else None
        for thread_ts in ([target.ref_ts] if target.ref_ts else []) + [None]:
            ts = self.sender.find_message(
                channel_id, n.identity, oldest, thread_ts=thread_ts, upload_text=upload_text
            )
            if ts:
                return channel_id, ts
        return None

    def _failed(
        self, row: OutboxRow, n: Notification, token: str, err: SendError, claimed_at: datetime
    ) -> None:
        if err.kind == "permanent":
            self._die(row, n, token, str(err))
            return
        if err.kind == "rate_limited":  # Slack did not process it; waiting is not a failed attempt
            self.outbox.release(
                row.identity,
                token,
                self.now + timedelta(seconds=err.retry_after),
                str(err),
                counts_as_attempt=False,
            )
            self.report.retried += 1
            return
        attempts = row.attempts + 1
        uncertain_since = claimed_at if err.kind == "uncertain" else None
        if attempts >= self.outbox.max_attempts and uncertain_since is None and row.uncertain_since is None:
            self._die(row, n, token, str(err))
            return
        self.outbox.release(
            row.identity,
            token,
            self.now + backoff(attempts, self.rng),
            str(err),
            uncertain_since=uncertain_since,
        )
        self.report.retried += 1

    def _die(
        self, row: OutboxRow, n: Notification, token: str, error: str, *, counts_as_attempt: bool = True
    ) -> None:
        attempts = row.attempts + (1 if counts_as_attempt else 0)
        if self.outbox.mark_dead(row.identity, token, error, counts_as_attempt=counts_as_attempt):
            self.report.dead += 1
            if not row.identity.startswith("dead:"):  # a dead notice that dies is not announced again
                self.outbox.enqueue(_dead_notice(n, error, attempts), self.now)


def deliver_once(
    outbox: Outbox,
    sender: Sender,
    now: datetime | None = None,
    limit: int = 100,
    lease: timedelta = DEFAULT_LEASE,
    *,
    rng: random.Random | None = None,
    crash: Callable[[str, str], None] | None = None,
) -> DeliveryReport:
    """Drain up to ``limit`` due notifications once (what the delivery sensor does each tick).

    ``lease`` must exceed the sender's timeout: a claim older than that is taken for a dead drain's.
    ``crash(step, identity)`` is a test hook called at each of ``CRASH_POINTS``.
    """
    drain = _Drain(
        outbox, sender, utc_naive(now) if now else None, rng or random.Random(), crash, DeliveryReport()
    )
    outbox.recover_expired(drain.now, lease)
    for row in outbox.due(drain.now, limit):
        drain.row(row)
    return drain.report
