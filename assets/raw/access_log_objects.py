"""raw.access_log_objects: the log objects S3 delivered on the partition day, each parsed once.

Why a separate asset: the hourly run parses the objects delivered so far today, so the daily run that
builds ``raw.access_log_requests`` finds the day already parsed and only reads the few objects that
arrived since (and the next morning's late ones) instead of re-reading the whole day.
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.raw.guards import day_is_over, source_failures
from assets.raw.log_ledger import ensure_ledger, stage_new_objects
from assets.raw.log_objects import delivery_days, log_objects_for_day, no_log_objects
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from resources.inventory_source import InventorySource
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from resources.warehouse import Warehouse

LOG_PREFIX = "access-logs/"


def load_delivered(
    con, day, listing: dict[str, int], source: SourceStore, service: ServiceLayout
) -> DayResult:
    """Parse the day's delivered objects not in the ledger yet; report what the ledger holds for them."""
    _, delivered = log_objects_for_day(sorted(listing), day, 0)
    parse = stage_new_objects(con, delivered, listing, source, service)
    objects, lines, records, quarantined, missing = con.execute(
        """SELECT count(o.key), coalesce(sum(o.lines), 0), coalesce(sum(o.records), 0),
                  coalesce(sum(o.quarantined), 0), count(*) FILTER (WHERE o.key IS NULL)
           FROM (SELECT unnest(?::VARCHAR[]) AS key) d LEFT JOIN raw.access_log_objects o USING (key)""",
        [delivered],
    ).fetchall()[0]
    by_hour = con.execute(
        """SELECT strftime(date_trunc('hour', first_request_time), '%H:00') AS hour, count(*), sum(records)
           FROM raw.access_log_objects WHERE list_contains(?, key) GROUP BY ALL ORDER BY 1""",
        [delivered],
    ).fetchall()
    metadata = {
        "dagster/row_count": int(records),
        "log_objects_delivered": len(delivered),
        "log_objects_parsed_now": parse.files,
        "lines_parsed_now": parse.lines,
        "lines": int(lines),
        "records": int(records),
        "quarantined_lines": int(quarantined),
        "by_hour": markdown_table(
            ["first request hour", "objects", "records"], [(h, f"{n:,}", f"{r:,}") for h, n, r in by_hour]
        ),
    }
    return DayResult(
        day,
        metadata,
        checks={
            "every_object_parsed": Check(
                missing == 0 and objects == len(delivered), {"missing": int(missing)}
            )
        },
    )


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
        results = [load_delivered(con, day, listing, source, service) for day in days]
    return window_result(results)
