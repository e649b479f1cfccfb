"""The timed side of ``bucketlens bench daily``: one day of the daily job, as the schedule runs it.

Run as ``python -m benchmarks.daily HOME SOURCE DAY`` in a child process (the bench's
launcher measures its wall time and peak RSS). It materializes every asset of the daily job for DAY
in one run against the persistent Dagster instance under HOME — the same code path as ``bucketlens
run`` and the daily schedule — and prints one JSON line: the run's seconds, each step's seconds (from
Dagster's step stats, so the table says where the time goes), the checks that failed, and the day's
headline figures, so a run that "succeeded" on empty inputs cannot pass for a result.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from datetime import date

from benchmarks.clock import clock


def run_day(home: str, source: str, day: date, parse_only: bool = False) -> dict:
    """Materialize the daily job for ``day`` (or, with ``parse_only``, only ``access_log_objects``: what
    the hourly runs do through the day); its timings and figures."""
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    os.environ.update({"BUCKETLENS_HOME": home, "BUCKETLENS_SOURCE": source})
    os.environ.pop("BUCKETLENS_USERS_DB", None)  # the source's users.sqlite
    from assets.jobs import DAILY_JOB
    from bucketlens.settings import Settings
    from pipelines.definitions import defs
    from pipelines.instance import persistent_instance
    from pipelines.runner import run_range

    instance = persistent_instance(Settings.from_env())
    job = "bench_parse" if parse_only else DAILY_JOB
    with clock() as took:
        (outcome,) = run_range(_with_parse_job(defs()), instance, [day], job)
    steps = {
        s.step_key: round(s.end_time - s.start_time, 2)
        for s in instance.get_run_step_stats(outcome.run_id)
        if s.end_time and s.start_time
    }
    return {
        "day": day.isoformat(),
        "success": outcome.success,
        **took.report(),
        "steps": dict(sorted(steps.items(), key=lambda kv: -kv[1])),
        "failed_checks": outcome.failed_checks,
        "errors": outcome.errors,
        "figures": _figures(outcome.metadata),
    }


def _with_parse_job(defs):
    """The deployment's definitions plus a job of ``access_log_objects`` alone (the hourly parse)."""
    import dagster as dg

    parse = dg.define_asset_job("bench_parse", selection=dg.AssetSelection.assets("access_log_objects"))
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[parse]))


def _figures(metadata: dict[str, dict]) -> dict:
    """The day's headline numbers, from the assets' own metadata."""
    pick = {
        "inventory_objects": ("rows", "users_with_objects"),
        "access_log_objects": ("log_objects_parsed_now", "lines_parsed_now", "records"),
        "access_log_requests": ("rows", "quarantined_lines", "duplicates_removed"),
        "user_daily_storage": ("users_storing", "stored_bytes"),
        "user_daily_requests": ("requests", "active_users"),
        "user_daily_cost": ("billed_usd", "allocated_usd", "users_with_cost", "is_estimate"),
        "abuse_flags": ("flags",),
        "alert_events": ("firing", "new", "notifications_enqueued"),
    }
    out = {}
    for asset, names in pick.items():
        figures = metadata.get(asset, {})
        out[asset] = {n: figures[n] for n in names if n in figures}
    return out


DAILY_SECONDS_TARGET = 60  # issue 8: 10 M objects, 100 k users, 5 M requests


def daily_table(r: dict) -> str:
    """The report of ``bucketlens bench daily``: each run, the verdict, where the measured day's time went."""
    s = r["source"]
    rows = [
        f"load: {r['load_before']}",
        "",
        f"daily run  {s['objects']:,} objects/day ({s['owners']:,} owners) · {s['users']:,} users · "
        f"{s['requests']:,} requests/day ({s['log_lines']:,} lines in {s['log_objects']} log objects) · "
        f"sources generated in {r['generate_seconds']:.0f}s (untimed)",
        "",
        f"{'run':<28}{'run s':>8}{'CPU s':>8}{'process s':>11}{'peak RSS MiB':>14}  result",
    ]
    for d in r["days"]:
        rows.append(f"{d['day'] + ' ' + d['role']:<28}{d['seconds']:>8.1f}{d['cpu_seconds']:>8.1f}"
                    f"{d['process_seconds']:>11.1f}{d['peak_rss_mib']:>14,.0f}  {_result(d)}")  # fmt: skip
    measured = r["days"][-1]
    verdict = "met" if r["target_met"] else f"MISSED by {measured['seconds'] / DAILY_SECONDS_TARGET:.2f}x"
    rows += [
        "",
        f"target: the daily run <= {DAILY_SECONDS_TARGET} s -> {measured['seconds']:.1f} s, {verdict} "
        f"(with the day's hourly parses in the same run: {r['with_parse_seconds']:.1f} s)",
        _cpu_line(r),
        "steps of the measured daily run (s):",
    ]
    steps = list(measured["steps"].items())
    for i in range(0, len(steps), 3):
        rows.append("  " + "   ".join(f"{k:<28}{v:>7.1f}" for k, v in steps[i : i + 3]))
    if measured["failed_checks"]:
        rows.append(f"failed checks: {', '.join(measured['failed_checks'])}")
    rows.append(f"load: {r['load_after']}")
    return "\n".join(rows)


def _cpu_line(r: dict) -> str:
    """What the measured day's work needs of the cores: its CPU seconds divided by the cores is the least
    wall time any schedule of that work could take here, whatever the target says."""
    cores, measured, both = r["cores"], r["days"][-1]["cpu_seconds"], r["with_parse_cpu_seconds"]
    return (
        f"CPU: the measured run {measured:.1f} s, with the hourly parses {both:.1f} s; on {cores} cores at "
        f"least {measured / cores:.1f} s and {both / cores:.1f} s of wall time"
    )


def _result(d: dict) -> str:
    """One run's outcome and headline figures."""
    if not d["success"]:
        return "FAILED " + "; ".join(d["errors"])[:120]
    f = d["figures"]
    if d["role"] == "hourly parse":
        parsed = f.get("access_log_objects", {})
        return f"ok · {parsed.get('lines_parsed_now', 0):,} lines of {parsed.get('log_objects_parsed_now', 0)} objects parsed"
    cost = f.get("user_daily_cost", {})
    return (
        f"ok · {f.get('inventory_objects', {}).get('rows', 0):,} versions"
        f" · {f.get('access_log_requests', {}).get('rows', 0):,} requests"
        f" · ${cost.get('allocated_usd', 0):,.2f} split over {cost.get('users_with_cost', 0):,} users"
    )


if __name__ == "__main__":
    home_arg, source_arg, day_arg = sys.argv[1:4]
    parse = sys.argv[4:5] == ["parse"]
    print(json.dumps(run_day(home_arg, source_arg, date.fromisoformat(day_arg), parse), default=str))
