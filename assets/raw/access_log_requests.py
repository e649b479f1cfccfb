"""raw.access_log_requests: one row per S3 request whose own timestamp falls on the partition day."""

import dagster as dg

from assets.metadata import markdown_table
from assets.raw.guards import source_failures
from assets.raw.log_ledger import ensure_ledger, ledger_objects_for_day, stage_new_objects
from assets.raw.log_objects import delivery_days, log_objects_for_day, no_log_objects
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.formats import access_log as fmt
from bucketlens.schema import QUARANTINE_DDL
from resources.inventory_source import InventorySource
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from resources.warehouse import Warehouse, rewriting_raw_day, scalar

ASSET = dg.AssetKey("access_log_requests")
LOG_PREFIX = "access-logs/"
WARN = dg.AssetCheckSeverity.WARN
# A grouped aggregate, not count(DISTINCT ...): DuckDB spills a GROUP BY under its memory limit, an
# ungrouped DISTINCT over the day's millions of requests must fit in memory.
DUPLICATE_REQUESTS_SQL = """
SELECT coalesce(sum(seen - 1), 0) FROM (
    SELECT count(*) AS seen FROM raw.access_log_requests WHERE usage_date = ?
    GROUP BY request_id, operation, coalesce(key, '') HAVING count(*) > 1
)"""


def no_logs_day(con, day, source: SourceStore) -> DayResult:
    """A store without server access logs (R2, MinIO): nothing to load and nothing deleted."""
    rows = scalar(con, "SELECT count(*) FROM raw.access_log_requests WHERE usage_date = ?", [day])
    return DayResult(
        day,
        {"dagster/row_count": rows, "rows": rows, "log_objects_read": 0},
        checks={
            "log_objects_found": Check(
                False,
                {"objects": 0},
                description=f"No access-log objects under {source.describe(LOG_PREFIX)}: this store writes no "
                "S3 server access logs, so per-user requests are unknown.",
                severity=dg.AssetCheckSeverity.WARN,
            ),
            "request_ids_unique": Check(True, {"duplicates": 0}),
            "quarantine_below_0_1_percent": Check(True, {"quarantined_lines": 0}, severity=WARN),
        },
    )


def load_day(con, day, listing: dict[str, int], source: SourceStore, service: ServiceLayout) -> DayResult:
    """Parse the day's log objects not parsed before, then rebuild the day and its quarantine from
    the per-object records in SQL (the same rows as parsing every object again). Objects the ledger
    parsed earlier that are no longer in the source still count: their records are in the ledger."""
    listed, listed_own = log_objects_for_day(sorted(listing), day, service.log_lateness_hours)
    parse = stage_new_objects(con, listed, listing, source, service)
    kept, kept_own = ledger_objects_for_day(con, day, service.log_lateness_hours)
    keys, own = sorted(set(listed) | set(kept)), sorted(set(listed_own) | set(kept_own))
    lines, records = con.execute(
        "SELECT coalesce(sum(lines), 0), coalesce(sum(records), 0) FROM raw.access_log_objects "
        "WHERE list_contains(?, key)",
        [keys],
    ).fetchall()[0]
    # The day is written straight into its emptied partition inside one transaction with its
    # quarantine: a TEMP stage copied over afterwards wrote the 5 M rows of a busy day twice.
    with rewriting_raw_day(con, "raw.access_log_requests", "usage_date", day, "access_log_requests"):
        rows, in_day = fmt.stage_first_seen(
            con, "raw.access_log_records", "raw.access_log_requests", day, keys
        )
        con.execute(
            """INSERT INTO raw.quarantine BY NAME
               SELECT 'access_log_requests' AS source, ?::DATE AS partition_date, file, line_number,
                      raw_text, reason, now()::TIMESTAMP AS loaded_at
               FROM raw.access_log_object_quarantine WHERE list_contains(?, file)
               ORDER BY file, line_number""",
            [day, own],
        )
        quarantined = scalar(
            con,
            "SELECT count(*) FROM raw.quarantine WHERE source = 'access_log_requests' AND partition_date = ?",
            [day],
        )
    duplicates = scalar(con, DUPLICATE_REQUESTS_SQL, [day])
    by_operation = con.execute(
        """SELECT operation, count(*), count(*) FILTER (WHERE http_status >= 400), sum(bytes_sent)
           FROM raw.access_log_requests WHERE usage_date = ? GROUP BY ALL ORDER BY 2 DESC LIMIT 12""",
        [day],
    ).fetchall()
    samples = con.execute(
        "SELECT file, line_number, reason FROM raw.quarantine WHERE source = 'access_log_requests' "
        "AND partition_date = ? ORDER BY file, line_number LIMIT 5",
        [day],
    ).fetchall()
    own_lines = max(int(lines), 1)
    metadata = {
        "dagster/row_count": rows,
        "rows": rows,
        "log_objects_read": len(keys),
        "log_objects_delivered_that_day": len(own),
        "log_objects_parsed_now": parse.files,
        "log_objects_reused": len(keys) - parse.files,
        "log_objects_no_longer_in_source": len(set(keys) - set(listed)),
        "lines_read": int(lines),
        "lines_parsed_now": parse.lines,
        "duplicates_removed": in_day - rows,
        "records_of_other_days": int(records) - in_day,
        "quarantined_lines": quarantined,
        "by_operation": markdown_table(
            ["operation", "requests", "errors", "bytes sent"],
            [(o, f"{n:,}", f"{e:,}", f"{b or 0:,}") for o, n, e, b in by_operation],
        ),
    }
    if samples:
        metadata["quarantine_sample"] = markdown_table(["file", "line", "reason"], samples)
    return DayResult(
        day,
        metadata,
        checks={
            "log_objects_found": Check(bool(listed_own), {"objects": len(listed_own)}),
            "request_ids_unique": Check(duplicates == 0, {"duplicates": int(duplicates)}),
            "quarantine_below_0_1_percent": Check(
                quarantined <= own_lines * 0.001,
                {"quarantined_lines": quarantined, "share": quarantined / own_lines},
                severity=WARN,
            ),
        },
    )


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
            results = [no_logs_day(con, day, source) for day in days]
        else:
            results = [load_day(con, day, listing, source, service) for day in days]
    return window_result(results)
