"""``bucketlens actions list|show|approve|reject|lift|deliver|list-dead|retry-dead|enable-endpoint``.

They work on the alert database and the rules file only, so they run while Dagster runs hold the
warehouse, and without the daemon (``actions deliver`` is the action delivery sensor's tick, once).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from bucketlens.actions.model import lift_id
from bucketlens.settings import Settings
from pipelines.cli_alerts import current_user

LIST_COLUMNS = (
    "request",
    "state",
    "mode",
    "action",
    "user",
    "rule",
    "data of",
    "decided by",
    "webhook",
    "lift",
)


@contextmanager
def _store(settings: Settings) -> Iterator:
    """The action store of the settings' outbox database, disposed on leaving. Why a context: every
    command opens it, reads or changes a little, and must dispose of it even when that fails."""
    from bucketlens.actions.store import ActionStore

    store = ActionStore(settings.outbox_db)
    try:
        yield store
    finally:
        store.dispose()


def _delivery(store, request_id: str) -> tuple[str, str]:
    rows = {r.identity: r for r in store.outbox.rows_of(request_id)}
    sent, lift = rows.get(request_id), rows.get(lift_id(request_id))
    return (sent.state if sent else "-"), (
        f"{lift.state} {lift.next_attempt_at:%m-%d %H:%M}" if lift else "-"
    )


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        requests = store.requests(state=args.state, limit=args.limit)
        now = datetime.now(UTC).replace(tzinfo=None)
        table = []
        for r in requests:
            state = r.state
            if state == "awaiting_approval" and r.approval_deadline and r.approval_deadline <= now:
                state += " (overdue)"
            table.append((r.request_id, state, r.mode, r.action, r.user_id, r.rule, r.usage_date,
                          r.decided_by or "-", *_delivery(store, r.request_id)))  # fmt: skip
    if not table:
        print("no action requests" + (f" in state {args.state}" if args.state else ""))
        return 0
    widths = [max(len(str(x)) for x in col) for col in zip(LIST_COLUMNS, *table, strict=False)]
    for row in (LIST_COLUMNS, *table):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    waiting = sum(1 for r in requests if r.state == "awaiting_approval")
    if waiting:
        print(
            f'{waiting} waiting: `bucketlens actions approve ID --reason "…"` or `bucketlens actions reject ID --reason "…"`'
        )
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        r = store.get(args.id)
        log = store.log_of(args.id)
        webhook, lift = _delivery(store, args.id)
    print(f"{r.request_id}: {r.action} user {r.user_id} ({r.rule}, {r.mode}) — {r.state}")
    print(f"  alert {r.alert_key}, episode from {r.episode}, data of {r.usage_date}, severity {r.severity}")
    print(f"  why: {r.reason}")
    if r.decided_by:
        print(f"  decided by {r.decided_by} at {r.decided_at:%Y-%m-%d %H:%M:%S} UTC: {r.decision_reason}")
    if r.approval_deadline and r.state == "awaiting_approval":
        print(f"  approve before {r.approval_deadline:%Y-%m-%d %H:%M} UTC")
    if r.expires_at:
        print(f"  in effect from {r.effective_at:%Y-%m-%d %H:%M} until {r.expires_at:%Y-%m-%d %H:%M} UTC")
    print(f"  webhook: {webhook}; lift: {lift}")
    for e in log:
        status = f" [{e.status_code}]" if e.status_code is not None else ""
        print(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.event:<15} {e.actor}{status}: {e.detail}")
    return 0


def cmd_decide(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        done = store.decide(args.id, args.decision, args.by or current_user(), args.reason, datetime.now(UTC))
    r = done.request
    if done.outcome == "approved":
        lift = f"; its lift is due {r.expires_at:%Y-%m-%d %H:%M} UTC" if r.expires_at else ""
        print(f"{r.request_id} approved: {r.action} user {r.user_id} queued as webhook-id {r.request_id}{lift}. "
              "The action delivery sensor (or `bucketlens actions deliver`) sends it.")  # fmt: skip
    else:
        print(f"{r.request_id} rejected: nothing is sent to the service.")
    return 0


def cmd_lift(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        moved = store.lift(args.id, args.by or current_user(), args.reason, datetime.now(UTC))
    print(f"{args.id}: lift " + ("queued now" if moved else "already sent or in flight; nothing changed"))
    return 0


def cmd_deliver(args: argparse.Namespace, settings: Settings) -> int:
    from resources import resolved_resources
    from sensors.action_delivery import action_tick

    with resolved_resources(settings) as r:
        report = action_tick(r.actions, r.rules, limit=args.limit)
    print(f"Response actions: {report.line()}")
    for warning in report.warnings():
        print(f"warning: {warning}")
    return 1 if report.error or report.delivery.dead else 0


def cmd_list_dead(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        rows = store.outbox.dead(limit=args.limit)
    for row in rows:
        print(
            f"  dead: {row.identity} ({row.kind} {row.event_type}), {row.attempts} attempt(s): {row.last_error}"
        )
    print(
        f"{len(rows)} dead"
        + (": `bucketlens actions retry-dead` sends them again under the same ids" if rows else "")
    )
    return 0


def cmd_retry_dead(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        moved = store.outbox.retry_dead(now=datetime.now(UTC))
    print(
        f"{moved} dead webhook(s)/email(s) back to pending (same ids: the service still applies each once)."
    )
    return 0


def cmd_enable_endpoint(args: argparse.Namespace, settings: Settings) -> int:
    with _store(settings) as store:
        enabled = store.enable_endpoints()
    print("enabled again: " + (", ".join(enabled) if enabled else "none was disabled"))
    return 0


def add_parsers(sub, with_settings) -> None:
    """Register ``bucketlens actions …``; ``with_settings`` wraps a handler with the flag overrides."""
    actions = sub.add_parser("actions", help="response actions: approve, reject, lift, deliver")
    a = actions.add_subparsers(dest="actions_command", required=True)
    listing = a.add_parser("list", help="action requests, newest first")
    listing.add_argument("--state", help="only this state (awaiting_approval, requested, dry_run, …)")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=with_settings(cmd_list))
    show = a.add_parser("show", help="one request and its audit")
    show.add_argument("id")
    show.set_defaults(func=with_settings(cmd_show))
    parsers = [listing, show]
    for decision in ("approve", "reject"):
        p = a.add_parser(decision, help=f"{decision} a request waiting for approval")
        p.add_argument("id")
        p.add_argument("--reason", required=True, help="why (goes into the audit and Slack)")
        p.add_argument("--by", help="who decides (default: the current user)")
        p.set_defaults(func=with_settings(cmd_decide), decision=decision)
        parsers.append(p)
    lift = a.add_parser("lift", help="end a throttle or upload block now (sends bucketlens.action.lifted)")
    lift.add_argument("id")
    lift.add_argument("--reason", required=True)
    lift.add_argument("--by", help="who lifts it (default: the current user)")
    lift.set_defaults(func=with_settings(cmd_lift))
    deliver = a.add_parser("deliver", help="send due webhooks and emails once (what the sensor does)")
    deliver.add_argument("--limit", type=int, default=200)
    deliver.set_defaults(func=with_settings(cmd_deliver))
    dead = a.add_parser("list-dead", help="webhooks and emails that could not be delivered")
    dead.add_argument("--limit", type=int, default=50)
    dead.set_defaults(func=with_settings(cmd_list_dead))
    retry = a.add_parser("retry-dead", help="send every dead webhook and email again (same ids)")
    retry.set_defaults(func=with_settings(cmd_retry_dead))
    enable = a.add_parser("enable-endpoint", help="send to an endpoint that answered 410 Gone again")
    enable.set_defaults(func=with_settings(cmd_enable_endpoint))
    for p in (*parsers, lift, deliver, dead, retry, enable):
        p.add_argument("--home", help="default $BUCKETLENS_HOME")
