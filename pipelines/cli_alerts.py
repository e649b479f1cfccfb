"""``bucketlens alerts deliver|list-dead|retry-dead``, ``bucketlens rules check`` and
``bucketlens silence add|list|expire``.

They work on the outbox database and the rules file only, so they run while Dagster runs hold the
warehouse, and without the daemon (``alerts deliver`` is the delivery sensor's tick, once).
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
from datetime import UTC, datetime, timedelta

from bucketlens.settings import Settings

DURATION = re.compile(r"^(\d+)([mhd])$")


def _duration(text: str) -> timedelta:
    match = DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 4h or 2d")
    n, unit = int(match[1]), match[2]
    return timedelta(minutes=n) if unit == "m" else timedelta(hours=n) if unit == "h" else timedelta(days=n)


def current_user() -> str:
    """Who runs the command, for the record; a uid without a passwd entry (common in containers) is
    named by its number instead of failing the command."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def cmd_alerts_deliver(args: argparse.Namespace, settings: Settings) -> int:
    from resources import resolved_resources
    from sensors.alert_delivery import deliver_tick

    with resolved_resources(settings) as r:
        report = deliver_tick(r.outbox, r.slack, r.rules, limit=args.limit)
    target = "Slack" if settings.slack_enabled else f"the preview {settings.slack_preview_path}"
    print(f"Delivered to {target}: {report.line()}")
    for warning in report.warnings():
        print(f"warning: {warning}")
    if report.delivery.dead:
        _print_dead(settings.outbox_db, limit=10)
    return 1 if report.delivery.dead or report.rules_error else 0


def _print_dead(url: str, limit: int, channel: str | None = None) -> int:
    from bucketlens.alerts.outbox import Outbox

    box = Outbox(url)
    try:
        rows = box.dead(limit=limit, channel=channel)
        by_channel = box.dead_by_channel()
    finally:
        box.dispose()
    for row in rows:
        print(f"  dead: {row.identity} → {row.channel}, {row.attempts} attempt(s): {row.last_error}")
    total = sum(n for c, n in by_channel.items() if not channel or c.lstrip("#") == channel.lstrip("#"))
    if total > len(rows):
        print(f"  … {total - len(rows)} more")
    if total:
        per_channel = ", ".join(f"{c} {n}" for c, n in sorted(by_channel.items()))
        print(
            f"dead per channel: {per_channel}. `bucketlens alerts retry-dead --channel C` sends them again."
        )
    return total


def cmd_alerts_list_dead(args: argparse.Namespace, settings: Settings) -> int:
    if not _print_dead(settings.outbox_db, limit=args.limit, channel=args.channel):
        print("no dead notifications" + (f" for {args.channel}" if args.channel else ""))
    return 0


def cmd_alerts_retry_dead(args: argparse.Namespace, settings: Settings) -> int:
    from bucketlens.alerts.outbox import Outbox

    if bool(args.channel) == bool(args.all):
        print("error: retry-dead needs --channel C (the channel you fixed) or --all")
        return 2
    box = Outbox(settings.outbox_db)
    try:
        moved = box.retry_dead(channel=args.channel, now=datetime.now(UTC))
    finally:
        box.dispose()
    scope = f" of {args.channel}" if args.channel else ""
    print(
        f"{moved} dead notification(s){scope} back to pending (attempts reset, identities kept: a message "
        "that did reach Slack is found, not posted again). The next delivery tick or "
        "`bucketlens alerts deliver` sends them."
    )
    return 0


def cmd_rules_check(args: argparse.Namespace, settings: Settings) -> int:
    from bucketlens.alerts.rules import check_rules_file

    lines = check_rules_file(args.file)
    for line in lines:
        print(line)
    return 1 if any(line.startswith("error: ") for line in lines) else 0


def cmd_silence(args: argparse.Namespace, settings: Settings) -> int:
    from bucketlens.alerts.silences import SilenceError, add_silence, expire_silence, list_silences

    url = settings.outbox_db
    now = datetime.now(UTC)
    try:
        if args.action == "add":
            by = args.by or current_user()
            silence_id = add_silence(url, args.matchers, args.reason, by, now + args.duration, now=now)
            print(
                f"silence {silence_id} until {(now + args.duration):%Y-%m-%d %H:%M} UTC: {' '.join(args.matchers)}"
            )
        elif args.action == "expire":
            expire_silence(url, args.id, now=now)
            print(f"silence {args.id} expired")
        else:
            silences = list_silences(url, include_expired=args.all, now=now)
            if not silences:
                print("no silences" if args.all else "no active silences")
            for s in silences:
                state = "active" if s.active(now) else "expired"
                matchers = " ".join(str(m) for m in s.matchers)
                print(
                    f"{s.id}  {state:<7} until {s.expires_at:%Y-%m-%d %H:%M}  {matchers}  — {s.reason} ({s.created_by})"
                )
    except SilenceError as exc:
        print(f"error: {exc}")
        return 2
    return 0


def add_parsers(sub, with_settings) -> None:
    """Register the alerting commands; ``with_settings`` wraps a handler with the flag overrides."""
    alerts = sub.add_parser("alerts", help="alert delivery")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    deliver = alerts_sub.add_parser(
        "deliver", help="drain the alert outbox once (what the delivery sensor does)"
    )
    deliver.add_argument("--limit", type=int, default=200, help="notifications to send at most (default 200)")
    deliver.add_argument("--home", help="default $BUCKETLENS_HOME")
    deliver.set_defaults(func=with_settings(cmd_alerts_deliver))
    list_dead = alerts_sub.add_parser("list-dead", help="notifications that could not be delivered")
    list_dead.add_argument("--channel", help="only those routed to this channel")
    list_dead.add_argument("--limit", type=int, default=50, help="rows to show at most (default 50)")
    list_dead.set_defaults(func=with_settings(cmd_alerts_list_dead))
    retry = alerts_sub.add_parser(
        "retry-dead", help="send dead notifications again (after creating the channel / inviting the bot)"
    )
    retry.add_argument("--channel", help="only those routed to this channel (#name or name)")
    retry.add_argument("--all", action="store_true", help="every dead notification")
    retry.set_defaults(func=with_settings(cmd_alerts_retry_dead))
    for p in (list_dead, retry):
        p.add_argument("--home", help="default $BUCKETLENS_HOME")

    rules = sub.add_parser("rules", help="the rules file")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="validate a rules file (thresholds, alert rules, routing)")
    check.add_argument("file")
    check.set_defaults(func=with_settings(cmd_rules_check))

    silence = sub.add_parser("silence", help="mute matching alerts for a while")
    silence_sub = silence.add_subparsers(dest="action", required=True)
    add = silence_sub.add_parser(
        "add", help="add a silence: bucketlens silence add rule=rapid_upload user_id=1042"
    )
    add.add_argument("matchers", nargs="+", help="label=value or label=~regex (all must match)")
    add.add_argument("--reason", required=True)
    add.add_argument(
        "--for", dest="duration", type=_duration, default=timedelta(hours=4), help="e.g. 30m, 4h, 2d"
    )
    add.add_argument("--by", default=None, help="who adds it (default: the current user)")
    listing = silence_sub.add_parser("list", help="active silences")
    listing.add_argument("--all", action="store_true", help="include expired ones")
    expire = silence_sub.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    for p in (add, listing, expire):
        p.add_argument("--home", help="default $BUCKETLENS_HOME")
        p.set_defaults(func=with_settings(cmd_silence))
