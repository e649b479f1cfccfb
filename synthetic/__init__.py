"""Synthetic source data for bucketlens (``bucketlens generate``): a photo-backup service's S3 bucket
written in the formats AWS really produces (inventory reports, server access logs, CloudWatch
metrics, CUR 2.0 cost exports), the service's users database, and labels of injected anomalies.

All sources derive from one simulated history (users → object versions → requests), so they agree
with each other as real AWS sources do; same seed and arguments give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from synthetic import anomalies as anomaly_mod
from synthetic import cloudfront, cloudfront_output
from synthetic.access_logs import finalize_requests, request_columns, write_logs
from synthetic.cloudwatch import request_series_by_day, write_day
from synthetic.cur import DayUsage, _line, daily_costs, request_usage, write_exports
from synthetic.inventory import build_catalog, generate_inventory_snapshot, snapshot_csv_rows, snapshot_table
from synthetic.inventory_report import ROWS_PER_FILE, InventoryStats, write_report
from synthetic.labels import label_records, write_labels
from synthetic.layout import epoch
from synthetic.objects import VersionRows, apply_changes, shared_objects, user_uploads
from synthetic.population import make_population
from synthetic.prices import EGRESS_PER_GB, GIB
from synthetic.request_records import Requests, RequestTexts
from synthetic.savings_cases import plan_cases
from synthetic.storage import day_storage, transitions
from synthetic.traffic import daily_reads, mutation_requests
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
    cdn_requests: int = 0
    cdn_log_format: str = "legacy"


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
    cdn_log_format: str | None = "legacy",
) -> GenerateSummary:
    """Generate ``days`` days from ``start`` for ``users`` users under ``out_dir`` (the source root).

    ``progress`` gets one line per day, in day order, once the day's inventory report and the log
    objects delivered that day are written. ``injections_per_pattern`` overrides how many anomalies of
    each pattern are injected (default: a few, growing with users × days); the quality evaluation
    raises it so precision and recall rest on more than one case per pattern. ``cdn_log_format``: the
    CloudFront logs' shape ("legacy", "v2-json" or "v2-parquet"; None: no CDN at all).

    The work is streamed: the version history and the requests are held as numbers (plus one string
    table of versions), each day's inventory report is written by a worker thread as soon as the
    history exists (gzip and Arrow release the GIL, so two reports compress while the requests are
    simulated), and the access logs are formatted and written one delivery day at a time."""
    if days < 1 or users < 1:
        raise ValueError("days and users must be positive")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
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
    del uploads
    injections = anomaly_mod.plan(pop, rows, start, days, seed, injections_per_pattern) if anomalies else []
    rows = anomaly_mod.upload_rows(injections, pop, rows, seed)

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute("SET enable_progress_bar = false")
    try:
        cat = build_catalog(rows, seed, con)
        del rows
        with ThreadPoolExecutor(max_workers=2) as pool:
            reports = [
                pool.submit(
                    _write_inventory, out_dir, cat, d, seed, inventory_format, inventory_rows_per_file
                )
                for d in day_list
            ]
            try:
                storages = {d: day_storage(cat, d) for d in day_list}
                moves = {d: transitions(cat, d) for d in day_list}
                texts = RequestTexts.of(pop)
                base = Requests.concat(
                    [mutation_requests(cat, pop, texts, start, days, seed)]
                    + [daily_reads(cat, pop, d, end, seed) for d in day_list]
                )
                spike = _spike_bytes(injections, base, storages, moves, day_list[:-1], seed, con)
                extra = anomaly_mod.request_rows(injections, cat, pop, texts, seed, spike)
                leaks = [cases.requests(pop, texts, start, days, seed)] if cases else []
                log = finalize_requests([base, extra, *leaks], seed, cat, pop, texts)
                del base, extra
                cdn = _cdn(cat, pop, start, days, seed, con) if cdn_log_format else None
                cdn_series = cloudfront_output.cloudwatch_series(con) if cdn else {}
                con.register("requests_arrow", request_columns(log.requests))
                series = request_series_by_day(con)
                for d in day_list:
                    write_day(out_dir, storages[d], con, series.get(d), cdn_series.get(d, []))
                lines, _ = daily_costs(_usages(storages, moves, request_usage(con), day_list[:-1]), seed)
                con.unregister("requests_arrow")
                cdn_labels = _cdn_output(con, cdn, lines, out_dir, start, days, seed, cdn_log_format)
                exports = write_exports(out_dir, lines, end, seed) if lines else []
                days_done = _DaysDone(day_list, reports, storages, log.requests.ts_ms, progress)
                logs = write_logs(out_dir, log, start, days, con, anomalies, delivered=days_done.logs_through)
                stats = days_done.finish()
            except BaseException:
                # An error or Ctrl-C: the reports not started are dropped (Future.cancel); leaving the
                # pool waits for the ones being written, which write their manifest last, so no
                # manifest on disk names a missing or partial file.
                for report in reports:
                    report.cancel()
                raise
    finally:
        con.close()

    _describe_cost_spikes(injections, exports)
    extra_labels = [*(cases.labels if cases else ()), *(cdn_labels if anomalies else ())]
    labels = label_records(injections, pop, logs.malformed_by_day, extra_labels)
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
        requests=len(log),
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
        cdn_requests=cdn.table.num_rows if cdn else 0,
        cdn_log_format=cdn_log_format or "none",
    )


def _cdn(cat, pop, start: date, days: int, seed: int, con) -> cloudfront.CdnRequests:
    """The CDN's requests (their own random stream), registered in ``con`` as ``cdn_fields``."""
    cdn = cloudfront.simulate(cat, pop.user_id, start, days, seed)
    keys = cat.table.column("key").take(pa.array(cdn.table.column("obj")))
    cloudfront_output.register(con, cdn, keys, seed)
    return cdn


def _cdn_output(con, cdn, lines, out_dir, start: date, days: int, seed: int, fmt: str | None) -> list[dict]:
    """Write the CDN logs and add its line items to the billed days; the CDN labels (injections and
    malformed lines)."""
    if cdn is None:
        return []
    usage = cloudfront_output.usage_by_day(con)
    for day, day_lines in lines.items():
        day_lines.extend(cloudfront_output.cur_lines(day, usage.get(day, []), _line, seed))
    bad = cloudfront_output.write_logs(con, out_dir, seed, fmt, cloudfront_output.malformed_days(start, days))
    cloudfront_output.unregister(con)
    malformed = [
        {"date": d.isoformat(), "user_id": None, "pattern": "malformed_cdn_line", "details": {"count": n}}
        for d, n in sorted(bad.items())
    ]
    return [*cdn.labels, *malformed]


def _write_inventory(out_dir, cat, day: date, seed: int, fmt: str, rows_per_file: int) -> InventoryStats:
    """One day's inventory report (on a worker thread). CSV reads only the rows' text fragments;
    Parquet needs the typed columns."""
    rows = snapshot_csv_rows(cat, day) if fmt == "csv" else snapshot_table(cat, day)
    return write_report(out_dir, day, [rows], seed, fmt, rows_per_file)


class _DaysDone:
    """Reports each day, in day order, once its inventory report is written and the access logs are
    delivered through it; collects the reports' stats."""

    def __init__(self, day_list, reports: list[Future], storages, ts_ms: np.ndarray, say):
        self.day_list, self.reports, self.storages, self.say = day_list, reports, storages, say
        self.requests = np.bincount(
            ((ts_ms // 1000 - epoch(day_list[0])) // 86_400).clip(0, len(day_list)),
            minlength=len(day_list) + 1,
        )
        self.stats: list[InventoryStats] = []
        self.logged: date | None = None

    def logs_through(self, day: date) -> None:
        self.logged = day
        self._report(wait=False)

    def finish(self) -> list[InventoryStats]:
        self.logged = self.day_list[-1]
        self._report(wait=True)
        return self.stats

    def _report(self, wait: bool) -> None:
        while len(self.stats) < len(self.day_list):
            i = len(self.stats)
            d = self.day_list[i]
            if d > self.logged or not (wait or self.reports[i].done()):
                return
            self.stats.append(self.reports[i].result())
            if self.say is not None:
                self.say(
                    f"{d.isoformat()}: {self.storages[d].latest_objects:,} objects, "
                    f"{self.stats[-1].rows:,} inventory rows, {int(self.requests[i]):,} requests"
                )


def _usages(storages, moves, requests_by_day, billed_days) -> list[DayUsage]:
    return [
        DayUsage(storages[d], requests_by_day.get(d, {}), moves[d], storages[d].report_rows)
        for d in billed_days
    ]


def _spike_bytes(injections, base: Requests, storages, moves, billed_days, seed, con) -> dict[date, int]:
    """Extra egress for each cost-spike day: enough to add twice the trailing week's mean daily cost,
    plus the whole monthly free tier in case it is not used up yet."""
    spikes = [i for i in injections if i.pattern == "cost_spike"]
    if not spikes:
        return {}
    con.register("requests_arrow", request_columns(base))
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
