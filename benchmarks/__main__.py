"""``bucketlens bench CASE …`` (``python -m benchmarks CASE …``): measured, rerunnable performance figures.

Cases: ``suite`` (per-user storage and access-log parsing at scale: bucketlens vs naive pandas vs the bare
scan), ``access-log`` (parsing alone), ``daily`` (the whole daily job at scale), ``inventory-load``,
``attribution`` and ``anomaly`` (detector precision and recall on labelled months). docs/performance.md
explains what each measures and how.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.commands import run_access_log, run_attribution, run_daily, run_inventory_load, run_suite
from benchmarks.suite import parse_size

DEFAULT_OBJECTS = {"inventory-load": 10_000_000, "attribution": 20_000_000, "daily": 10_000_000}
DEFAULT_FORMAT = {"inventory-load": "csv", "attribution": "parquet"}


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from exc


def _anomaly(args: argparse.Namespace) -> int:
    from benchmarks.quality import default_cases, run_quality_bench

    cases = default_cases(args.seeds, args.users or [300, 1000], args.days, args.injections)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bucketlens-quality-"))
    print(f"Detector quality on {len(cases)} generated case(s) under {workdir}")
    return run_quality_bench(cases, workdir, Path(args.json) if args.json else None)


def run(args: argparse.Namespace) -> int:
    """Dispatch one case with its defaults."""
    if args.case == "anomaly":
        return _anomaly(args)
    if args.case == "access-log":
        return run_access_log(parse_size(args.lines), args.workdir, args.json)
    if args.case == "suite":
        sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
        sizes += [100_000_000] if args.include_100m else []
        logs = [parse_size(s) for s in args.log_sizes.split(",") if s.strip()]
        return run_suite(sizes, logs, args.workdir, args.json)
    objects = args.objects or DEFAULT_OBJECTS[args.case]
    if args.case == "daily":
        users = args.users[0] if args.users else 100_000
        return run_daily(
            objects, users, parse_size(args.requests), args.warm_days, args.workdir, args.json, args.keep
        )
    inventory_format = args.inventory_format or DEFAULT_FORMAT[args.case]
    if args.case == "attribution":
        return run_attribution(objects, inventory_format, args.workdir)
    return run_inventory_load(objects, inventory_format, args.workdir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bucketlens bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "case", choices=["suite", "access-log", "daily", "inventory-load", "attribution", "anomaly"]
    )
    parser.add_argument(
        "--objects",
        type=int,
        help="objects in the generated inventory (default: 10 M inventory-load and daily, 20 M attribution)",
    )
    parser.add_argument(
        "--inventory-format",
        choices=["csv", "parquet"],
        help="default: csv inventory-load, parquet attribution",
    )
    parser.add_argument("--workdir", help="where to put the generated data (default: system temp)")
    parser.add_argument("--json", help="also write the figures as JSON to this path")
    quality = parser.add_argument_group("anomaly (detector precision/recall)")
    quality.add_argument("--seeds", type=_int_list, default=[7, 11], help="generator seeds (default 7,11)")
    quality.add_argument(
        "--users", type=_int_list, help="populations (default 300,1000; daily: one value, default 100000)"
    )
    quality.add_argument("--days", type=int, default=28, help="days per case with anomalies (default 28)")
    quality.add_argument(
        "--injections", type=int, default=4, help="anomalies injected per pattern (default 4)"
    )
    suite = parser.add_argument_group(
        "suite / access-log (scale: bucketlens vs pandas vs the Parquet scan floor)"
    )
    suite.add_argument("--sizes", default="1M,10M", help="inventory sizes (default 1M,10M; e.g. 1M,10M,50M)")
    suite.add_argument("--include-100m", action="store_true", help="add a 100 M-object inventory")
    suite.add_argument("--log-sizes", default="1M,10M", help="access-log sizes in lines (default 1M,10M)")
    suite.add_argument("--lines", default="2M", help="access-log lines for the access-log case (default 2M)")
    daily = parser.add_argument_group("daily (the whole daily job at scale; also --objects, --users)")
    daily.add_argument("--requests", default="5M", help="access-log requests per day (default 5M)")
    daily.add_argument(
        "--warm-days", type=int, default=1, help="days run before the measured day (default 1)"
    )
    daily.add_argument(
        "--keep",
        action="store_true",
        help="leave the generated sources, warehouse and Dagster instance in place (the path is printed)",
    )
    return parser


if __name__ == "__main__":
    sys.exit(run(build_parser().parse_args()))
