"""The source of a full daily run at scale (``bucketlens bench daily``): for each day an S3 Inventory
report of N objects, access logs of M requests, the day's CloudWatch metrics, the month's CUR 2.0
export, and one users database of U users — every source the daily job reads, in AWS's formats.

Why not ``bucketlens generate``: it simulates each user's history in Python memory (it needs ~24 GB
for 100 k users), while the daily-run target is 10 M objects, 100 k users and 5 M requests. This
module composes the benchmark generators that stream (``generate_inventory_snapshot`` writes 500 k
rows at a time, ``generate_access_logs`` one log object per query) with the demo generator's writers
for CloudWatch, the CUR export and the users database, fed with aggregates of those very files, so
the sources agree with each other as real AWS sources do: CloudWatch's request counts are the logs'
records, the bill prices the inventory's bytes and the logs' billable requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from benchmarks.access_log_data import generate_access_logs
from synthetic.cloudwatch import write_day
from synthetic.cur import DayUsage, daily_costs, request_usage, write_exports
from synthetic.inventory import generate_inventory_snapshot
from synthetic.population import FIRST_USER_ID, make_population
from synthetic.storage import DayStorage
from synthetic.users_db import write_users_db

SEED = 5
LOG_OBJECTS_PER_DAY = 96  # one log object every 15 minutes, as a busy bucket's delivery looks


@dataclass(frozen=True)
class DailySource:
    """What was written under ``root`` (the source root a run reads)."""

    root: Path
    days: list[date]
    objects: int  # per day's inventory
    users: int  # in the users database
    owners: int  # distinct users owning objects in the last day's inventory
    requests: int  # per day, distinct records
    log_lines: int  # per day, repeated deliveries and broken lines included
    log_objects: int  # per day
    billed_usd: float  # the last day's bill


def generate_daily_source(
    root: Path,
    days: list[date],
    objects: int,
    users: int,
    requests: int,
    echo=print,
    hold_last_logs: Path | None = None,
) -> DailySource:
    """Write every source of ``days`` under ``root``: inventories, logs, CloudWatch, CUR, users DB.

    With ``hold_last_logs`` the last day's log objects are written there instead (same keys), to be
    delivered with :func:`deliver_held_logs` after the earlier days ran: otherwise the earlier day's
    run would already parse them (it reads the next day's objects for late records)."""
    root.mkdir(parents=True, exist_ok=True)
    echo(f"  users database: {users:,} users ...")
    write_users_db(root / "users.sqlite", make_population(users, days[0], len(days), SEED))
    storages: dict[date, DayStorage] = {}
    truths: list[pa.Table] = []
    lines = log_objects = 0
    for day in days:
        echo(f"  {day}: inventory of {objects:,} objects ...")
        stats = generate_inventory_snapshot(
            root, day, objects, seed=SEED, inventory_format="parquet", users=users
        )
        storages[day] = DayStorage(
            day=day,
            bytes_by_class=stats.bytes_by_class,
            objects_by_class=stats.archived_objects,
            versions=stats.rows,
            latest_objects=stats.latest_objects,
            report_rows=stats.rows,
        )
        echo(f"  {day}: access logs of {requests:,} requests ...")
        logs_root = hold_last_logs if hold_last_logs and day == days[-1] else root
        logs = generate_access_logs(
            logs_root, day, requests, lines_per_object=-(-requests // LOG_OBJECTS_PER_DAY), users=users,
            first_user=FIRST_USER_ID, keep_requests=True,
        )  # fmt: skip
        truths.append(logs.requests)
        lines, log_objects = logs.lines, len(logs.files)
    echo("  CloudWatch metrics and the month's CUR 2.0 export ...")
    billed = _write_metrics_and_bill(root, days, storages, pa.concat_tables(truths))
    return DailySource(
        root=root,
        days=days,
        objects=objects,
        users=users,
        owners=_owners(root, stats.files),
        requests=requests,
        log_lines=lines,
        log_objects=log_objects,
        billed_usd=billed,
    )


def _write_metrics_and_bill(
    root: Path, days: list[date], storages: dict[date, DayStorage], requests: pa.Table
) -> float:
    """CloudWatch files and the CUR export from the inventories' totals and the logs' records; returns
    the last day's billed total."""
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("requests_arrow", requests)
        for day in days:
            write_day(root, storages[day], con)
        by_day = request_usage(con)
        usages = [
            DayUsage(storages[d], by_day.get(d, {}), transitions={}, inventory_rows=storages[d].report_rows)
            for d in days
        ]
        lines, totals = daily_costs(usages, SEED)
        write_exports(root, lines, days[-1], SEED)
        return round(totals[days[-1]], 2)
    finally:
        con.close()


def _owners(root: Path, files: list[dict]) -> int:
    """Distinct owners in one inventory report (the Pareto draw leaves some users without objects)."""
    query = "SELECT count(DISTINCT split_part(key, '/', 2)) FROM read_parquet($files)"
    paths = [str(root / f["key"]) for f in files]
    return int(duckdb.sql(query, params={"files": paths}).fetchall()[0][0])


def deliver_held_logs(held: Path, root: Path) -> int:
    """Move the held log objects into the source's ``access-logs/`` (as S3 delivers them); how many."""
    moved = 0
    for path in sorted((held / "access-logs").rglob("*")):
        if path.is_file():
            target = root / path.relative_to(held)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
            moved += 1
    return moved


def days_ending(last: date, count: int) -> list[date]:
    return [last - timedelta(days=count - 1 - i) for i in range(count)]
