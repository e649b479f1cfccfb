"""Materialize daily partitions in-process, a range of days per run, with a progress line per day.

Every asset has ``BackfillPolicy.single_run()``, so a week is one run rather than seven (in-process runs
cost ~5 s each instead of ~16 s with subprocesses, and starting runs would otherwise dominate). Each
asset reports its figures per day (``per_day`` metadata), from which the progress lines are printed.
"""

import gc
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg

from assets.jobs import DAILY_JOB
from assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from bucketlens.logs import get_logger, log_event
from pipelines.progress import RunBars

DEFAULT_CHUNK_DAYS = 7

# The console shows one progress line per day; each run's full event log (with tracebacks) stays in the
# Dagster instance, where the UI shows it.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
LOG = get_logger("cli")
# Python's cyclic collector, at its default thresholds, walked the definitions and the instance (long-
# lived, hundreds of thousands of objects) over and over: 2.5 s of the demo's main thread in a profile.
GC_THRESHOLDS = (20_000, 20, 20)


@contextmanager
def settled_gc() -> Iterator[None]:
    """While runs execute: what exists now (the loaded definitions, the instance) out of the collector's
    reach, and the young generation collected less often (what a run creates is still collected).
    Undone afterwards, so that exiting frees everything (DuckDB's bindings report objects left over)."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@dataclass
class DayOutcome:
    day: date
    success: bool
    seconds: float  # the run's wall time shared evenly over its days
    run_id: str
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)  # asset -> that day's figures
    failed_checks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def chunks(days: list[date], size: int) -> list[list[date]]:
    """Consecutive days in runs of at most ``size`` (a gap starts a new chunk)."""
    out: list[list[date]] = []
    for day in sorted(days):
        if out and len(out[-1]) < size and day == out[-1][-1] + timedelta(days=1):
            out[-1].append(day)
        else:
            out.append([day])
    return out


def _errors(result: dg.ExecuteInProcessResult) -> list[str]:
    messages = []
    for failure in result.get_step_failure_events():
        data = failure.step_failure_data
        if data.user_failure_data and data.user_failure_data.description:
            # an expected condition (a dg.Failure): its own one-line description, without the class name
            messages.append(f"{failure.step_key}: {data.user_failure_data.description.strip()}")
            continue
        error = data.error
        cause = error.cause if error and error.cause else error
        message = (cause.message if cause else "failed").strip()
        messages.append(f"{failure.step_key}: {message.splitlines()[0] if message else 'failed'}")
    return messages


def run_range(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    days: list[date],
    job_name: str = DAILY_JOB,
    on_event: Callable[[dg.EventLogEntry], None] | None = None,
    selection: Sequence[dg.AssetKey] | None = None,
) -> list[DayOutcome]:
    """One run materializing ``days`` (consecutive); one outcome per day. ``on_event`` sees each of
    the run's events as the instance stores it (a progress bar follows the steps with it);
    ``selection``, if given, is the subset of the job's assets the run materializes."""
    job = defs.resolve_job_def(job_name)
    run_id = str(uuid.uuid4())
    if on_event is not None:
        instance.add_event_listener(run_id, on_event)
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        run_id=run_id,
        raise_on_error=False,
        tags={
            RANGE_START_TAG: days[0].isoformat(),
            RANGE_END_TAG: days[-1].isoformat(),
            "bucketlens/launched_by": "cli",
        },
        run_config=QUIET_CONSOLE,
        asset_selection=selection,
    )
    seconds = (time.perf_counter() - started) / len(days)
    outcomes = {d: DayOutcome(d, result.success, seconds, result.run_id) for d in days}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        per_day = mat.metadata.get("per_day")
        for day_text, figures in (per_day.value if per_day else {}).items():
            day = date.fromisoformat(day_text)
            if day in outcomes:
                outcomes[day].metadata[mat.asset_key.to_user_string()] = figures
    failed_checks = [
        f"{e.asset_key.to_user_string()}:{e.check_name}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
    errors = _errors(result)
    for outcome in outcomes.values():
        outcome.failed_checks, outcome.errors = failed_checks, errors
    return [outcomes[d] for d in days]


def progress_line(index: int, total: int, outcome: DayOutcome) -> str:
    """One line per day: what loaded, what was quarantined, what it cost."""
    m = outcome.metadata
    parts = []
    if "inventory_objects" in m:
        parts.append(f"{m['inventory_objects'].get('rows', 0):>9,} object versions")
    if "access_log_requests" in m:
        parts.append(f"{m['access_log_requests'].get('rows', 0):>7,} requests")
        quarantined = m["access_log_requests"].get("quarantined_lines", 0)
        if quarantined:
            parts.append(f"{quarantined} lines quarantined")
    if m.get("cdn_requests", {}).get("requests"):
        parts.append(f"{m['cdn_requests']['requests']:>7,} CDN requests")
    if "user_daily_cost" in m:
        cost = m["user_daily_cost"]
        kind = "estimated" if cost.get("is_estimate") else "billed"
        parts.append(
            f"${cost.get('allocated_usd', 0):,.2f} {kind}, split over {cost.get('users_with_cost', 0):,} users"
        )
    elif "cost_line_items" in m:
        cost = m["cost_line_items"]
        parts.append(
            f"cost ${cost.get('day_cost_usd', 0):,.2f}" if cost.get("day_covered") else "cost: no CUR yet"
        )
    status = "ok " if outcome.success else "FAILED"
    return f"[{index:>3}/{total}] {outcome.day} {status} {outcome.seconds:4.1f}s  " + " · ".join(parts)


def log_day(index: int, total: int, outcome: DayOutcome) -> None:
    """The day's progress line as a ``day_done`` event: readable text, or JSON with the figures."""
    m = outcome.metadata
    fields = {
        "day": outcome.day.isoformat(),
        "success": outcome.success,
        "seconds": round(outcome.seconds, 2),
        "run_id": outcome.run_id,
        "object_versions": m.get("inventory_objects", {}).get("rows"),
        "requests": m.get("access_log_requests", {}).get("rows"),
        "quarantined_lines": m.get("access_log_requests", {}).get("quarantined_lines"),
        "cdn_requests": m.get("cdn_requests", {}).get("requests"),
        "cost_usd": m.get("user_daily_cost", {}).get("allocated_usd"),
        "cost_is_estimate": m.get("user_daily_cost", {}).get("is_estimate"),
        "failed_checks": outcome.failed_checks,
    }
    level = logging.INFO if outcome.success else logging.ERROR
    log_event(LOG, "day_done", progress_line(index, total, outcome), level, **fields)


def run_days(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    days: list[date],
    report: Callable[[int, int, DayOutcome], None] = log_day,
    job_name: str = DAILY_JOB,
    chunk_days: int = DEFAULT_CHUNK_DAYS,
    bars: bool = False,
    selection: Sequence[dg.AssetKey] | None = None,
) -> list[DayOutcome]:
    """Run ``days`` in chunks of ``chunk_days`` consecutive days, reporting each day as its chunk
    finishes, and the errors of a failed chunk once; with ``bars``, a progress bar per run (on a
    terminal: see ``pipelines.progress``). ``selection``: only these assets of the job."""
    with settled_gc():
        outcomes: list[DayOutcome] = []
        runs = chunks(days, chunk_days)
        steps = len(selection) if selection else len(defs.resolve_job_def(job_name).graph.node_dict)
        run_bars = RunBars(len(runs), steps) if bars else None
        for index, chunk in enumerate(runs, 1):
            with run_bars.run(index, chunk) if run_bars else nullcontext() as on_event:
                results = run_range(defs, instance, chunk, job_name, on_event, selection)
            for outcome in results:
                outcomes.append(outcome)
                report(len(outcomes), len(days), outcome)
            for error in results[0].errors:
                log_event(LOG, "step_failed", f"        {error}", logging.ERROR, error=error)
    return outcomes
