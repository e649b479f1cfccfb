"""cost.user_daily_cost: the day's S3 bill split over the users who caused it, to the micro-dollar.

When the cost export covers the day, its line items are split (storage by byte-hours per class, request
fees by requests per tier and class, transfer by bytes sent, retrieval by bytes retrieved, CloudFront's
by the bytes and HTTP / HTTPS requests logged in the same edge region — category ``cdn``, see
``bucketlens.costing.cdn`` — adjustments pro rata); before that, the price book estimates the line items and the same split applies with
``is_estimate = true``. A rerun after the export arrives replaces the estimate with the actual.
"""

from decimal import Decimal

import dagster as dg

from assets.metadata import markdown_table
from assets.usage.user_daily_cdn import ensure_tables as ensure_cdn_tables
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
from bucketlens.costing.allocation import allocate_days, reconcile_days
from bucketlens.costing.cdn_estimate import estimate_cdn_days
from bucketlens.costing.estimate import estimate_days
from bucketlens.costing.price_book import AWS
from bucketlens.formats import cur
from resources.pricing import Pricing
from resources.warehouse import Warehouse, replace_days

ASSET = dg.AssetKey("user_daily_cost")
TABLE_DDL = """
CREATE TABLE IF NOT EXISTS cost.user_daily_cost (
    usage_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    storage_class VARCHAR,
    amount_usd DECIMAL(18, 6) NOT NULL,
    is_estimate BOOLEAN NOT NULL,
    driver VARCHAR,
    usage_type VARCHAR
)"""
STAGE = "stage_user_daily_cost"
CDN = "usage.user_daily_cdn"  # CloudFront usage per user and edge region: splits CloudFront's line items
BILLED = "billed_line_items"  # the window's line items of the loaded (chosen) exports
ESTIMATED = "estimated_line_items"  # the price book's line items of the window's days no export covers
LINE_ITEMS = "window_line_items"  # both: what the window's days are split from
BILLED_SQL = f"""
CREATE OR REPLACE TEMP TABLE {BILLED} AS
SELECT * FROM raw.cost_line_items WHERE CAST(usage_start AS DATE) BETWEEN $start AND $end
"""
SPLIT_COLUMNS = (
    "usage_start, line_item_type, product_code, usage_type, operation, pricing_unit, unblended_cost"
)


# Per day: the bill as the chosen export states it (raw.cost_export_days, written from the export files
# before the line items were loaded), and the day's loaded line items that no chosen export holds.
BILL_SQL = f"""
WITH bill AS (
    SELECT d.usage_date, coalesce(sum(d.cost), 0)::DECIMAL(18,6) AS bill, count(d.cost) AS covered
    FROM raw.cost_export_days d JOIN raw.cost_exports e USING (billing_period, export_name)
    WHERE d.usage_date BETWEEN $start AND $end AND e.chosen
    GROUP BY ALL
), others AS (
    SELECT CAST(usage_start AS DATE) AS usage_date, count(*) AS from_other_exports
    FROM {BILLED} i ANTI JOIN (SELECT billing_period, export_name FROM raw.cost_exports WHERE chosen) c
        USING (billing_period, export_name)
    GROUP BY ALL
)
SELECT usage_date, bill, covered, from_other_exports FROM bill FULL JOIN others USING (usage_date)
"""
BY_CATEGORY_SQL = """
SELECT category, sum(amount_usd), count(DISTINCT user_id) FROM cost.user_daily_cost
WHERE usage_date = ? GROUP BY ALL ORDER BY 2 DESC
"""
TOP_USERS_SQL = """
SELECT user_id, sum(amount_usd) AS usd FROM cost.user_daily_cost WHERE usage_date = ?
GROUP BY ALL ORDER BY usd DESC LIMIT 10
"""


def matches_the_chosen_export(day, figures: dict, allocated, estimate: bool) -> Check:
    """The split adds up to the chosen export's cost of the day — the bill, not what happened to be
    loaded — and nothing of another export of the same bill was added; an estimated day must be one no
    chosen export covers."""
    bill = figures.get("bill") or Decimal("0.000000")
    covered, others = figures.get("covered") or 0, figures.get("from_other_exports") or 0
    if estimate:
        passed = covered == 0
        text = f"{day}: estimated although the chosen export bills ${bill} for it"
    else:
        passed = allocated == bill and others == 0
        text = f"{day}: allocated ${allocated} vs ${bill} in the chosen export; {others} line items of other exports"
    return Check(
        passed,
        {
            "chosen_export_usd": str(bill),
            "allocated_usd": str(allocated),
            "line_items_from_other_exports": others,
        },
        description=None if passed else text,
    )


def stage_line_items(con, days, pricing: Pricing, log) -> set:
    """TEMP table ``LINE_ITEMS``: the window's billed line items and, for each day without any, the price
    book's estimate. Returns the estimated days."""
    con.execute(BILLED_SQL, {"start": days[0], "end": days[-1]})
    billed = {
        row[0] for row in con.execute(f"SELECT DISTINCT CAST(usage_start AS DATE) FROM {BILLED}").fetchall()
    }
    estimated = [day for day in days if day not in billed]
    con.execute(f"CREATE OR REPLACE TEMP TABLE {LINE_ITEMS} AS SELECT {SPLIT_COLUMNS} FROM {BILLED}")
    if estimated:
        summaries = estimate_days(
            con,
            estimated,
            "usage.user_daily_storage",
            "usage.user_daily_requests",
            pricing.provider,
            ESTIMATED,
            price_book=pricing.price_book(),
        )
        if pricing.provider == AWS:  # the R2 what-if has no CloudFront
            estimate_cdn_days(con, estimated, CDN, ESTIMATED, price_book=pricing.price_book())
        con.execute(f"INSERT INTO {LINE_ITEMS} SELECT {SPLIT_COLUMNS} FROM {ESTIMATED}")
        for day, summary in summaries.items():
            log.info(f"no cost export covers {day}: estimated ${summary.total} from the price book")
    return set(estimated)


def load_window(con, days, pricing: Pricing, log) -> list[DayResult]:
    """Split the window's billed line items (or, for a day without any, the price book's estimate) over
    users in one pass, replace exactly the window's days, and check each day against its bill."""
    start, end = days[0], days[-1]
    estimated = stage_line_items(con, days, pricing, log)
    allocations = allocate_days(
        con,
        start,
        end,
        LINE_ITEMS,
        "usage.user_daily_storage",
        "usage.user_daily_requests",
        STAGE,
        estimated_days=estimated,
        cdn=CDN,
    )
    rows = replace_days(con, "cost.user_daily_cost", STAGE, "usage_date", days)
    checks = reconcile_days(con, "cost.user_daily_cost", LINE_ITEMS, start, end)
    bills = figures_by_day(con, BILL_SQL, {"start": start, "end": end}, days)
    results = []
    for day in days:
        check, allocation, estimate = checks[day], allocations[day], day in estimated
        unknown = allocation.unknown_usage_types
        metadata = {
            "dagster/row_count": rows[day],
            "is_estimate": estimate,
            "billed_usd": dg.MetadataValue.float(float(check.billed)),
            "allocated_usd": dg.MetadataValue.float(float(check.allocated)),
            "shared_usd": dg.MetadataValue.float(float(allocation.shared_total)),
            "users_with_cost": dg.MetadataValue.int(allocation.users),
            "unknown_usage_types": ", ".join(f"{t} (${c})" for t, c in unknown) or "none",
        }
        if day == detail_day(days):
            by_category = con.execute(BY_CATEGORY_SQL, [day]).fetchall()
            top = con.execute(TOP_USERS_SQL, [day]).fetchall()
            metadata["by_category"] = markdown_table(
                ["category", "USD", "users"], [(c, f"{a:.6f}", n) for c, a, n in by_category]
            )
            metadata["top_users"] = markdown_table(["user", "USD"], [(u, f"{a:.6f}") for u, a in top])
        checks_of_day = {
            "reconciles_to_the_bill": Check(
                check.ok,
                {
                    "day": str(day),
                    "billed_usd": str(check.billed),
                    "allocated_usd": str(check.allocated),
                    "difference_usd": str(check.difference),
                },
                description=None
                if check.ok
                else f"{day}: allocated {check.allocated} vs billed {check.billed} (difference {check.difference})",
            ),
            "matches_the_chosen_export": matches_the_chosen_export(
                day, bills[day], check.allocated, estimate
            ),
            "no_unknown_usage_types": Check(
                not unknown,
                {"unknown": ", ".join(t for t, _ in unknown) or "none"},
                severity=dg.AssetCheckSeverity.WARN,
            ),
        }
        results.append(DayResult(day, metadata, checks_of_day))
    return results


@daily_asset(
    "user_daily_cost",
    "cost",
    checks=(
        CheckSpec(
            "reconciles_to_the_bill",
            "Σ over users (incl. _shared) equals the day's billed (or estimated) S3 cost exactly.",
            blocking=True,
        ),
        CheckSpec(
            "matches_the_chosen_export",
            "Σ over users equals the day's cost in the chosen cost export (raw.cost_exports.chosen), and no line "
            "item of another export of the same bill was added.",
            blocking=True,
        ),
        CheckSpec("no_unknown_usage_types", "Every usage type on the bill is understood."),
    ),
    deps=("cost_line_items", "user_daily_storage", "user_daily_requests", "user_daily_cdn"),
)
def user_daily_cost(
    context: dg.AssetExecutionContext, warehouse: Warehouse, pricing: Pricing
) -> dg.MaterializeResult:
    """One row per user × category × storage class × driver × usage type and day: the attributed
    dollars, and whether they are an estimate (no cost export for the day yet)."""
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        cur.ensure_tables(con)  # stores without a cost export (R2, MinIO): no line items, all estimated
        ensure_cdn_tables(con)  # stores without CloudFront logs: no CDN usage, CloudFront items to _shared
        results = load_window(con, window_days(context), pricing, context.log)
    return window_result(results)
