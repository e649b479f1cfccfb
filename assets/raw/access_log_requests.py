"""raw.access_log_requests: one row per S3 request whose own timestamp falls on the partition day."""

import dagster as dg

from assets.metadata import markdown_table
from assets.raw.guards import quarantine_sample, source_failures
from assets.raw.log_ledger import ensure_ledger, ledger_objects_for_days, parsed_now, stage_new_objects
from assets.raw.log_objects import delivery_days, log_objects_for_days, no_log_objects
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    figures_by_day,
    groups_within,
    window_days,
    window_result,
)
from bucketlens.formats import access_log as fmt
from bucketlens.formats.access_log_window import create_objects_table, stage_first_seen_days
from bucketlens.schema import QUARANTINE_DDL
from resources.inventory_source import InventorySource
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from resources.warehouse import Warehouse, transaction

ASSET = dg.AssetKey("access_log_requests")
LOG_PREFIX = "access-logs/"
WARN = dg.AssetCheckSeverity.WARN
COLUMNS = [name for name, _ in fmt.COLUMNS]
OBJECTS = "window_log_objects"
# A window's days are replaced in transactions of at most this many ledger records (a day is never
# split): a demo backfill of 90 days (3.5 M records) is one; a 5 M-request day is one per day's worth.
TRANSACTION_RECORDS = 25_000_000
# A grouped aggregate, not count(DISTINCT ...): DuckDB spills a GROUP BY under its memory limit, an
# ungrouped DISTINCT over a day's millions of requests must fit in memory. The requests are first grouped
# by a 64-bit hash of the key and only those of repeated hashes are grouped by the key itself (equal keys
# hash equal; a collision only groups another key beside it).
DUPLICATE_REQUESTS_SQL = """
WITH day_requests AS NOT MATERIALIZED (
    SELECT usage_date, request_id, operation, coalesce(key, '') AS key,
           hash(usage_date, request_id, operation, coalesce(key, '')) AS dedupe_hash
    FROM raw.access_log_requests WHERE usage_date BETWEEN $start AND $end
)
SELECT usage_date, coalesce(sum(seen - 1), 0) AS duplicates FROM (
    SELECT usage_date, count(*) AS seen FROM day_requests
    SEMI JOIN (SELECT dedupe_hash FROM day_requests GROUP BY ALL HAVING count(*) > 1) r USING (dedupe_hash)
    GROUP BY usage_date, request_id, operation, key HAVING count(*) > 1
) GROUP BY ALL
"""
ROWS_SQL = """
SELECT usage_date, count(*) AS rows FROM raw.access_log_requests WHERE usage_date BETWEEN $start AND $end
GROUP BY ALL
"""
# What each day reads from the ledger: its objects' lines and records (of any day).
READ_SQL = f"""
SELECT o.usage_date, coalesce(sum(l.lines), 0) AS lines, coalesce(sum(l.records), 0) AS records
FROM {OBJECTS} o JOIN raw.access_log_objects l ON l.key = o.source_file GROUP BY ALL
"""
QUARANTINE_SQL = f"""
INSERT INTO raw.quarantine BY NAME
SELECT 'access_log_requests' AS source, o.usage_date AS partition_date, q.file, q.line_number, q.raw_text,
       q.reason, now()::TIMESTAMP AS loaded_at
FROM raw.access_log_object_quarantine q JOIN {OBJECTS} o ON q.file = o.source_file
WHERE o.own AND o.usage_date BETWEEN ? AND ?
ORDER BY o.usage_date, q.file, q.line_number
"""
QUARANTINED_SQL = """
SELECT partition_date, count(*) AS quarantined FROM raw.quarantine
WHERE source = 'access_log_requests' AND partition_date BETWEEN $start AND $end GROUP BY ALL
"""
BY_OPERATION_SQL = """
SELECT operation, count(*), count(*) FILTER (WHERE http_status >= 400), sum(bytes_sent)
FROM raw.access_log_requests WHERE usage_date = ? GROUP BY ALL ORDER BY 2 DESC LIMIT 12
"""


def no_logs_window(con, days, source: SourceStore) -> list[DayResult]:
    """A store without server access logs (R2, MinIO): nothing to load and nothing deleted."""
    rows = figures_by_day(con, ROWS_SQL, {"start": days[0], "end": days[-1]}, days)
    results = []
    for day in days:
        n = int(rows[day].get("rows") or 0)
        check = Check(
            False,
            {"objects": 0},
            description=f"No access-log objects under {source.describe(LOG_PREFIX)}: this store writes no "
            "S3 server access logs, so per-user requests are unknown.",
            severity=dg.AssetCheckSeverity.WARN,
        )
        results.append(
            DayResult(
                day,
                {"dagster/row_count": n, "rows": n, "log_objects_read": 0},
                checks={
                    "log_objects_found": check,
                    "request_ids_unique": Check(True, {"duplicates": 0}),
                    "quarantine_below_0_1_percent": Check(True, {"quarantined_lines": 0}, severity=WARN),
                },
            )
        )
    return results


def load_window(
    con, days, listing: dict[str, int], source: SourceStore, service: ServiceLayout
) -> list[DayResult]:
    """Parse the window's log objects not parsed before (one call), then rebuild every day and its
    quarantine from the per-object records in SQL — the same rows as parsing every object again, and as
    building the days one by one. Objects the ledger parsed earlier that are no longer in the source
    still count: their records are in the ledger."""
    lateness = service.log_lateness_hours
    listed = log_objects_for_days(sorted(listing), days, lateness)
    wanted = list(dict.fromkeys(key for day in days for key in listed[day][0]))
    parsed = parsed_now(
        con, stage_new_objects(con, wanted, listing, source, service), {d: listed[d][0] for d in days}
    )
    kept = ledger_objects_for_days(con, days, lateness)
    files = {
        day: (
            sorted(set(listed[day][0]) | set(kept[day][0])),
            sorted(set(listed[day][1]) | set(kept[day][1])),
        )
        for day in days
    }
    create_objects_table(con, OBJECTS, files)
    window = {"start": days[0], "end": days[-1]}
    read = figures_by_day(con, READ_SQL, [], days)
    staged = {}
    # Each group of days is written straight into its emptied partitions inside one transaction with
    # its quarantine: a TEMP stage copied over afterwards wrote the 5 M rows of a busy day twice.
    for group in groups_within(days, {d: read[d].get("records") for d in days}, TRANSACTION_RECORDS):
        with transaction(con):
            con.execute(
                "DELETE FROM raw.access_log_requests WHERE usage_date BETWEEN ? AND ?", [group[0], group[-1]]
            )
            con.execute(
                "DELETE FROM raw.quarantine WHERE source = 'access_log_requests' AND partition_date BETWEEN ? AND ?",
                [group[0], group[-1]],
            )
            staged.update(
                stage_first_seen_days(
                    con, "raw.access_log_records", "raw.access_log_requests", OBJECTS, group, COLUMNS
                )
            )
            con.execute(QUARANTINE_SQL, [group[0], group[-1]])
    quarantined = figures_by_day(con, QUARANTINED_SQL, window, days)
    duplicates = figures_by_day(con, DUPLICATE_REQUESTS_SQL, window, days)
    con.execute(f"DROP TABLE {OBJECTS}")
    results = []
    for day in days:
        keys, own = files[day]
        listed_keys, listed_own = listed[day]
        rows, in_day = staged[day]
        lines, records = int(read[day].get("lines") or 0), int(read[day].get("records") or 0)
        bad = int(quarantined[day].get("quarantined") or 0)
        repeated = int(duplicates[day].get("duplicates") or 0)
        own_lines = max(lines, 1)
        metadata = {
            "dagster/row_count": rows,
            "rows": rows,
            "log_objects_read": len(keys),
            "log_objects_delivered_that_day": len(own),
            "log_objects_parsed_now": parsed[day][0],
            "log_objects_reused": len(keys) - parsed[day][0],
            "log_objects_no_longer_in_source": len(set(keys) - set(listed_keys)),
            "lines_read": lines,
            "lines_parsed_now": parsed[day][1],
            "duplicates_removed": in_day - rows,
            "records_of_other_days": records - in_day,
            "quarantined_lines": bad,
        }
        if day == detail_day(days):
            metadata.update(detail(con, day))
        results.append(
            DayResult(
                day,
                metadata,
                checks={
                    "log_objects_found": Check(bool(listed_own), {"objects": len(listed_own)}),
                    "request_ids_unique": Check(repeated == 0, {"duplicates": repeated}),
                    "quarantine_below_0_1_percent": Check(
                        bad <= own_lines * 0.001,
                        {"quarantined_lines": bad, "share": bad / own_lines},
                        severity=WARN,
                    ),
                },
            )
        )
    return results


def detail(con, day) -> dict:
    """The tables of a one-day run: requests by operation, a sample of the quarantined lines."""
    by_operation = con.execute(BY_OPERATION_SQL, [day]).fetchall()
    tables = {
        "by_operation": markdown_table(
            ["operation", "requests", "errors", "bytes sent"],
            [(o, f"{n:,}", f"{e:,}", f"{b or 0:,}") for o, n, e, b in by_operation],
        )
    }
    return {**tables, **quarantine_sample(con, "access_log_requests", day)}


@daily_asset(
    "access_log_requests",
    "raw",
    deps=("access_log_objects",),
    checks=(
        CheckSpec(
            "log_objects_found",
            "At least one log object was delivered on the day (a day without any fails before anything is "
            "replaced; a store without server access logs warns).",
        ),
        CheckSpec("request_ids_unique", "Duplicated deliveries were removed."),
        CheckSpec("quarantine_below_0_1_percent", "Malformed lines stay under 0.1 % of lines."),
    ),
    kinds=("duckdb", "s3"),
)
def access_log_requests(
    context: dg.AssetExecutionContext,
    source: SourceStore,
    warehouse: Warehouse,
    service: ServiceLayout,
    inventory: InventorySource,
) -> dg.MaterializeResult:
    """One row per request in S3 server access logs (parsed in DuckDB), deduplicated on request id +
    operation + key, with the decoded key and its owner; malformed lines go to ``raw.quarantine``."""
    days = window_days(context)
    listing = {o.key: o.size for o in source.list(LOG_PREFIX)}
    context.log.info(f"{len(listing)} log objects under {source.describe(LOG_PREFIX)}")
    delivered = delivery_days(list(listing))
    missing = [d for d in days if d not in delivered]
    no_logs_store = not listing and not inventory.has_server_access_logs()
    if missing and not no_logs_store:
        # Every day of the window is checked before any is rewritten: a wrong or empty source would
        # otherwise replace loaded days with nothing.
        raise dg.Failure(description=no_log_objects(missing, source.describe(LOG_PREFIX), len(listing)))
    with source_failures(), warehouse.connect() as con:
        con.execute(fmt.TABLE_DDL)
        con.execute(QUARANTINE_DDL)
        ensure_ledger(con)
        if no_logs_store:
            results = no_logs_window(con, days, source)
        else:
            results = load_window(con, days, listing, source, service)
    return window_result(results)
