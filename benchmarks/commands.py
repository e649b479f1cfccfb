"""``bucketlens bench``: measured, rerunnable performance figures.

``inventory-load`` generates one S3 Inventory partition of N objects and loads it through the real
``inventory_objects`` asset in a child process, so the peak RSS reported is that of the load alone
(``wait4`` rusage of the child), not of the generator or of this parent.

``attribution`` generates one inventory partition and its day's bill (untimed, in this process), then
times the real ``user_daily_storage`` + ``user_daily_cost`` assets and the naive pandas baseline
(``benchmarks.naive_pandas``) each in its own child process, checks that both computed the
same rows exactly, and reports the wall-time and peak-RSS ratios against the issue's targets.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from benchmarks.clock import cores

BENCH_DAY = date(2026, 10, 1)


@dataclass
class LoadMeasurement:
    objects: int
    inventory_format: str
    rows_loaded: int
    source_bytes: int
    generate_seconds: float
    load_seconds: float
    peak_rss_mib: float
    rows_per_second: float


def _child_load(source: str, home: str, day: str) -> None:
    """Runs in the child: materialize one inventory partition, print the row count as JSON."""
    import dagster as dg

    from assets.raw import inventory_objects
    from bucketlens.settings import Settings
    from resources import build_resources

    os.environ.update({"BUCKETLENS_HOME": home, "BUCKETLENS_SOURCE": source})
    result = dg.materialize(
        [inventory_objects], partition_key=day, resources=build_resources(Settings.from_env())
    )
    (event,) = result.get_asset_materialization_events()
    print(json.dumps({"rows": event.materialization.metadata["rows"].value}))


def scratch_dir(prefix: str, workdir: str | None, keep: bool = False) -> AbstractContextManager[str]:
    """A temporary directory for one benchmark's data, under ``--workdir`` (created if missing). With
    ``keep`` it is left in place afterwards, so its warehouse and sources can be inspected or profiled."""
    if workdir:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    if keep:
        return nullcontext(tempfile.mkdtemp(prefix=prefix, dir=workdir))
    return tempfile.TemporaryDirectory(prefix=prefix, dir=workdir)


def measure_inventory_load(objects: int, inventory_format: str, workdir: Path, echo=print) -> LoadMeasurement:
    from synthetic import generate_inventory_snapshot

    source, home = workdir / "source", workdir / "home"
    echo(f"generating a {objects:,}-object {inventory_format} inventory for {BENCH_DAY} in {source} ...")
    started = time.perf_counter()
    generate_inventory_snapshot(source, BENCH_DAY, objects, seed=1, inventory_format=inventory_format)
    generate_seconds = time.perf_counter() - started
    source_bytes = sum(p.stat().st_size for p in (source / "inventory").rglob("*") if p.is_file())
    echo(
        f"generated in {generate_seconds:.1f}s ({source_bytes / 2**20:,.0f} MiB); loading in a child process ..."
    )
    started = time.perf_counter()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.commands",
            "--child",
            str(source),
            str(home),
            BENCH_DAY.isoformat(),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    load_seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"inventory load failed with exit code {child.returncode}")
    rows = json.loads(out.strip().splitlines()[-1])["rows"]
    return LoadMeasurement(
        objects=objects,
        inventory_format=inventory_format,
        rows_loaded=rows,
        source_bytes=source_bytes,
        generate_seconds=round(generate_seconds, 1),
        load_seconds=round(load_seconds, 1),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        rows_per_second=round(rows / load_seconds),
    )


def run_inventory_load(objects: int, inventory_format: str, workdir: str | None) -> int:
    with scratch_dir("bucketlens-bench-", workdir) as tmp:
        m = measure_inventory_load(objects, inventory_format, Path(tmp))
    print(
        f"\ninventory-load  {m.objects:>12,} objects ({m.inventory_format})  loaded {m.rows_loaded:,} rows in "
        f"{m.load_seconds:.1f}s ({m.rows_per_second:,.0f} rows/s), peak RSS {m.peak_rss_mib:,.0f} MiB"
    )
    print(json.dumps({"inventory_load": asdict(m)}))
    return 0


# Done-when of the issue "Per-user usage and cost attribution".
ATTRIBUTION_TIME_RATIO_TARGET = 0.15
ATTRIBUTION_RSS_TARGET_MIB = 1024


@dataclass
class ChildMeasurement:
    """One side of a benchmark: its own report (the child's last stdout line), wall time, peak RSS."""

    report: dict
    wall_seconds: float
    peak_rss_mib: float


def measure_child(argv: list[str]) -> ChildMeasurement:
    """Run ``python argv`` through a small launcher process; wall time and peak RSS are the launcher's
    ``wait4`` figures for that child.

    Why a launcher: on Linux a process's ``ru_maxrss`` starts at the RSS of the process it was forked
    from (``exec`` keeps the old address space's high-water mark), so a child spawned from this parent
    after the multi-GB setup would report this parent's peak, not its own. The launcher is a fresh
    interpreter of ~15 MiB, so what its child reports is the child's own peak.
    """
    launcher = subprocess.run(
        [sys.executable, "-m", "benchmarks.commands", "--measure", *argv], stdout=subprocess.PIPE, text=True
    )
    if launcher.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed with exit code {launcher.returncode}")
    m = json.loads(launcher.stdout.strip().splitlines()[-1])
    return ChildMeasurement(m["report"], round(m["wall_seconds"], 2), round(m["peak_rss_kib"] / 1024, 1))


def _launch_and_measure(argv: list[str]) -> int:
    """The launcher (``python -m benchmarks.commands --measure ARGV``): run ``python ARGV``, print one JSON
    line with its last stdout line (its report), wall seconds and peak RSS (KiB on Linux)."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        return code
    report = json.loads(out.strip().splitlines()[-1])
    print(json.dumps({"report": report, "wall_seconds": wall, "peak_rss_kib": usage.ru_maxrss}))
    return 0


def _measured_load(source: Path, home: Path, day: date) -> float:
    """The ``inventory_objects`` load of ``prepare`` in its own measured child; its peak RSS (MiB)."""
    m = measure_child(["-m", "benchmarks.commands", "--child", str(source), str(home), day.isoformat()])
    return m.peak_rss_mib


def _side(m: ChildMeasurement, rows: int) -> dict:
    seconds = float(m.report["seconds"])
    return {
        **{k: v for k, v in m.report.items() if k != "seconds"},
        "seconds": seconds,
        "process_seconds": m.wall_seconds,
        "rows_per_second": round(rows / seconds) if seconds else None,
        "peak_rss_mib": m.peak_rss_mib,
    }


def measure_attribution(
    objects: int, inventory_format: str, workdir: Path, echo=print, pandas: bool = True
) -> dict:
    """Set up, time both sides, compare; the ``attribution`` JSON object (``agree`` says if they did;
    None when ``pandas`` is False and only bucketlens ran)."""
    from benchmarks.attribution import compare, prepare

    p = prepare(
        workdir, objects, BENCH_DAY, inventory_format=inventory_format, echo=echo, load=_measured_load
    )
    echo(
        f"{p.inventory_rows:,} inventory rows of {p.users:,} users, bill ${p.billed_usd} in {p.line_items} "
        "line items; timing bucketlens (user_daily_storage + user_daily_cost) in a child process ..."
    )
    ours = measure_child(["-m", "benchmarks.attribution", str(p.home), str(p.source), BENCH_DAY.isoformat()])
    base = {
        "objects": p.objects,
        "inventory_format": inventory_format,
        "inventory_rows": p.inventory_rows,
        "inventory_parquet": str(p.inventory_parquet),
        "users": p.users,
        "line_items": p.line_items,
        "billed_usd": p.billed_usd,
        "generate_seconds": p.generate_seconds,
        "load_seconds": p.load_seconds,
        "load_peak_rss_mib": p.load_peak_rss_mib,
        # generation, the bill and the pandas inputs' export ran in this process
        "setup_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bucketlens": _side(ours, p.inventory_rows),
    }
    if not pandas:
        return {**base, "pandas": None, "agree": None}
    echo(
        f"bucketlens: {ours.report['seconds']:.1f}s; timing the naive pandas baseline in a child process ..."
    )
    pandas_out = workdir / "pandas_out"
    theirs = measure_child(
        ["-m", "benchmarks.naive_pandas", str(p.inventory_parquet), str(p.line_items_parquet),
         BENCH_DAY.isoformat(), str(pandas_out)]
    )  # fmt: skip
    echo(f"pandas: {theirs.report['seconds']:.1f}s; comparing the two results ...")
    c = compare(p, pandas_out)
    bucketlens, pandas = _side(ours, p.inventory_rows), _side(theirs, p.inventory_rows)
    time_ratio = bucketlens["seconds"] / pandas["seconds"]
    return {
        **base,
        "pandas": pandas,
        "time_ratio": round(time_ratio, 4),
        "process_time_ratio": round(bucketlens["process_seconds"] / pandas["process_seconds"], 4),
        "rss_ratio": round(bucketlens["peak_rss_mib"] / pandas["peak_rss_mib"], 4),
        "targets": {"time_ratio": ATTRIBUTION_TIME_RATIO_TARGET, "peak_rss_mib": ATTRIBUTION_RSS_TARGET_MIB},
        "time_target_met": time_ratio <= ATTRIBUTION_TIME_RATIO_TARGET,
        "rss_target_met": bucketlens["peak_rss_mib"] <= ATTRIBUTION_RSS_TARGET_MIB,
        "agree": c.agree,
        "comparison": {
            "storage_rows": c.storage_rows,
            "cost_rows": c.cost_rows,
            "users_compared": c.users,
            "storage_mismatches": c.storage_mismatches,
            "cost_mismatches": c.cost_mismatches,
            "user_storage_mismatches": c.user_storage_mismatches,
            "user_cost_mismatches": c.user_cost_mismatches,
            "billed_micro": c.billed_micro,
            "bucketlens_total_micro": c.bucketlens_total_micro,
            "pandas_total_micro": c.pandas_total_micro,
            "examples": c.examples,
        },
    }


def attribution_table(r: dict) -> str:
    """The human-readable report: one row per side, then the ratios against the targets."""
    b, p = r["bucketlens"], r["pandas"]
    verdict = {True: "PASS", False: "MISS"}
    lines = [
        f"attribution  {r['inventory_rows']:,} inventory rows, {r['users']:,} users, "
        f"{r['line_items']} line items (${r['billed_usd']}), day {BENCH_DAY}",
        f"  DuckDB: memory_limit {b['duckdb_memory_limit']}, threads {b['duckdb_threads']}",
        "",
        f"  {'side':<11}{'wall s':>9}{'process s':>11}{'rows/s':>14}{'peak RSS MiB':>14}   steps",
        f"  {'bucketlens':<11}{b['seconds']:>9.2f}{b['process_seconds']:>11.2f}{b['rows_per_second']:>14,}"
        f"{b['peak_rss_mib']:>14,.0f}   storage {b['user_daily_storage_seconds']:.2f}s, "
        f"cost {b['user_daily_cost_seconds']:.2f}s",
        f"  {'pandas':<11}{p['seconds']:>9.2f}{p['process_seconds']:>11.2f}{p['rows_per_second']:>14,}"
        f"{p['peak_rss_mib']:>14,.0f}   read {p['read_seconds']:.2f}s, storage "
        f"{p['user_daily_storage_seconds']:.2f}s, cost {p['user_daily_cost_seconds']:.2f}s, "
        f"write {p['write_seconds']:.2f}s",
        "",
        f"  wall time bucketlens/pandas  {r['time_ratio']:.3f}x  (target <= {r['targets']['time_ratio']}x)  "
        f"{verdict[r['time_target_met']]}   [whole processes: {r['process_time_ratio']:.3f}x]",
        f"  peak RSS bucketlens          {b['peak_rss_mib']:,.0f} MiB  (target <= "
        f"{r['targets']['peak_rss_mib']:,} MiB)  {verdict[r['rss_target_met']]}   "
        f"[pandas {p['peak_rss_mib']:,.0f} MiB, ratio {r['rss_ratio']:.3f}]",
        f"  results agree                {'yes' if r['agree'] else 'NO'}  "
        f"({r['comparison']['storage_rows']:,} storage rows, {r['comparison']['cost_rows']:,} cost rows, "
        f"{r['comparison']['users_compared']:,} users, exact)",
    ]
    lines += [f"    {e}" for e in r["comparison"]["examples"]]
    return "\n".join(lines)


def run_attribution(objects: int, inventory_format: str, workdir: str | None) -> int:
    with scratch_dir("bucketlens-bench-", workdir) as tmp:
        r = measure_attribution(objects, inventory_format, Path(tmp))
    print("\n" + attribution_table(r))
    print(json.dumps({"attribution": r}))
    if not r["agree"]:
        print("bucketlens bench attribution: the two implementations DISAGREE (see above)", file=sys.stderr)
        return 1
    return 0


def run_access_log(lines: int, workdir: str | None, json_path: str | None = None) -> int:
    """``bucketlens bench access-log --lines N``: parse throughput against pandas and the floor."""
    return run_suite([], [lines], workdir, json_path)


def run_suite(
    sizes: list[int], log_sizes: list[int], workdir: str | None, json_path: str | None = None
) -> int:
    """``bucketlens bench [suite]``: every inventory size and log size, one table and one JSON."""
    from benchmarks.suite import machine_load, measure_access_log, measure_inventory, suite_table

    results: dict = {
        "load_before": machine_load(),
        "cores": cores(),
        "inventory": [],
        "access_log": [],
        "failed": [],
    }
    with scratch_dir("bucketlens-bench-", workdir) as tmp:
        for objects in sizes:
            where = Path(tmp) / f"inventory-{objects}"
            with _case(results, f"storage {objects:,}"):
                results["inventory"].append(
                    measure_inventory(objects, where, measure_attribution, measure_child)
                )
            shutil.rmtree(where, ignore_errors=True)  # a 100 M case needs the disk the 10 M one used
        for lines in log_sizes:
            with _case(results, f"access-log {lines:,} lines"):
                results["access_log"].append(measure_access_log(lines, Path(tmp), BENCH_DAY, measure_child))
    results["load_after"] = machine_load()
    print("\n" + suite_table(results))
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(json.dumps({"suite": results}, default=str))
    disagree = [r for r in results["inventory"] + results["access_log"] if r["agree"] is False]
    return 1 if disagree or results["failed"] else 0


DAILY_DAY = date(2026, 10, 2)


def run_daily(
    objects: int,
    users: int,
    requests: int,
    warm_days: int,
    workdir: str | None,
    json_path: str | None = None,
    keep: bool = False,
) -> int:
    """``bucketlens bench daily``: generate every source for ``warm_days`` + 1 days (untimed), run the
    daily job for the warm-up days (so the measured day has yesterday's state, as in production), then
    deliver the measured day's logs, parse them as the hourly runs would (``access_log_objects``), and
    run the daily job for that day. Each run is a child process measured by the launcher."""
    from benchmarks.daily import DAILY_SECONDS_TARGET, daily_table
    from benchmarks.daily_data import days_ending, deliver_held_logs, generate_daily_source
    from benchmarks.suite import machine_load

    results: dict = {"load_before": machine_load(), "days": []}
    days = days_ending(DAILY_DAY, warm_days + 1)
    with scratch_dir("bucketlens-bench-daily-", workdir, keep) as tmp:
        source, home, held = Path(tmp) / "source", Path(tmp) / "home", Path(tmp) / "held"
        print(f"generating {len(days)} day(s) of sources under {source} (untimed) ...")
        started = time.perf_counter()
        generated = generate_daily_source(source, days, objects, users, requests, hold_last_logs=held)
        results["generate_seconds"] = round(time.perf_counter() - started, 1)
        results["source"] = {k: v for k, v in asdict(generated).items() if k not in ("root", "days")}
        plan = [(day, "warm-up", False) for day in days[:-1]]
        plan += [(days[-1], "hourly parse", True), (days[-1], "measured", False)]
        for day, role, parse in plan:
            if parse:
                print(f"delivering {deliver_held_logs(held, source)} log objects of {day}")
            print(f"running {'access_log_objects' if parse else 'the daily job'} for {day} ({role}) ...")
            argv = ["-m", "benchmarks.daily", str(home), str(source), day.isoformat()]
            m = measure_child(argv + (["parse"] if parse else []))
            results["days"].append(
                {**m.report, "role": role, "process_seconds": m.wall_seconds, "peak_rss_mib": m.peak_rss_mib}
            )
            print(f"  {day}: {m.report['seconds']:.1f}s, peak RSS {m.peak_rss_mib:,.0f} MiB")
    parse, measured = results["days"][-2:]
    results["target_seconds"] = DAILY_SECONDS_TARGET
    results["target_met"] = measured["success"] and measured["seconds"] <= DAILY_SECONDS_TARGET
    results["with_parse_seconds"] = round(parse["seconds"] + measured["seconds"], 2)
    results["with_parse_cpu_seconds"] = round(parse["cpu_seconds"] + measured["cpu_seconds"], 2)
    results["cores"] = cores()
    results["load_after"] = machine_load()
    print("\n" + daily_table(results))
    if keep:
        print(f"kept: sources in {source}, warehouse and Dagster instance in {home}")
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(json.dumps({"daily": results}, default=str))
    return 0 if all(d["success"] for d in results["days"]) else 1


@contextmanager
def _case(results: dict, name: str):
    """A case that fails (disk full, out of memory) is reported in the table; the others still count."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - any failure of one case is a result to report, not a crash
        results["failed"].append({"case": name, "error": f"{type(exc).__name__}: {exc}"[:400]})
        print(f"{name}: FAILED ({type(exc).__name__}: {str(exc)[:200]})")


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "--child":
    _child_load(*sys.argv[2:])
elif __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--measure":
    sys.exit(_launch_and_measure(sys.argv[2:]))
