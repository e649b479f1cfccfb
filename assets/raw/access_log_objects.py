"""raw.access_log_objects: the log objects S3 delivered on the partition day, each parsed once.

Why a separate asset: the hourly run parses the objects delivered so far today, so the daily run that
builds ``raw.access_log_requests`` finds the day already parsed and only reads the few objects that
arrived since (and the next morning's late ones) instead of re-reading the whole day.
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.raw.guards import day_is_over, source_failures
from assets.raw.log_ledger import ensure_ledger, parsed_now, stage_new_objects
from assets.raw.log_objects import delivery_days, log_objects_for_days, no_log_objects
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    figures_by_day,
    window_days,
    window_result,
)
from resources.inventory_source import InventorySource
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from resources.warehouse import Warehouse

LOG_PREFIX = "access-logs/"


DELIVERED = "window_delivered_objects"
# Per delivery day of the window: what the ledger holds of the objects delivered that day.
FIGURES_SQL = f"""
SELECT d.day, count(o.key) AS objects, coalesce(sum(o.lines), 0) AS lines,
       coalesce(sum(o.records), 0) AS records, coalesce(sum(o.quarantined), 0) AS quarantined,
       count(*) FILTER (WHERE o.key IS NULL) AS missing
FROM {DELIVERED} d LEFT JOIN raw.access_log_objects o USING (key)
GROUP BY ALL
"""
BY_HOUR_SQL = f"""
SELECT strftime(date_trunc('hour', first_request_time), '%H:00') AS hour, count(*), sum(records)
FROM raw.access_log_objects WHERE key IN (SELECT key FROM {DELIVERED} WHERE day = ?) GROUP BY ALL ORDER BY 1
"""


def load_window(
    con, days, listing: dict[str, int], source: SourceStore, service: ServiceLayout
) -> list[DayResult]:
    """Parse the window's delivered objects not in the ledger yet (in one call), then report what the
    ledger holds for each day's objects with one grouped query."""
    delivered = {day: own for day, (_, own) in log_objects_for_days(sorted(listing), days, 0).items()}
    keys = [key for day in days for key in delivered[day]]
    parsed = parsed_now(con, stage_new_objects(con, keys, listing, source, service), delivered)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {DELIVERED} AS SELECT unnest(?::DATE[]) AS day, unnest(?::VARCHAR[]) AS key",
        [[day for day in days for _ in delivered[day]], keys],
    )
    figures = figures_by_day(con, FIGURES_SQL, [], days)
    results = []
    for day in days:
        f = figures[day]
        objects, missing = int(f.get("objects") or 0), int(f.get("missing") or 0)
        metadata = {
            "dagster/row_count": int(f.get("records") or 0),
            "log_objects_delivered": len(delivered[day]),
            "log_objects_parsed_now": parsed[day][0],
            "lines_parsed_now": parsed[day][1],
            "lines": int(f.get("lines") or 0),
            "records": int(f.get("records") or 0),
            "quarantined_lines": int(f.get("quarantined") or 0),
        }
        if day == detail_day(days):
            by_hour = con.execute(BY_HOUR_SQL, [day]).fetchall()
            metadata["by_hour"] = markdown_table(
                ["first request hour", "objects", "records"], [(h, f"{n:,}", f"{r:,}") for h, n, r in by_hour]
            )
        check = Check(missing == 0 and objects == len(delivered[day]), {"missing": missing})
        results.append(DayResult(day, metadata, checks={"every_object_parsed": check}))
    con.execute(f"DROP TABLE {DELIVERED}")
    return results


@daily_asset(
    "access_log_objects",
    "raw",
    checks=(CheckSpec("every_object_parsed", "Every log object delivered on the day is in the ledger."),),
    kinds=("duckdb", "s3"),
)
def access_log_objects(
    context: dg.AssetExecutionContext,
    source: SourceStore,
    warehouse: Warehouse,
    service: ServiceLayout,
    inventory: InventorySource,
) -> dg.MaterializeResult:
    """Parse the access-log objects delivered on the day that were not parsed before into
    ``raw.access_log_records`` (every record, any day) with one ledger row per object in
    ``raw.access_log_objects``; run hourly so a day is parsed as it arrives."""
    listing = {o.key: o.size for o in source.list(LOG_PREFIX)}
    days = window_days(context)
    # A finished day without a single delivered object means a wrong or empty source (the hourly run of
    # today may simply be early); stores without server access logs (R2, MinIO) deliver none by nature.
    delivered = delivery_days(list(listing))
    empty = [d for d in days if day_is_over(d) and d not in delivered]
    if empty and inventory.has_server_access_logs():
        raise dg.Failure(description=no_log_objects(empty, source.describe(LOG_PREFIX), len(listing)))
    with source_failures(), warehouse.connect() as con:
        ensure_ledger(con)
        results = load_window(con, days, listing, source, service)
    return window_result(results)
