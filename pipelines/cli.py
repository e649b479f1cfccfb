"""``bucketlens`` command line: generate data, run partitions, run the demo, start the UI.

Configuration comes from environment variables (``bucketlens.settings``); flags override them.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime, timedelta

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
    from bucketlens.synthetic import generate

    summary = generate(
        args.out,
        args.start,
        args.days,
        args.users,
        seed=args.seed,
        inventory_format=args.inventory_format,
        anomalies=not args.no_anomalies,
        progress=print,
    )
    print(
        f"Generated {summary.days} days ({summary.start} .. {summary.end}) for {summary.users:,} users under {summary.out_dir}\n"
        f"  inventory rows {summary.inventory_rows_total:,} (last day {summary.objects_last_day:,} objects) · "
        f"access-log lines {summary.access_log_lines:,} in {summary.access_log_objects:,} objects · "
        f"CUR line items {summary.cur_line_items:,} in {len(summary.cur_exports)} billing period(s)\n"
        f"  labelled anomalies: {summary.anomalies} -> {summary.labels_path}\n"
        f"  users DB: {summary.users_db_path}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.definitions import defs
    from pipelines.instance import persistent_instance
    from pipelines.runner import chunks, days_between, run_days

    settings = _apply_overrides(args)
    days = days_between(args.start, args.end or args.start)
    instance = persistent_instance(settings)
    chunk = args.chunk_days or len(days)
    runs = len(chunks(days, chunk))
    print(
        f"Materializing {len(days)} day(s) from {settings.source} into {settings.warehouse_path} "
        f"as {runs} run(s) of up to {chunk} day(s) (a range is one run, as a UI backfill is)"
    )
    outcomes = run_days(defs(), instance, days, chunk_days=chunk)
    failed = [o for o in outcomes if not o.success]
    print(
        f"{len(outcomes) - len(failed)} of {len(outcomes)} day(s) succeeded in {runs} run(s); "
        "runs are in the Dagster UI (bucketlens ui)."
    )
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    settings = _apply_overrides(argparse.Namespace(home=args.home))
    return run_demo(settings, users=args.users, days=args.days, end=args.end or _yesterday(), seed=args.seed)


def cmd_config(args: argparse.Namespace) -> int:
    """Every setting as this process resolves it (flags applied), and where each value came from."""
    from bucketlens.settings import describe

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


BENCH_DEFAULT_OBJECTS = {"inventory-load": 10_000_000, "attribution": 20_000_000}
BENCH_DEFAULT_FORMAT = {"inventory-load": "csv", "attribution": "parquet"}


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from exc


def cmd_bench_anomaly(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from pipelines.quality import default_cases, run_quality_bench

    cases = default_cases(args.seeds, args.users or [300, 1000], args.days, args.injections)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bucketlens-quality-"))
    print(f"Detector quality on {len(cases)} generated case(s) under {workdir}")
    return run_quality_bench(cases, workdir, Path(args.json) if args.json else None)


def cmd_bench(args: argparse.Namespace) -> int:
    from pipelines.bench import run_attribution, run_inventory_load

    if args.case == "anomaly":
        return cmd_bench_anomaly(args)
    if args.case in ("suite", "access-log"):
        from pipelines.bench import main as bench_main

        argv = [args.case, "--sizes", args.sizes, "--log-sizes", args.log_sizes, "--lines", args.lines]
        argv += ["--include-100m"] if args.include_100m else []
        argv += ["--json", args.json] if args.json else []
        argv += ["--workdir", args.workdir] if args.workdir else []
        return bench_main(argv)
    if args.case == "daily":
        from bucketlens.benchmarks.suite import parse_size
        from pipelines.bench import run_daily

        users = args.users[0] if args.users else 100_000
        return run_daily(args.objects or 10_000_000, users, parse_size(args.requests), args.warm_days,
                         args.workdir, args.json)  # fmt: skip

    objects = args.objects or BENCH_DEFAULT_OBJECTS[args.case]
    inventory_format = args.inventory_format or BENCH_DEFAULT_FORMAT[args.case]
    if args.case == "attribution":
        return run_attribution(objects, inventory_format, args.workdir)
    return run_inventory_load(objects, inventory_format, args.workdir)


def _with_settings(handler):
    """A handler taking (args, settings), with the flag overrides applied first."""
    return lambda args: handler(args, _apply_overrides(args))


def build_parser() -> argparse.ArgumentParser:
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
    bench = sub.add_parser("bench", help="measured performance figures (opt-in; takes minutes)")
    bench.add_argument(
        "case", choices=["suite", "access-log", "daily", "inventory-load", "attribution", "anomaly"]
    )
    bench.add_argument(
        "--objects",
        type=int,
        help="objects in the generated inventory (default: 10 M inventory-load and daily, 20 M attribution)",
    )
    bench.add_argument(
        "--inventory-format",
        choices=["csv", "parquet"],
        help="default: csv inventory-load, parquet attribution",
    )
    bench.add_argument("--workdir", help="where to put the generated data (default: system temp)")
    quality = bench.add_argument_group("anomaly (detector precision/recall)")
    quality.add_argument("--seeds", type=_int_list, default=[7, 11], help="generator seeds (default 7,11)")
    quality.add_argument(
        "--users", type=_int_list, help="populations (default 300,1000; daily: one value, default 100000)"
    )
    quality.add_argument("--days", type=int, default=28, help="days per case with anomalies (default 28)")
    quality.add_argument(
        "--injections", type=int, default=4, help="anomalies injected per pattern (default 4)"
    )
    quality.add_argument("--json", help="also write the figures as JSON to this path")
    suite = bench.add_argument_group(
        "suite / access-log (scale: bucketlens vs pandas vs the Parquet scan floor)"
    )
    suite.add_argument("--sizes", default="1M,10M", help="inventory sizes (default 1M,10M; e.g. 1M,10M,50M)")
    suite.add_argument("--include-100m", action="store_true", help="add a 100 M-object inventory")
    suite.add_argument("--log-sizes", default="1M,10M", help="access-log sizes in lines (default 1M,10M)")
    suite.add_argument("--lines", default="2M", help="access-log lines for the access-log case (default 2M)")
    daily = bench.add_argument_group("daily (the whole daily job at scale; also --objects, --users)")
    daily.add_argument("--requests", default="5M", help="access-log requests per day (default 5M)")
    daily.add_argument(
        "--warm-days", type=int, default=1, help="days run before the measured day (default 1)"
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    import warnings

    import dagster as dg

    # BackfillPolicy is marked beta in Dagster 1.13; the CLI output is for operators, not for that notice.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"bucketlens {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
