"""raw.cost_line_items: the S3 line items of the newest cost export covering the partition's month.

A CUR 2.0 / FOCUS export is month-to-date and restated: a newer export of a billing period replaces
the whole period. So each partition run replaces its *billing period* (not only its day) with the
newest export, atomically, and records which export that was in ``raw.cost_exports``; a day the export
does not cover yet keeps no rows and is estimated downstream from the price book.
"""

from decimal import Decimal

import dagster as dg

from assets.metadata import markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.formats import cur as fmt
from resources.source_store import SourceStore
from resources.warehouse import Replacement, Warehouse, drop_tables, replace_partitions, scalar

ASSET = dg.AssetKey("cost_line_items")
CUR_PREFIX = "cur/"


def newest_exports(source: SourceStore, billing_period: str) -> tuple[list[fmt.CostExport], dict[str, int]]:
    listing = {o.key: o.size for o in source.list(CUR_PREFIX)}
    marker = f"/metadata/BILLING_PERIOD={billing_period}/"
    manifests = {k: source.read_bytes(k) for k in listing if marker in k and k.endswith("Manifest.json")}
    return fmt.find_cost_exports(sorted(listing), manifests, billing_period), listing


def load_period(con, source: SourceStore, period: str, log) -> list[tuple[fmt.CostExport, object]]:
    """Replace the billing period with its newest export(s); one transaction per export."""
    exports, listing = newest_exports(source, period)
    loads = []
    for export in exports:
        local = {k: source.local_path(k, size=listing.get(k)) for k in export.data_keys}
        drop_tables(con, "stage_cost_line_items")
        load = fmt.stage_cost_line_items(con, export, local, stage="stage_cost_line_items")
        loads.append((export, load))
        con.execute(
            """CREATE OR REPLACE TEMP TABLE stage_cost_export AS SELECT
               ?::VARCHAR AS billing_period, ?::VARCHAR AS export_name, ?::VARCHAR AS execution_id,
               ?::VARCHAR AS manifest_key, ?::TIMESTAMP AS export_time, ?::INTEGER AS files,
               (SELECT count(*) FROM stage_cost_line_items) AS line_items,
               (SELECT coalesce(sum(unblended_cost), 0) FROM stage_cost_line_items)::DECIMAL(18,6) AS total_cost,
               now()::TIMESTAMP AS loaded_at""",
            [
                period,
                export.export_name,
                export.execution_id,
                export.manifest_key,
                export.export_time,
                len(local),
            ],
        )
        previous = con.execute(
            "SELECT execution_id FROM raw.cost_exports WHERE billing_period = ? AND export_name = ?",
            [period, export.export_name],
        ).fetchall()
        scope = "billing_period = ? AND export_name = ?"
        replace_partitions(
            con,
            [
                Replacement(
                    "raw.cost_line_items", "stage_cost_line_items", scope, [period, export.export_name]
                ),
                Replacement("raw.cost_exports", "stage_cost_export", scope, [period, export.export_name]),
            ],
        )
        if previous and previous[0][0] != export.execution_id:
            log.info(f"{export.export_name} {period}: restated by execution {export.execution_id}")
    return loads


def day_result(con, day, loads) -> DayResult:
    period = day.strftime("%Y-%m")
    day_rows = con.execute(
        """SELECT line_item_type, product_code, count(*), sum(unblended_cost)
           FROM raw.cost_line_items WHERE billing_period = ? AND usage_start::DATE = ? GROUP BY ALL ORDER BY 4 DESC""",
        [period, day],
    ).fetchall()
    non_s3 = scalar(
        con,
        "SELECT count(*) FROM raw.cost_line_items WHERE billing_period = ? "
        "AND NOT starts_with(coalesce(product_code, ''), 'AmazonS3') AND schema_kind = 'cur2'",
        [period],
    )
    day_cost = sum((r[3] for r in day_rows), Decimal(0))
    covered = bool(day_rows)
    return DayResult(
        day,
        metadata={
            "dagster/row_count": sum(r[2] for r in day_rows),
            "billing_period": period,
            "exports": ", ".join(f"{e.export_name}@{e.execution_id}" for e, _ in loads) or "none yet",
            "period_line_items": sum(load.line_items for _, load in loads),
            "period_cost_usd": float(sum((load.total_cost for _, load in loads), Decimal(0))),
            "day_cost_usd": float(day_cost),
            "day_covered": covered,
            "day_breakdown": markdown_table(
                ["type", "product", "line items", "cost USD"],
                [(t, p, n, f"{c:.6f}") for t, p, n, c in day_rows],
            ),
        },
        checks={
            "day_covered_by_export": Check(
                covered,
                description=None if covered else f"No export covers {day} yet: its cost will be estimated.",
                severity=dg.AssetCheckSeverity.WARN,
            ),
            "only_s3_products": Check(non_s3 == 0, {"non_s3_rows": int(non_s3)}),
        },
    )


@daily_asset(
    "cost_line_items",
    "raw",
    checks=(
        CheckSpec("day_covered_by_export", "The cost export covers this day yet."),
        CheckSpec("only_s3_products", "Every loaded line item is an S3 product."),
    ),
    kinds=("duckdb", "s3"),
)
def cost_line_items(
    context: dg.AssetExecutionContext, source: SourceStore, warehouse: Warehouse
) -> dg.MaterializeResult:
    """One row per S3 line item (usage, tax, credit, ...) of the newest CUR 2.0 or FOCUS export of the
    partition's billing period; the whole period is replaced when a newer export arrives."""
    days = window_days(context)
    with warehouse.connect() as con:
        con.execute(fmt.TABLE_DDL)
        con.execute(fmt.EXPORTS_DDL)
        loads = {
            p: load_period(con, source, p, context.log)
            for p in dict.fromkeys(d.strftime("%Y-%m") for d in days)
        }
        results = [day_result(con, day, loads[day.strftime("%Y-%m")]) for day in days]
    return window_result(results)
