"""``bucketlens demo``: a realistic month, generated in AWS's formats and run day by day, end to end.

The generated source lives in ``$BUCKETLENS_HOME/source`` and is reused when the parameters match (it
is deterministic), so a second demo run only re-materializes, which also shows that reruns replace
partitions instead of appending.

Everything it says goes through the ``bucketlens.cli`` logger, so ``BUCKETLENS_LOG_FORMAT=json`` prints
JSON lines only; on a terminal the generation and each Dagster run get a progress bar
(``pipelines.progress``), elsewhere a line per day.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

from assets.jobs import DAILY_JOB
from bucketlens.anomaly.evaluation import alert_subject, labels_without_alert, load_labels
from bucketlens.logs import log_event
from bucketlens.settings import Settings, default_users_db
from pipelines.instance import persistent_instance
from pipelines.progress import day_progress, use_bars
from pipelines.runner import LOG, DayOutcome, days_between, log_day, run_days

ESTIMATE_CHECK = "cost_line_items:day_covered_by_export"  # warns on days billed by estimate
LEAK_CHECKS = "storage_leaks:no_"  # the savings layer's leak findings (warnings)
WEEKLY_ASSETS = ("alert_events",)  # run a week at a time, with everything downstream (run_month)
# The demo's month fits in 2 GB of DuckDB memory; under the 700 MB default its savings queries spill
# ~1.2 GB to disk and the demo takes ~13 s longer (docs/performance.md, "The demo"). Used only on a machine
# with at least twice that, and only when BUCKETLENS_DUCKDB_MEMORY_LIMIT is not set.
DEMO_MEMORY_LIMIT, DEMO_MEMORY_BYTES = "2GB", 2 * 10**9


def checks_text(checks: list[str]) -> str:
    """The failing checks, each with why when the demo month makes it fail on purpose: a newcomer should
    not read an expected finding as a broken install."""
    if not checks:
        return "none"
    why = {ESTIMATE_CHECK: "expected: the cost export does not cover the last day yet"}
    leaks = [c for c in checks if c.startswith(LEAK_CHECKS)]
    others = [c for c in checks if not c.startswith(LEAK_CHECKS)]
    parts = [f"{c} ({why[c]})" if c in why else c for c in others]
    if leaks:
        names = ", ".join(c.removeprefix(LEAK_CHECKS) for c in leaks)
        parts.append(f"leak findings {names} (expected: the month holds labelled leaks, see Savings)")
    return "; ".join(parts)


def _generated_source(settings: Settings, users: int, days: int, start: date, seed: int, bars: bool) -> Path:
    from synthetic import generate

    source = settings.home / "source"
    stamp = source / "bucketlens-demo.json"
    # version 2: the generator writes CloudFront logs (a source generated before is generated again)
    wanted = {"users": users, "days": days, "start": start.isoformat(), "seed": seed, "version": 2}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        log_event(LOG, "demo_source_reused", f"Reusing generated data in {source} (same parameters)")
        return source
    if source.exists():
        shutil.rmtree(source)
    log_event(
        LOG, "generate_started", f"Generating {days} days for {users:,} users into {source} ...",
        days=days, users=users, seed=seed, source=str(source),
    )  # fmt: skip
    started = time.perf_counter()
    with day_progress(days, bars, LOG) as day_written:
        summary = generate(source, start, days, users, seed=seed, progress=day_written)
    seconds = time.perf_counter() - started
    log_event(
        LOG,
        "generate_finished",
        f"Generated in {seconds:.1f}s: {summary.inventory_rows_total:,} inventory rows, "
        f"{summary.access_log_lines:,} access-log lines, {summary.cur_line_items:,} CUR line items, "
        f"{summary.anomalies} labelled anomalies",
        seconds=round(seconds, 2), inventory_rows=summary.inventory_rows_total,
        access_log_lines=summary.access_log_lines, cur_line_items=summary.cur_line_items,
        anomalies=summary.anomalies,
    )  # fmt: skip
    stamp.write_text(json.dumps(wanted))
    return source


def _warehouse_figures(settings: Settings, last: date) -> dict:
    """The numbers the closing summary shows, read back from the warehouse (read-only)."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        one = lambda sql, params=(): con.execute(sql, list(params)).fetchall()[0]  # noqa: E731
        figures = {
            "inventory": one(
                "SELECT count(*), sum(size), count(DISTINCT user_id) FROM raw.inventory_objects WHERE snapshot_date = ?",
                [last],
            ),
            "requests": one(
                "SELECT (SELECT count(*) FROM raw.access_log_requests), "
                "(SELECT count(*) FROM raw.quarantine WHERE source = 'access_log_requests')"
            ),
            "users": one("SELECT count(*) FROM raw.users WHERE snapshot_date = ?", [last])[0],
            "cost": one(
                "SELECT sum(amount_usd) FILTER (WHERE NOT is_estimate), count(DISTINCT usage_date) FILTER (WHERE NOT is_estimate), "
                "sum(amount_usd) FILTER (WHERE is_estimate), count(DISTINCT usage_date) FILTER (WHERE is_estimate), "
                "sum(amount_usd) FILTER (WHERE user_id = '_shared') FROM cost.user_daily_cost"
            ),
            "billed": one("SELECT sum(unblended_cost) FROM raw.cost_line_items")[0],
            "cdn": _cdn_figures(con),
            "top": con.execute(
                "SELECT user_id, sum(amount_usd) AS usd FROM cost.user_daily_cost WHERE user_id <> '_shared' "
                "GROUP BY ALL ORDER BY usd DESC, user_id LIMIT 3"
            ).fetchall(),
            "plans": con.execute(
                "SELECT plan, max(users), sum(cost_usd), sum(revenue_usd), sum(margin_usd) FROM cost.plan_daily_margin "
                "GROUP BY ALL ORDER BY 3 DESC, 1"
            ).fetchall(),
        }
    finally:
        con.close()
    return figures


CDN_SQL = """
SELECT (SELECT count(*) FROM raw.cdn_requests),
       (SELECT count(*) FILTER (WHERE edge_result_type IN ('Hit', 'RefreshHit'))
               / nullif(count(*) FILTER (WHERE edge_result_type IN ('Hit', 'RefreshHit', 'Miss')), 0)
        FROM raw.cdn_requests),
       (SELECT sum(bytes_sent) FROM raw.cdn_requests),
       (SELECT sum(amount_usd) FROM cost.user_daily_cost WHERE category = 'cdn' AND NOT is_estimate),
       (SELECT sum(unblended_cost) FROM raw.cost_line_items WHERE product_code = 'AmazonCloudFront')
"""


def _cdn_figures(con) -> tuple | None:
    """CloudFront's part of the month (requests, hit ratio, bytes, attributed and billed cost); None when
    the source has no CloudFront logs."""
    listed = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()
    tables = {t for (t,) in listed}
    if "raw.cdn_requests" not in tables:
        return None
    figures = con.execute(CDN_SQL).fetchall()[0]
    return figures if figures[0] else None


def _cdn_line(cdn: tuple | None) -> list[str]:
    if cdn is None:
        return ["  CDN              no CloudFront logs under cloudfront/"]
    requests, hit_ratio, sent, attributed, billed = cdn
    return [
        f"  CDN              {requests:,} CloudFront requests, hit ratio {100 * float(hit_ratio or 0):.1f} %, "
        f"{(sent or 0) / 2**30:,.1f} GiB to viewers; ${float(attributed or 0):,.2f} split per user "
        f"(CloudFront in the CUR ${float(billed or 0):,.2f})"
    ]


def _summary(
    settings: Settings, outcomes: list[DayOutcome], source: Path, seconds: float, extra: list[str]
) -> str:
    last = max(o.day for o in outcomes)
    f = _warehouse_figures(settings, last)
    objects, stored, owners = f["inventory"]
    requests, quarantined = f["requests"]
    actual, actual_days, estimated, estimated_days, shared = f["cost"]
    failed = [o for o in outcomes if not o.success]
    checks = sorted({c for o in outcomes for c in o.failed_checks})
    labels = source / "labels.jsonl"
    n_labels = sum(1 for _ in labels.open()) if labels.exists() else 0
    top = ", ".join(f"{u} ${float(v):,.2f}" for u, v in f["top"])
    lines = [
        "",
        f"bucketlens demo finished in {seconds:.0f}s: {len(outcomes) - len(failed)}/{len(outcomes)} days loaded"
        + (f", {len(failed)} FAILED" if failed else ""),
        f"  users            {f['users']:,} ({owners:,} own objects on {last})",
        f"  stored on {last} {objects:,} object versions, {(stored or 0) / 2**40:,.2f} TiB",
        f"  requests         {requests:,} parsed from access logs, {quarantined} malformed lines quarantined",
        f"  cost (actual)    ${float(actual or 0):,.2f} over {actual_days} days, split per user to the micro-dollar "
        f"(CUR total ${float(f['billed'] or 0):,.2f})",
        f"  cost (estimated) ${float(estimated or 0):,.2f} over {estimated_days} day(s) the cost export does not cover yet",
        f"  shared (no user) ${float(shared or 0):,.2f}; top users by cost: {top}",
        *_cdn_line(f["cdn"]),
        "  plans            "
        + "; ".join(
            f"{p}: {u:,} users, cost ${float(c):,.2f}, revenue ${float(r):,.2f}, margin ${float(m):,.2f}"
            for p, u, c, r, m in f["plans"]
        ),
        f"  checks not passing: {checks_text(checks)}",
        f"  labelled anomalies in the data: {n_labels} ({labels})",
        *extra,
        "Where to look:",
        f"  warehouse  {settings.warehouse_path}  (duckdb, memory limit {settings.duckdb_memory_limit}; "
        "schemas raw, usage, cost, anomaly, alerts)",
        f"  source     {source}  (AWS's own layout: inventory/, access-logs/, cloudfront/, cloudwatch/, cur/)",
        "  Dagster UI: .venv/bin/bucketlens ui   then open http://127.0.0.1:3000 (runs, lineage, checks)",
    ]
    return "\n".join(lines)


def _deliver_alerts(settings: Settings) -> list[str]:
    """What the delivery sensor would do after the runs: drain the outbox (to Slack or the preview)."""
    from resources import resolved_resources
    from sensors.alert_delivery import deliver_tick

    sent, report = 0, None
    with resolved_resources(settings) as r:
        for _ in range(20):  # the outbox drains in batches; stop when a tick sends nothing more
            report = deliver_tick(r.outbox, r.slack, r.rules)
            sent += report.delivery.sent
            if not report.delivery.sent:
                break
    target = "Slack" if settings.slack_enabled else str(settings.slack_preview_path)
    lines = [
        f"  Slack            {sent} message(s) delivered to {target}; outbox: {report.line().split('outbox: ')[1]}"
    ]
    if not settings.slack_enabled:
        lines.append(f"                   readable preview: {settings.slack_preview_path.with_suffix('.md')}")
    return lines


def _alert_figures(settings: Settings, source: Path, days: list[date]) -> list[str]:
    """Alerts per day and rule, read back from alerts.alert_events: quiet days show as such, and
    whether every anomaly the generator labelled raised its alert on the day it became visible."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        (built,) = con.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE (schema_name, table_name) IN (('alerts', 'alert_events'), ('anomaly', 'abuse_flags'))"
        ).fetchall()[0]
        if built < 2:  # the runs failed before the alerts: the day lines above say why
            return ["  alerts           none: no day reached the alerts (see the failed days above)"]
        rows = con.execute(
            "SELECT usage_date, severity, count(*) FROM alerts.alert_events "
            "WHERE state = 'firing' AND first_seen = usage_date GROUP BY ALL"
        ).fetchall()
        flags = con.execute(
            "SELECT pattern, count(*) FROM anomaly.abuse_flags GROUP BY ALL ORDER BY 2 DESC, 1"
        ).fetchall()
        labels = load_labels(source / "labels.jsonl", days)
        missed = labels_without_alert(con, labels)
    finally:
        con.close()
    loud_by_day: dict[date, int] = {}  # warning and critical: what would page or worry someone
    by_severity: dict[str, int] = {}
    for day, severity, n in rows:
        if severity != "info":
            loud_by_day[day] = loud_by_day.get(day, 0) + n
        by_severity[severity] = by_severity.get(severity, 0) + n
    quiet = [d for d in days if not loud_by_day.get(d)]
    return [
        "  alerts           "
        + ", ".join(f"{by_severity.get(s, 0)} {s}" for s in ("critical", "warning", "info"))
        + f" newly firing over {len(days)} days; {len(quiet)} day(s) raised no warning or critical",
        "  abuse flags      " + ", ".join(f"{p} {n}" for p, n in flags),
        f"  labelled anomalies of detected patterns, alerted on the day they show: {len(labels) - len(missed)} of {len(labels)}"
        + (
            "; missed: " + ", ".join(f"{m['pattern']} {alert_subject(m)} {m['visible']}" for m in missed[:5])
            if missed
            else ""
        ),
    ]


def _report_lines(settings: Settings, last: date) -> list[str]:
    """Where the newest report of each kind is (they are self-contained HTML files)."""
    lines = []
    for name in ("daily_report", "weekly_cost_summary", "monthly_report"):
        path = settings.reports_dir / name / f"{last}.html"
        if path.exists():
            lines.append(f"  {name:<16} {path}")
    statements = sorted((settings.reports_dir / "user_statements").glob("*.csv"))
    if statements:
        lines.append(f"  user_statements  {statements[-1]} (and .json)")
    return ["Reports (open in a browser):", *lines] if lines else []


def run_month(definitions, instance, days: list[date], bars: bool) -> list[DayOutcome]:
    """The month in two passes over the days: every asset upstream of the alerts in ONE run (a Dagster run
    and each of its steps have a fixed cost, and the savings queries read a month of history per run),
    then the alerts and what follows them (actions, reports) a week per run. Why weekly: notifications
    are planned once per run, over its days, as the delivery of a week of alerts would be; the day lines
    are printed as each week finishes, with both passes' figures."""
    import dagster as dg

    job = definitions.resolve_job_def(DAILY_JOB)
    keys = set(job.asset_layer.selected_asset_keys)
    weekly = dg.AssetSelection.assets(*WEEKLY_ASSETS).downstream().resolve(definitions.resolve_asset_graph())
    data = run_days(
        definitions, instance, days, report=lambda *_: None, chunk_days=len(days), bars=bars,
        selection=sorted(keys - weekly),
    )  # fmt: skip
    first = {o.day: o for o in data}
    if not all(o.success for o in data):  # the weekly pass would read incomplete data: report the days
        for index, outcome in enumerate(data, 1):
            log_day(index, len(data), outcome)
        return data

    def report(index: int, total: int, outcome: DayOutcome) -> None:
        log_day(index, total, merged(first[outcome.day], outcome))

    weeks = run_days(definitions, instance, days, report=report, bars=bars, selection=sorted(keys & weekly))
    return [merged(first[o.day], o) for o in weeks]


def merged(data: DayOutcome, weekly: DayOutcome) -> DayOutcome:
    """A day's outcome over both passes of ``run_month``."""
    return DayOutcome(
        data.day,
        data.success and weekly.success,
        data.seconds + weekly.seconds,
        weekly.run_id,
        data.metadata | weekly.metadata,
        data.failed_checks + weekly.failed_checks,
        data.errors + weekly.errors,
    )


def physical_memory() -> int:
    """The machine's memory in bytes (0 where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def demo_memory_limit(environ: Mapping[str, str], memory_bytes: int) -> str | None:
    """The DuckDB memory limit the demo sets: DEMO_MEMORY_LIMIT on a machine with twice that memory,
    unless the operator chose one (None: keep what the settings say)."""
    if "BUCKETLENS_DUCKDB_MEMORY_LIMIT" in environ or memory_bytes < 2 * DEMO_MEMORY_BYTES:
        return None
    return DEMO_MEMORY_LIMIT


def run_demo(settings: Settings, users: int, days: int, end: date, seed: int) -> int:
    started = time.perf_counter()
    start = end - timedelta(days=days - 1)
    bars = use_bars(settings.log_format)
    source = _generated_source(settings, users, days, start, seed, bars)
    os.environ["BUCKETLENS_SOURCE"] = str(source)
    os.environ["BUCKETLENS_USERS_DB"] = default_users_db(str(source), settings.home)
    limit = demo_memory_limit(os.environ, physical_memory())
    if limit:
        os.environ["BUCKETLENS_DUCKDB_MEMORY_LIMIT"] = limit
    settings = Settings.from_env()

    from pipelines.definitions import defs

    instance = persistent_instance(settings)
    log_event(
        LOG,
        "demo_runs_started",
        f"Running {days} days ({start} .. {end}): sources, per-user usage and cost, anomalies and savings "
        "in one Dagster run; then alerts, actions and reports a week per run",
        start=start.isoformat(), end=end.isoformat(),
    )  # fmt: skip
    outcomes = run_month(defs(), instance, days_between(start, end), bars)
    extra = _alert_figures(settings, source, days_between(start, end)) + _deliver_alerts(settings)
    seconds = time.perf_counter() - started
    failed = sum(not o.success for o in outcomes)
    log_event(
        LOG,
        "demo_finished",
        "\n".join([_summary(settings, outcomes, source, seconds, extra), *_report_lines(settings, end)]),
        seconds=round(seconds, 1), days=len(outcomes), failed=failed,
    )  # fmt: skip
    return 0 if not failed else 1
