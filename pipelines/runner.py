"""Materialize daily partitions in-process (5 s a run instead of 16 s with subprocesses), one run per
day so each day shows as its own run in the UI, with a progress line per day."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg

from pipelines.jobs import RAW_DAILY_JOB


@dataclass
class DayOutcome:
    day: date
    success: bool
    seconds: float
    run_id: str
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)  # asset -> metadata values
    failed_checks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _plain(value: object) -> object:
    return getattr(value, "value", value)


def run_day(defs: dg.Definitions, instance: dg.DagsterInstance, day: date, job_name: str = RAW_DAILY_JOB) -> DayOutcome:
    job = defs.resolve_job_def(job_name)
    started = time.perf_counter()
    result = job.execute_in_process(
        partition_key=day.isoformat(), instance=instance, raise_on_error=False, tags={"bucketlens/launched_by": "cli"}
    )
    outcome = DayOutcome(day, result.success, time.perf_counter() - started, result.run_id)
    for event in result.get_asset_materialization_events():
        mat = event.asset_materialization
        outcome.metadata[mat.asset_key.to_user_string()] = {k: _plain(v) for k, v in mat.metadata.items()}
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            outcome.failed_checks.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    for failure in result.get_step_failure_events():
        error = failure.step_failure_data.error
        message = (error.cause.message if error and error.cause else error.message if error else "failed").strip()
        outcome.errors.append(f"{failure.step_key}: {message.splitlines()[0] if message else 'failed'}")
    return outcome


def progress_line(index: int, total: int, outcome: DayOutcome) -> str:
    """One line per day: what loaded, what was quarantined, what failed."""
    m = outcome.metadata
    parts = []
    if "inventory_objects" in m:
        parts.append(f"{m['inventory_objects'].get('rows', 0):>9,} object versions")
    if "access_log_requests" in m:
        parts.append(f"{m['access_log_requests'].get('rows', 0):>8,} requests")
        quarantined = m["access_log_requests"].get("quarantined_lines", 0)
        if quarantined:
            parts.append(f"{quarantined} lines quarantined")
    if "cost_line_items" in m:
        cost = m["cost_line_items"]
        parts.append(f"cost ${cost.get('day_cost_usd', 0):,.2f}" if cost.get("day_covered") else "cost: no CUR yet")
    status = "ok " if outcome.success else "FAILED"
    line = f"[{index:>3}/{total}] {outcome.day} {status} {outcome.seconds:5.1f}s  " + " · ".join(parts)
    if outcome.errors:
        line += "\n        " + "\n        ".join(outcome.errors)
    return line


def run_days(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    days: list[date],
    echo: Callable[[str], None] = print,
    job_name: str = RAW_DAILY_JOB,
) -> list[DayOutcome]:
    outcomes = []
    for i, day in enumerate(days, start=1):
        outcome = run_day(defs, instance, day, job_name)
        echo(progress_line(i, len(days), outcome))
        outcomes.append(outcome)
    return outcomes
