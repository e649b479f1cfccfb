"""Synthetic source data for bucketlens (``bucketlens generate``): a photo-backup service's S3 bucket
written in the formats AWS really produces (inventory reports, server access logs, CloudWatch
metrics, CUR 2.0 cost exports), the service's users database, and labels of injected anomalies.

All sources derive from one simulated history (users → object versions → requests), so they agree
with each other as real AWS sources do; same seed and arguments give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np

from synthetic import anomalies as anomaly_mod
from synthetic.access_logs import finalize_requests, request_columns, write_logs
from synthetic.cloudwatch import write_day
from synthetic.cur import DayUsage, daily_costs, request_usage, write_exports
from synthetic.inventory import (
    ROWS_PER_FILE,
    InventoryStats,
    build_catalog,
    generate_inventory_snapshot,
    snapshot_table,
    write_report,
)
from synthetic.labels import label_records, write_labels
from synthetic.layout import epoch
from synthetic.objects import VersionRows, apply_changes, shared_objects, user_uploads
from synthetic.population import make_population
from synthetic.prices import EGRESS_PER_GB, GIB
from synthetic.savings_cases import plan_cases
from synthetic.storage import day_storage, transitions
from synthetic.traffic import Requests, daily_reads, mutation_requests
from synthetic.users_db import write_users_db

__all__ = ["GenerateSummary", "generate", "generate_inventory_snapshot"]


@dataclass
class GenerateSummary:
    """What ``generate`` wrote, for the CLI to print and tests to check."""

    out_dir: Path
    start: date
    end: date
    days: int
    users: int
    seed: int
    inventory_format: str
    objects_last_day: int
    inventory_rows_total: int
    inventory_files: int
    requests: int
    access_log_lines: int
    access_log_objects: int
    access_log_duplicates: int
    malformed_log_lines: int
    cur_line_items: int
    cur_exports: list[dict] = field(default_factory=list)
    cur_restated_execution_ids: list[str] = field(default_factory=list)
    anomalies: int = 0
    labels_path: Path | None = None
    users_db_path: Path | None = None


def generate(
    out_dir: Path,
    start: date,
    days: int,
    users: int,
    seed: int = 7,
    inventory_format: str = "csv",
    progress: Callable[[str], None] | None = None,
    anomalies: bool = True,
    inventory_rows_per_file: int = ROWS_PER_FILE,
    injections_per_pattern: int | None = None,
) -> GenerateSummary:
    """Generate ``days`` days from ``start`` for ``users`` users under ``out_dir`` (the source root).

    ``injections_per_pattern`` overrides how many anomalies of each pattern are injected (default: a few,
    growing with users × days); the quality evaluation raises it so precision and recall rest on more
    than one case per pattern."""
    if days < 1 or users < 1:
        raise ValueError("days and users must be positive")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _line: None)
    end = start + timedelta(days=days - 1)
    day_list = [start + timedelta(days=i) for i in range(days)]

    pop = make_population(users, start, days, seed)
    uploads = user_uploads(pop, start, days, seed)
    cases = plan_cases(pop, uploads.user, start, days, seed) if anomalies else None
    rows = apply_changes(
        VersionRows.concat(
            [uploads, shared_objects(start, days, seed, int(uploads.content.max(initial=0)) + 1)]
        ),
        start,
        days,
        seed,
        keep_noncurrent=cases.keep_versions if cases else None,
    )
    injections = anomaly_mod.plan(pop, rows, start, days, seed, injections_per_pattern) if anomalies else []
    rows = anomaly_mod.upload_rows(injections, pop, rows, seed)

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute("SET enable_progress_bar = false")
    try:
        cat = build_catalog(rows, seed, con)
        storages = {d: day_storage(cat, d) for d in day_list}
        moves = {d: transitions(cat, d) for d in day_list}
        base = Requests.concat(
            [mutation_requests(cat, pop, start, days, seed)]
            + [daily_reads(cat, pop, d, end, seed) for d in day_list]
        )
        spike = _spike_bytes(injections, base, pop, storages, moves, day_list[:-1], seed, con)
        extra = anomaly_mod.request_rows(injections, cat, pop, seed, spike)
        leaks = [request_columns(cases.requests, pop)] if cases else []
        req = finalize_requests([request_columns(base, pop), request_columns(extra, pop), *leaks], seed)
        del base, extra
        ts_ms = req.column("ts_ms").to_numpy()
        con.register("requests_arrow", req)

        stats = _write_inventories(
            out_dir, cat, day_list, seed, inventory_format, inventory_rows_per_file, say, storages, ts_ms
        )
        for d in day_list:
            write_day(out_dir, storages[d], con)
        lines, _ = daily_costs(_usages(storages, moves, request_usage(con), day_list[:-1]), seed)
        exports = write_exports(out_dir, lines, end, seed) if lines else []
        logs = write_logs(out_dir, ts_ms, start, days, seed, con, malformed=anomalies)
    finally:
        con.close()

    _describe_cost_spikes(injections, exports)
    labels = label_records(injections, pop, logs.malformed_by_day, cases.labels if cases else ())
    labels_path = write_labels(out_dir / "labels.jsonl", labels)
    users_db_path = write_users_db(out_dir / "users.sqlite", pop, cases.absent if cases else ())
    return GenerateSummary(
        out_dir=out_dir,
        start=start,
        end=end,
        days=days,
        users=users,
        seed=seed,
        inventory_format=inventory_format,
        objects_last_day=storages[end].latest_objects,
        inventory_rows_total=sum(s.rows for s in stats),
        inventory_files=sum(len(s.files) for s in stats),
        requests=len(req),
        access_log_lines=logs.lines,
        access_log_objects=logs.objects,
        access_log_duplicates=logs.duplicates,
        malformed_log_lines=sum(logs.malformed_by_day.values()),
        cur_line_items=sum(len(v) for v in lines.values()),
        cur_exports=[
            {
                "billing_period": f"{e.period:%Y-%m}",
                "execution_ids": e.execution_ids,
                "data_files": e.data_files,
            }
            for e in exports
        ],
        cur_restated_execution_ids=exports[0].execution_ids if exports else [],
        anomalies=len(labels),
        labels_path=labels_path,
        users_db_path=users_db_path,
    )


def _write_inventories(
    out_dir, cat, day_list, seed, fmt, rows_per_file, say, storages, ts_ms
) -> list[InventoryStats]:
    """One report per day, two days at a time (compression releases the GIL), reporting each day."""
    per_day = np.bincount(
        ((ts_ms // 1000 - epoch(day_list[0])) // 86_400).clip(0, len(day_list)), minlength=len(day_list) + 1
    )

    def one(d: date) -> InventoryStats:
        return write_report(out_dir, d, [snapshot_table(cat, d)], seed, fmt, rows_per_file)

    out = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i, stats in enumerate(pool.map(one, day_list)):
            d = day_list[i]
            say(
                f"{d.isoformat()}: {storages[d].latest_objects:,} objects, {stats.rows:,} inventory rows, "
                f"{int(per_day[i]):,} requests"
            )
            out.append(stats)
    return out


def _usages(storages, moves, requests_by_day, billed_days) -> list[DayUsage]:
    return [
        DayUsage(storages[d], requests_by_day.get(d, {}), moves[d], storages[d].report_rows)
        for d in billed_days
    ]


def _spike_bytes(injections, base: Requests, pop, storages, moves, billed_days, seed, con) -> dict[date, int]:
    """Extra egress for each cost-spike day: enough to add twice the trailing week's mean daily cost,
    plus the whole monthly free tier in case it is not used up yet."""
    spikes = [i for i in injections if i.pattern == "cost_spike"]
    if not spikes:
        return {}
    con.register("requests_arrow", request_columns(base, pop, light=True))
    _, totals = daily_costs(_usages(storages, moves, request_usage(con), billed_days), seed)
    con.unregister("requests_arrow")
    out = {}
    for inj in spikes:
        trailing = [totals[d] for d in totals if inj.day - timedelta(days=7) <= d < inj.day]
        mean = sum(trailing) / max(len(trailing), 1)
        out[inj.day] = int((2.0 * max(mean, 0.05) / EGRESS_PER_GB + 110) * GIB)
    return out


def _describe_cost_spikes(injections, exports) -> None:
    """Record the exported cost of each spike day and its trailing-week mean in the label."""
    totals: dict[date, float] = {}
    for e in exports:
        totals.update(e.daily_cost)
    for inj in injections:
        if inj.pattern != "cost_spike" or inj.day not in totals:
            continue
        trailing = [totals[d] for d in totals if inj.day - timedelta(days=7) <= d < inj.day]
        mean = sum(trailing) / max(len(trailing), 1)
        inj.details.update(cost_usd=round(totals[inj.day], 6), trailing_mean_usd=round(mean, 6))
