"""raw.cost_line_items: the S3 line items of the bill of the partition's month — one export per bill.

A CUR 2.0 / FOCUS export is month-to-date and restated: a newer export of a billing period replaces
the whole period. So each partition run replaces its *billing period* (not only its day), atomically.
Several exports of one bill (CUR 2.0 and FOCUS, an export and its copy) are detected and only one is
loaded (``bucketlens.costing.exports`` says which and why); ``raw.cost_exports`` records every export
found, with ``chosen`` and ``reason``, and ``raw.cost_export_days`` each one's cost per day. A period with
no export under ``cur/`` keeps what was loaded (an empty or mistyped source never deletes a bill); a
day no export covers yet keeps no rows and is estimated downstream from the price book.
"""

from datetime import UTC, datetime
from decimal import Decimal

import dagster as dg

from assets.metadata import markdown_table
from assets.raw.guards import source_failures
from assets.window import Check, CheckSpec, DayResult, daily_asset, detail_day, window_days, window_result
from bucketlens.costing.exports import ExportSummary, OverlappingExportsError, choose_exports
from bucketlens.formats import cur as fmt
from bucketlens.formats import cur_exports as exports
from resources.pricing import Pricing
from resources.source_store import SourceStore
from resources.warehouse import Replacement, Warehouse, drop_tables, replace_partitions, scalar

ASSET = dg.AssetKey("cost_line_items")
CUR_PREFIX = "cur/"
WARN = dg.AssetCheckSeverity.WARN
PERIOD_ITEMS, PERIOD_EXPORTS, PERIOD_DAYS = (
    "stage_period_line_items",
    "stage_period_exports",
    "stage_period_days",
)


def newest_exports(
    source: SourceStore, billing_period: str
) -> tuple[list[exports.CostExport], dict[str, int]]:
    listing = {o.key: o.size for o in source.list(CUR_PREFIX)}
    marker = f"/metadata/BILLING_PERIOD={billing_period}/"
    manifests = {k: source.read_bytes(k) for k in listing if marker in k and k.endswith("Manifest.json")}
    return exports.find_cost_exports(sorted(listing), manifests, billing_period), listing


def utc_naive(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def summarize(con, stage: str, export: exports.CostExport, load: fmt.CostLoad) -> ExportSummary:
    total, _, _, accounts, complete = con.execute(fmt.EXPORT_SUMMARY_SQL.format(stage=stage)).fetchall()[0]
    days = con.execute(fmt.EXPORT_DAYS_SQL.format(stage=stage)).fetchall()
    return ExportSummary(
        name=export.export_name,
        schema_kind="+".join(load.schema_kinds) or "cur2",
        accounts=frozenset(accounts or []),
        total=Decimal(total),
        day_totals={d: Decimal(c) for d, _, c in days},
        complete_columns=int(complete),
        export_time=export.export_time,
    )


def stage_export_records(con, period: str, staged, choices) -> None:
    """TEMP tables of the period's export rows (one per export found) and per-day costs."""
    chosen = {c.name: c for c in choices}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PERIOD_EXPORTS} AS SELECT * FROM raw.cost_exports LIMIT 0")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PERIOD_DAYS} AS SELECT * FROM raw.cost_export_days LIMIT 0")
    for export, load, stage, summary in staged:
        choice = chosen[export.export_name]
        con.execute(
            f"""INSERT INTO {PERIOD_EXPORTS} BY NAME SELECT
                ?::VARCHAR AS billing_period, ?::VARCHAR AS export_name, ?::VARCHAR AS execution_id,
                ?::VARCHAR AS manifest_key, ?::TIMESTAMP AS export_time, ?::INTEGER AS files,
                ?::BIGINT AS line_items, ?::DECIMAL(18,6) AS total_cost, now()::TIMESTAMP AS loaded_at,
                ?::VARCHAR AS schema_kind, ?::VARCHAR AS usage_accounts, ?::DATE AS first_day,
                ?::DATE AS last_day, ?::INTEGER AS complete_columns, ?::BOOLEAN AS chosen, ?::VARCHAR AS reason""",
            [
                period,
                export.export_name,
                export.execution_id,
                export.manifest_key,
                utc_naive(export.export_time),
                load.files,
                load.line_items,
                summary.total,
                summary.schema_kind,
                ",".join(sorted(summary.accounts)),
                load.first_day,
                load.last_day,
                summary.complete_columns,
                choice.chosen,
                choice.reason,
            ],
        )
        con.execute(
            f"INSERT INTO {PERIOD_DAYS} SELECT ?, ?, ?, usage_date, line_items, cost FROM ("
            + fmt.EXPORT_DAYS_SQL.format(stage=stage)
            + ")",
            [period, export.export_name, export.execution_id],
        )


def load_period(con, source: SourceStore, period: str, named: str, log) -> list[tuple]:
    """Replace the billing period with its chosen export(s), in one transaction; return the choices.

    Nothing is replaced when ``cur/`` holds no export of the period, when the exports of one bill
    disagree and none is named, or when the chosen export has no S3 line item but the period has.
    """
    exports, listing = newest_exports(source, period)
    if not exports:
        return []
    staged = []
    for i, export in enumerate(exports):
        local = {k: source.local_path(k, size=listing.get(k)) for k in export.data_keys}
        stage = f"stage_cost_export_{i}"
        drop_tables(con, stage)
        load = fmt.stage_cost_line_items(con, export, local, stage=stage)
        staged.append((export, load, stage, summarize(con, stage, export, load)))
    try:
        choices = choose_exports([s for *_, s in staged], named, period, len(fmt.OPTIONAL_COLUMNS))
    except OverlappingExportsError as exc:
        raise dg.Failure(description=str(exc)) from None
    chosen = {c.name for c in choices if c.chosen}
    picked = [(e, load, stage) for e, load, stage, _ in staged if e.export_name in chosen]
    loaded = scalar(con, "SELECT count(*) FROM raw.cost_line_items WHERE billing_period = ?", [period])
    if loaded and not sum(load.line_items for _, load, _ in picked):
        raise dg.Failure(
            description=f"The cost export(s) {', '.join(sorted(chosen))} of {period} under "
            f"{source.describe(CUR_PREFIX)} hold no S3 line item, but {loaded} are loaded for the period: "
            "refusing to replace the bill with nothing."
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {PERIOD_ITEMS} AS "
        + " UNION ALL BY NAME ".join(f"SELECT * FROM {stage}" for _, _, stage in picked)
    )
    stage_export_records(con, period, staged, choices)
    previous = dict(
        con.execute(
            "SELECT export_name, execution_id FROM raw.cost_exports WHERE billing_period = ? AND chosen IS NOT FALSE",
            [period],
        ).fetchall()
    )
    scope = "billing_period = ?"
    replace_partitions(
        con,
        [
            Replacement("raw.cost_line_items", PERIOD_ITEMS, scope, [period]),
            Replacement("raw.cost_exports", PERIOD_EXPORTS, scope, [period]),
            Replacement("raw.cost_export_days", PERIOD_DAYS, scope, [period]),
        ],
    )
    for export, *_ in picked:
        before = previous.get(export.export_name)
        if before and before != export.execution_id:
            log.info(f"{export.export_name} {period}: restated by execution {export.execution_id}")
    drop_tables(con, PERIOD_ITEMS, *(stage for *_, stage, _ in staged))
    return [(e, load, next(c for c in choices if c.name == e.export_name)) for e, load, _, _ in staged]


# The window's days, each with its own billing period (the month it is in): a day only counts line
# items and export days of its own month's bill, as a day run of it does.
DAY_ROWS_SQL = """
SELECT usage_start::DATE AS day, line_item_type, product_code, count(*), sum(unblended_cost)
FROM raw.cost_line_items
WHERE usage_start::DATE BETWEEN $start AND $end AND billing_period = strftime(usage_start::DATE, '%Y-%m')
GROUP BY ALL ORDER BY 1, 5 DESC
"""
DAY_CHECK_SQL = """
WITH days AS (SELECT unnest($days::DATE[]) AS day),
loaded AS (
    SELECT usage_start::DATE AS day, sum(unblended_cost) AS usd FROM raw.cost_line_items
    WHERE usage_start::DATE BETWEEN $start AND $end AND billing_period = strftime(usage_start::DATE, '%Y-%m')
    GROUP BY ALL
),
chosen_export AS (
    SELECT d.usage_date AS day, sum(d.cost) AS usd
    FROM raw.cost_export_days d JOIN raw.cost_exports e USING (billing_period, export_name)
    WHERE d.usage_date BETWEEN $start AND $end AND d.billing_period = strftime(d.usage_date, '%Y-%m') AND e.chosen
    GROUP BY ALL
),
from_other_exports AS (
    SELECT i.usage_start::DATE AS day, count(*) AS n FROM raw.cost_line_items i ANTI JOIN
        (SELECT billing_period, export_name FROM raw.cost_exports WHERE chosen) c USING (billing_period, export_name)
    WHERE i.usage_start::DATE BETWEEN $start AND $end
      AND i.billing_period = strftime(i.usage_start::DATE, '%Y-%m')
    GROUP BY ALL
)
SELECT days.day, coalesce(l.usd, 0) AS loaded, coalesce(c.usd, 0) AS chosen_export,
       coalesce(o.n, 0) AS from_other_exports
FROM days LEFT JOIN loaded l USING (day) LEFT JOIN chosen_export c USING (day)
LEFT JOIN from_other_exports o USING (day)
"""
PERIOD_SQL = """
SELECT count(*), coalesce(sum(unblended_cost), 0),
       count(*) FILTER (WHERE NOT starts_with(coalesce(product_code, ''), 'AmazonS3')
                  AND coalesce(product_code, '') <> 'AmazonCloudFront' AND schema_kind = 'cur2')
FROM raw.cost_line_items WHERE billing_period = ?
"""
EXPORTS_SQL = """
SELECT export_name, schema_kind, execution_id, usage_accounts, total_cost, complete_columns, chosen, reason
FROM raw.cost_exports WHERE billing_period = ? ORDER BY chosen DESC, export_name
"""


def one_export_checks(con, days) -> dict:
    """Per day of the window (one grouped query): the day's loaded S3 cost is the chosen export's, and
    no line item came from another export."""
    params = {"start": days[0], "end": days[-1], "days": days}
    return {day: one_export_check(day, *rest) for day, *rest in con.execute(DAY_CHECK_SQL, params).fetchall()}


def one_export_check(day, loaded, chosen, others) -> Check:
    passed = loaded == chosen and others == 0
    return Check(
        passed,
        {
            "loaded_usd": str(loaded),
            "chosen_export_usd": str(chosen),
            "line_items_from_other_exports": others,
        },
        description=None
        if passed
        else f"{day}: loaded ${loaded} vs ${chosen} in the chosen export; {others} line items from other exports",
    )


def period_figures(con, period: str) -> dict:
    """What every day of a billing period shows about the period: read once per period, not per day."""
    items, cost, non_s3 = con.execute(PERIOD_SQL, [period]).fetchall()[0]
    return {
        "items": int(items),
        "cost": cost,
        "non_s3": int(non_s3),
        "exports": con.execute(EXPORTS_SQL, [period]).fetchall(),
    }


def window_results(con, source: SourceStore, days, loads: dict) -> list[DayResult]:
    """Every day's metadata and checks from three grouped queries over the window and one per period."""
    window = {"start": days[0], "end": days[-1]}
    day_rows: dict = {day: [] for day in days}
    for day, *row in con.execute(DAY_ROWS_SQL, window).fetchall():
        day_rows[day].append(tuple(row))
    checks = one_export_checks(con, days)
    periods = {p: period_figures(con, p) for p in loads}
    return [
        day_result(
            source,
            day,
            loads[day.strftime("%Y-%m")],
            day_rows[day],
            periods[day.strftime("%Y-%m")],
            checks[day],
            day == detail_day(days),
        )
        for day in days
    ]


def day_result(
    source: SourceStore, day, choices, day_rows, period: dict, check: Check, detail: bool
) -> DayResult:
    period_name = day.strftime("%Y-%m")
    exports = period["exports"]
    chosen = [
        f"{name}@{execution}" for name, _, execution, *_, is_chosen, _ in exports if is_chosen is not False
    ]
    day_cost = sum((r[3] for r in day_rows), Decimal(0))
    covered = bool(day_rows)
    found_now = bool(choices)
    period_kept = not found_now and bool(exports)
    where = source.describe(f"{CUR_PREFIX}<export>/data/BILLING_PERIOD={period_name}/")
    metadata = {
        "dagster/row_count": sum(r[2] for r in day_rows),
        "billing_period": period_name,
        "exports": ", ".join(chosen) or "none yet",
        "chosen_export": ", ".join(chosen) or "none yet",
        "exports_found": len(choices),
        "exports_not_chosen": ", ".join(e.export_name for e, _, c in choices if not c.chosen) or "none",
        "period_line_items": period["items"],
        "period_cost_usd": float(period["cost"]),
        "day_cost_usd": float(day_cost),
        "day_covered": covered,
    }
    if detail:
        metadata["cost_exports"] = markdown_table(
            ["export", "kind", "execution", "accounts", "period USD", "columns", "chosen", "reason"],
            [
                (n, k, x, a, f"{t:.6f}", c, "yes" if ch is not False else "no", r)
                for n, k, x, a, t, c, ch, r in exports
            ],
        )
        metadata["day_breakdown"] = markdown_table(
            ["type", "product", "line items", "cost USD"], [(t, p, n, f"{c:.6f}") for t, p, n, c in day_rows]
        )
    return DayResult(
        day,
        metadata=metadata,
        checks={
            "day_covered_by_export": Check(
                covered,
                description=None if covered else f"No export covers {day} yet: its cost will be estimated.",
                severity=WARN,
            ),
            "period_export_found": Check(
                not period_kept,
                {"where": where},
                description=f"No cost export of {period_name} under {where}; kept the line items loaded before."
                if period_kept
                else None,
                severity=WARN,
            ),
            "one_export_per_bill": check,
            "only_s3_and_cloudfront": Check(period["non_s3"] == 0, {"other_product_rows": period["non_s3"]}),
        },
    )


@daily_asset(
    "cost_line_items",
    "raw",
    checks=(
        CheckSpec("day_covered_by_export", "The cost export covers this day yet."),
        CheckSpec(
            "period_export_found",
            "An export of the billing period is under cur/ (without one, the period loaded before is kept).",
        ),
        CheckSpec(
            "one_export_per_bill",
            "The day's loaded S3 cost equals the chosen export's, and no line item comes from another export "
            "of the same bill.",
            blocking=True,
        ),
        CheckSpec("only_s3_and_cloudfront", "Every loaded line item is an S3 or CloudFront product."),
    ),
    kinds=("duckdb", "s3"),
    code_version="2",
)
def cost_line_items(
    context: dg.AssetExecutionContext, source: SourceStore, warehouse: Warehouse, pricing: Pricing
) -> dg.MaterializeResult:
    """One row per S3 line item (usage, tax, credit, ...) of the chosen CUR 2.0 or FOCUS export of the
    partition's billing period (one per bill); the whole period is replaced when a newer export arrives."""
    days = window_days(context)
    with source_failures(), warehouse.connect() as con:
        fmt.ensure_tables(con)
        loads = {
            p: load_period(con, source, p, pricing.cost_export, context.log)
            for p in dict.fromkeys(d.strftime("%Y-%m") for d in days)
        }
        results = window_results(con, source, days, loads)
    return window_result(results)
