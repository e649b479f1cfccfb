"""``bucketlens`` command line: generate data, run partitions, run the demo, start the UI.

Configuration comes from environment variables (``bucketlens.settings``); flags override them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

from bucketlens.logs import configure as configure_logs
from bucketlens.logs import get_logger, log_event
from bucketlens.settings import Settings


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def _apply_overrides(args: argparse.Namespace) -> Settings:
    """Flags win over the environment: write them into it, so Dagster code servers see the same."""
    if getattr(args, "home", None):
        os.environ["BUCKETLENS_HOME"] = args.home
    if getattr(args, "source", None):
        os.environ["BUCKETLENS_SOURCE"] = args.source
    if getattr(args, "users_db", None):
        os.environ["BUCKETLENS_USERS_DB"] = args.users_db
    settings = Settings.from_env()
    os.environ["BUCKETLENS_HOME"] = str(settings.home)
    os.environ["BUCKETLENS_SOURCE"] = settings.source
    return settings


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.progress import day_progress, use_bars
    from synthetic import generate

    started = time.perf_counter()
    log = get_logger("cli")
    with day_progress(args.days, use_bars(Settings.from_env().log_format), log) as day_written:
        summary = generate(
            args.out,
            args.start,
            args.days,
            args.users,
            seed=args.seed,
            inventory_format=args.inventory_format,
            anomalies=not args.no_anomalies,
            progress=day_written,
        )
    log_event(
        log,
        "generate_finished",
        f"Generated {summary.days} days ({summary.start} .. {summary.end}) for {summary.users:,} users under {summary.out_dir} "
        f"in {time.perf_counter() - started:.1f}s\n"
        f"  inventory rows {summary.inventory_rows_total:,} (last day {summary.objects_last_day:,} objects) · "
        f"access-log lines {summary.access_log_lines:,} in {summary.access_log_objects:,} objects · "
        f"CUR line items {summary.cur_line_items:,} in {len(summary.cur_exports)} billing period(s)\n"
        f"  labelled anomalies: {summary.anomalies} -> {summary.labels_path}\n"
        f"  users DB: {summary.users_db_path}",
        days=summary.days, users=summary.users, out=str(summary.out_dir),
        seconds=round(time.perf_counter() - started, 2), inventory_rows=summary.inventory_rows_total,
        access_log_lines=summary.access_log_lines, cur_line_items=summary.cur_line_items,
        anomalies=summary.anomalies,
    )  # fmt: skip
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.definitions import defs
    from pipelines.instance import persistent_instance
    from pipelines.runner import LOG, chunks, days_between, run_days

    settings = _apply_overrides(args)
    days = days_between(args.start, args.end or args.start)
    instance = persistent_instance(settings)
    chunk = args.chunk_days or len(days)
    runs = len(chunks(days, chunk))
    log_event(
        LOG,
        "run_started",
        f"Materializing {len(days)} day(s) from {settings.source} into {settings.warehouse_path} "
        f"as {runs} run(s) of up to {chunk} day(s) (a range is one run, as a UI backfill is)",
        start=days[0].isoformat(), end=days[-1].isoformat(), runs=runs, source=settings.source,
    )  # fmt: skip
    outcomes = run_days(defs(), instance, days, chunk_days=chunk)
    failed = [o for o in outcomes if not o.success]
    log_event(
        LOG,
        "run_finished",
        f"{len(outcomes) - len(failed)} of {len(outcomes)} day(s) succeeded in {runs} run(s); "
        "runs are in the Dagster UI (bucketlens ui).",
        succeeded=len(outcomes) - len(failed), failed=len(failed), runs=runs,
    )  # fmt: skip
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    settings = _apply_overrides(argparse.Namespace(home=args.home))
    return run_demo(settings, users=args.users, days=args.days, end=args.end or _yesterday(), seed=args.seed)


def cmd_config(args: argparse.Namespace) -> int:
    """Every setting as this process resolves it (flags applied), and where each value came from."""
    from bucketlens.settings_table import describe

    before = dict(os.environ)  # where values came from, before the flags are written into it
    settings = _apply_overrides(args)
    flags = {"BUCKETLENS_HOME": args.home, "BUCKETLENS_SOURCE": args.source}
    rows = [
        (name, value, "flag" if flags.get(name) else origin)
        for name, value, origin in describe(settings, before)
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, origin in rows:
        print(f"{name:<{width}}  {value}  [{origin}]")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from pipelines.ui import serve

    settings = _apply_overrides(args)
    return serve(settings, args.host, args.port, with_daemon=not args.no_daemon)


def run_benchmarks(argv: list[str]) -> int:
    """``bucketlens bench …`` runs ``python -m benchmarks …``: the benchmarks are their own package,
    outside the runtime's imports (they drive the runtime, so the runtime must never import them)."""
    return subprocess.run([sys.executable, "-m", "benchmarks", *argv], check=False).returncode


def _with_settings(handler):
    """A handler taking (args, settings), with the flag overrides applied first."""
    return lambda args: handler(args, _apply_overrides(args))


def build_parser() -> argparse.ArgumentParser:
    from pipelines.cli_actions import add_parsers as add_action_parsers
    from pipelines.cli_alerts import add_parsers as add_alert_parsers

    parser = argparse.ArgumentParser(prog="bucketlens", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser(
        "generate", help="write synthetic data in AWS's real formats (with labelled anomalies)"
    )
    gen.add_argument("--out", required=True, help="directory to write (becomes a source root)")
    gen.add_argument("--start", type=_date, required=True, help="first day, YYYY-MM-DD")
    gen.add_argument("--days", type=int, default=35)
    gen.add_argument("--users", type=int, default=2000)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--inventory-format", choices=["csv", "parquet"], default="csv")
    gen.add_argument("--no-anomalies", action="store_true", help="a normal month: inject no anomalies")
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="materialize daily partitions in-process")
    run.add_argument("--source", help="local directory or s3://bucket/prefix (default $BUCKETLENS_SOURCE)")
    run.add_argument("--start", type=_date, required=True)
    run.add_argument("--end", type=_date, help="last day (default: --start)")
    run.add_argument("--home", help="default $BUCKETLENS_HOME")
    run.add_argument("--users-db", help="SQLAlchemy URL (default $BUCKETLENS_USERS_DB)")
    run.add_argument(
        "--chunk-days",
        type=int,
        default=0,
        help="split the range into runs of this many days, for progress as each finishes (default: one run)",
    )
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="generate a realistic month and run every day of it")
    demo.add_argument("--users", type=int, default=2000)
    demo.add_argument("--days", type=int, default=35)
    demo.add_argument("--end", type=_date, help="last day (default: yesterday, UTC)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--home", help="default $BUCKETLENS_HOME")
    demo.set_defaults(func=cmd_demo)

    config = sub.add_parser("config", help="show every setting as resolved (secrets withheld)")
    config.add_argument("--home", help="default $BUCKETLENS_HOME")
    config.add_argument("--source", help="default $BUCKETLENS_SOURCE")
    config.set_defaults(func=cmd_config)

    ui = sub.add_parser("ui", help="start the Dagster webserver and daemon")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--home", help="default $BUCKETLENS_HOME")
    ui.add_argument("--no-daemon", action="store_true", help="webserver only (no schedules or sensors)")
    ui.set_defaults(func=cmd_ui)
    add_alert_parsers(sub, _with_settings)
    add_action_parsers(sub, _with_settings)
    bench = sub.add_parser(
        "bench",
        help="measured performance figures (opt-in; takes minutes): `bucketlens bench --help` lists the cases",
        add_help=False,
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)  # handed whole to `python -m benchmarks`
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    import dagster as dg

    # BackfillPolicy is marked beta in Dagster 1.13; the CLI output is for operators, not for that notice.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return run_benchmarks(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        configure_logs(Settings.from_env().log_format)
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"bucketlens {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
