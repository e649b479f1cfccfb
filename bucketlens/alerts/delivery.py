"""Draining the outbox: each due notification is claimed, rendered, sent once, and its message recorded.

The one rule everything here serves: a message may be *delayed* by failures, never *lost* and never
*posted twice*. Whenever a send may have reached Slack without us learning so (a timeout, a dropped
connection, a 5xx, a crash between Slack's answer and our write), the row is marked uncertain and the
next attempt first looks for the message in the channel by its metadata identity. Only a send that
Slack certainly refused (429, or an error code) is retried blind.

What counts as an attempt (a row dies after ``max_attempts``): a send that failed. A 429 (Slack
processed nothing and said when to come back) and a failed read (the channel list, the search for an
earlier post: nothing was sent) only delay the row. A channel missing from a complete listing is the
operator's to fix: the row waits as dead for ``bucketlens alerts retry-dead``, and the operator is told.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bucketlens.alerts.blocks import render, render_resolved_reply
from bucketlens.alerts.notification import Notification
from bucketlens.alerts.outbox import Outbox, OutboxRow, utc_naive
from bucketlens.alerts.preview import PreviewSender
from bucketlens.alerts.senders import CHANNEL_LIST_METHOD, Sender, SendError, SlackSender
from bucketlens.leased_queue import DrainCounts

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
# Dagster stops a sensor evaluation after 60 s: a drain stops claiming rows after this much wall time
# (what it claimed finishes: at most one row's calls, each bounded by the sender's timeout).
DEFAULT_DEADLINE = timedelta(seconds=40)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
RECONCILE_MARGIN = timedelta(minutes=5)  # Slack's clock and ours may disagree a little
EDIT_TARGET_GONE = ("message_not_found", "cant_update_message", "edit_window_closed")
# The channel itself is the problem (an operator's fix, not a retry's): the rows wait as dead for
# ``bucketlens alerts retry-dead``, and one meta-alert per channel says so in the fallback channel.
CHANNEL_ERRORS = ("channel_not_found", "not_in_channel", "is_archived")
# Notices about delivery itself: when one cannot be delivered either, it is not announced again.
DELIVERY_NOTICES = ("dead:", "channel_missing:")
CRASH_POINTS = ("before_send", "after_send", "after_mark")


class SimulatedCrash(BaseException):
    """Raised by a test's crash hook: a BaseException, so it escapes like a killed process would."""


@dataclass
class DeliveryReport(DrainCounts):
    """What one drain did (``DrainCounts``): ``waiting`` rows wait for their original; ``reconciled``
    were found already posted; ``skipped`` were claimed elsewhere; ``missing_channels`` counts, per
    channel as routed, the notifications that died because the channel is missing (or the bot is not
    in it)."""

    reconciled: int = 0
    skipped: int = 0
    missing_channels: dict[str, int] = field(default_factory=dict)


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
            f"after {attempts} attempt{'s' if attempts != 1 else ''}: {error}. It is kept: "
            "`bucketlens alerts retry-dead` sends it again."
        ),
    )


def missing_channel_hint(channel: str) -> str:
    """What the operator does about a missing channel: the same words in Slack, the UI and the CLI."""
    name = channel.lstrip("#")
    return (
        f"create #{name} or invite the bot into it, then run `bucketlens alerts retry-dead --channel {name}`"
    )


def _channel_missing_notice(channel: str, rows: list[OutboxRow], error: str, fallback: str) -> Notification:
    """One meta-alert per missing channel and drain, in the fallback channel: the operator must act."""
    digest = hashlib.sha256("\n".join(sorted(r.identity for r in rows)).encode()).hexdigest()[:16]
    titles = "; ".join(r.notification.title for r in rows[:5]) + (" …" if len(rows) > 5 else "")
    return Notification(
        identity=f"channel_missing:{channel}:{digest}",
        kind="meta",
        channel=fallback or channel,
        severity="critical",
        title=f"Slack channel {channel} is missing: {len(rows)} notification(s) held",
        group_key="",
        text=(
            f"{len(rows)} notification(s) routed to {channel} could not be posted ({error}); they are kept "
            f"as dead, not lost ({titles}). To deliver them: {missing_channel_hint(channel)}."
        ),
    )


@dataclass
class _Drain:
    outbox: Outbox
    sender: Sender
    clock: Callable[[], datetime]  # a test's clock, or the real time at each step
    rng: random.Random
    crash: Callable[[str, str], None] | None
    report: DeliveryReport
    fallback_channel: str = ""
    listing_failure: SendError | None = None  # the channel listing failed in this drain: don't hammer it
    missing: dict[str, list[OutboxRow]] = field(default_factory=dict)
    missing_error: dict[str, str] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        """The time of this step: a claim's lease starts when the row is claimed, not when the drain did."""
        return utc_naive(self.clock())

    def _hook(self, step: str, identity: str) -> None:
        if self.crash is not None:
            self.crash(step, identity)

    def row(self, due: OutboxRow) -> None:
        if _target(self.outbox, due.notification).mode == "wait":
            self.report.waiting += 1
            return
        claimed_at = self.now
        row = self.outbox.claim(due.identity, claimed_at)
        if row is None:
            self.report.skipped += 1
            return
        # From here on only the row as claimed counts: another drain may have tried it since ``due``
        # was read, and left it uncertain (its message may be in Slack already).
        n = row.notification
        target = _target(self.outbox, n)
        if target.mode == "wait":  # the original went back to pending meanwhile (an operator's retry)
            self.outbox.release(row.identity, row.claim_token, row.next_attempt_at, row.last_error, counts_as_attempt=False)  # fmt: skip
            self.report.waiting += 1
            return
        try:
            self._attempt(row, n, target)
        except SendError as err:
            self._failed(row, n, err, claimed_at)
        except Exception as err:  # unexpected: keep the row, count the try, assume it may have posted
            self._failed(row, n, SendError("uncertain", f"{type(err).__name__}: {err}"), claimed_at)

    def _channel_id(self, channel: str) -> str:
        """The sender's lookup, except that after a failed channel listing the other rows of this drain
        fail the same way at once (retried later) instead of asking a rate-limited Slack again."""
        if self.listing_failure is not None:
            raise self.listing_failure
        try:
            return self.sender.channel_id(channel)
        except SendError as err:
            if err.method == CHANNEL_LIST_METHOD:
                self.listing_failure = err
            raise

    def _attempt(self, row: OutboxRow, n: Notification, target: _Target) -> None:
        token = row.claim_token
        if row.uncertain_since is not None:
            found = self._reconcile(row, n, target)
            if found is not None:
                self.outbox.mark_sent(row.identity, token, found[0], found[1], self.now)
                self.report.reconciled += 1
                return
        if row.attempts >= self.outbox.max_attempts:
            self._die(row, n, row.last_error or "too many attempts", counts_as_attempt=False)
            return
        self._hook("before_send", row.identity)
        channel_id, ts = self._send(n, target)
        self._hook("after_send", row.identity)
        self.outbox.mark_sent(row.identity, token, channel_id, ts, self.now)
        self._hook("after_mark", row.identity)
        self.report.sent += 1

    def _send(self, n: Notification, target: _Target) -> tuple[str, str]:
        args = render(n, self.sender.ui_url)
        channel_id = target.channel_id or self._channel_id(n.channel)
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
        channel_id = target.channel_id or self._channel_id(n.channel)
        oldest = utc_naive(row.uncertain_since) - RECONCILE_MARGIN
        upload_text = render(n, self.sender.ui_url)["text"] if n.attachment_path else None
        for thread_ts in ([target.ref_ts] if target.ref_ts else []) + [None]:
            ts = self.sender.find_message(
                channel_id, n.identity, oldest, thread_ts=thread_ts, upload_text=upload_text
            )
            if ts:
                return channel_id, ts
        return None

    def _failed(self, row: OutboxRow, n: Notification, err: SendError, claimed_at: datetime) -> None:
        token = row.claim_token
        if err.kind == "permanent":
            self._die(row, n, str(err), channel_error=err.code in CHANNEL_ERRORS)
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
        if err.kind == "transient":  # a read failed (the channel list, the search): nothing was sent
            self.outbox.release(
                row.identity, token, self.now + self._read_backoff(row), str(err), counts_as_attempt=False
            )
            self.report.retried += 1
            return
        # uncertain: a send that may have reached Slack; the next attempt looks for it first
        self.outbox.release(
            row.identity,
            token,
            self.now + backoff(row.attempts + 1, self.rng),
            str(err),
            uncertain_since=claimed_at,
        )
        self.report.retried += 1

    def _read_backoff(self, row: OutboxRow) -> timedelta:
        """The wait after a failed read. It is not an attempt (attempts count sends, and a row dies of
        too many), so the wait grows with the row's age instead: a quarter of it, 2 s to 10 min."""
        age = (self.now - utc_naive(row.created_at)).total_seconds()
        ceiling = min(BACKOFF_CAP_SECONDS, max(BACKOFF_BASE_SECONDS, age / 4))
        return timedelta(seconds=ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def _die(
        self,
        row: OutboxRow,
        n: Notification,
        error: str,
        *,
        counts_as_attempt: bool = True,
        channel_error: bool = False,
    ) -> None:
        attempts = row.attempts + (1 if counts_as_attempt else 0)
        if not self.outbox.mark_dead(
            row.identity, row.claim_token, error, counts_as_attempt=counts_as_attempt
        ):
            return
        self.report.dead += 1
        if row.identity.startswith(DELIVERY_NOTICES):
            return  # a notice about delivery that cannot be delivered is not announced again
        if channel_error:
            self.report.missing_channels[n.channel] = self.report.missing_channels.get(n.channel, 0) + 1
            self.missing.setdefault(n.channel, []).append(row)
            self.missing_error.setdefault(n.channel, error)
        else:
            self.outbox.enqueue(_dead_notice(n, error, attempts), self.now)

    def announce_missing_channels(self) -> None:
        """One meta-alert per channel that swallowed notifications this drain, sent in this drain."""
        for channel, rows in sorted(self.missing.items()):
            fallback = (
                self.fallback_channel if self.fallback_channel.lstrip("#") != channel.lstrip("#") else ""
            )
            notice = _channel_missing_notice(channel, rows, self.missing_error[channel], fallback)
            if self.outbox.enqueue(notice, self.now):
                stored = self.outbox.get(notice.identity)
                if stored is not None:
                    self.row(stored)
        self.missing = {}


def deliver_once(
    outbox: Outbox,
    sender: Sender,
    now: datetime | None = None,
    limit: int = 100,
    lease: timedelta = DEFAULT_LEASE,
    *,
    rng: random.Random | None = None,
    crash: Callable[[str, str], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    deadline: timedelta = DEFAULT_DEADLINE,
    fallback_channel: str = "",
) -> DeliveryReport:
    """Drain up to ``limit`` due notifications once (what the delivery sensor does each tick).

    ``lease`` must exceed the sender's timeout: a claim older than that is taken for a dead drain's.
    After ``deadline`` of wall time no further row is claimed (the rest are ``deferred`` to the next
    drain), so a tick ends well within Dagster's sensor timeout. ``fallback_channel`` receives the
    meta-alert about a missing channel. Time is ``now`` (fixed), else ``clock()`` at each step, else
    the real time. ``crash(step, identity)`` is a test hook called at each of ``CRASH_POINTS``.
    """
    fixed = utc_naive(now) if now else None
    drain = _Drain(
        outbox,
        sender,
        (lambda: fixed) if fixed else (clock or utc_naive),
        rng or random.Random(),
        crash,
        DeliveryReport(),
        fallback_channel,
    )
    stop_at = time.monotonic() + deadline.total_seconds()
    outbox.recover_expired(drain.now, lease)
    rows = outbox.due(drain.now, limit)
    for i, row in enumerate(rows):
        if time.monotonic() >= stop_at:
            drain.report.deferred = len(rows) - i
            break
        drain.row(row)
    drain.announce_missing_channels()
    return drain.report
