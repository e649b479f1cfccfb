"""cost.user_daily_cost: the day's S3 bill split over the users who caused it, to the micro-dollar.

When the cost export covers the day, its line items are split (storage by byte-hours per class, request
fees by requests per tier and class, transfer by bytes sent, retrieval by bytes retrieved, adjustments
pro rata); before that, the price book estimates the line items and the same split applies with
``is_estimate = true``. A rerun after the export arrives replaces the estimate with the actual.
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.costing.allocation import allocate_day, reconcile
from bucketlens.costing.price_book import estimate_line_items
from bucketlens.formats import cur
from resources.pricing import Pricing
from resources.warehouse import Replacement, Warehouse, replace_partitions, scalar

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
DAY_LINE_ITEMS_SQL = """
CREATE OR REPLACE TEMP TABLE day_line_items AS
SELECT * FROM raw.cost_line_items WHERE CAST(usage_start AS DATE) = $day
"""


# The bill of the day as the chosen export states it (raw.cost_export_days, written from the export files
# before the line items were loaded), and line items of the day that no chosen export holds.
BILL_SQL = """
SELECT coalesce(sum(d.cost), 0)::DECIMAL(18,6) AS bill, count(d.cost) AS covered,
       (SELECT count(*) FROM day_line_items i ANTI JOIN (SELECT billing_period, export_name FROM raw.cost_exports
        WHERE chosen) c USING (billing_period, export_name)) AS from_other_exports
FROM raw.cost_export_days d JOIN raw.cost_exports e USING (billing_period, export_name)
WHERE d.usage_date = $day AND e.chosen
"""


def matches_the_chosen_export(con, day, allocated, estimate: bool) -> Check:
    """The split adds up to the chosen export's cost of the day — the bill, not what happened to be
    loaded — and nothing of another export of the same bill was added; an estimated day must be one no
    chosen export covers."""
    bill, covered, others = con.execute(BILL_SQL, {"day": day}).fetchall()[0]
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


def load_day(con, day, pricing: Pricing, log) -> DayResult:
    """Split the day's billed line items (or, without any, the price book's estimate) over users."""
    con.execute(DAY_LINE_ITEMS_SQL, {"day": day})
    estimate = scalar(con, "SELECT count(*) FROM day_line_items") == 0
    line_items = "day_line_items"
    if estimate:
        summary = estimate_line_items(
            con,
            day,
            "usage.user_daily_storage",
            "usage.user_daily_requests",
            pricing.provider,
            "estimated_line_items",
            price_book=pricing.price_book(),
        )
        log.info(f"no cost export covers {day}: estimated ${summary.total} from the price book")
        line_items = "estimated_line_items"
    allocation = allocate_day(
        con,
        day,
        line_items,
        "usage.user_daily_storage",
        "usage.user_daily_requests",
        "stage_user_daily_cost",
        is_estimate=estimate,
    )
    (rows,) = replace_partitions(
        con, [Replacement("cost.user_daily_cost", "stage_user_daily_cost", "usage_date = ?", [day])]
    )
    check = reconcile(con, "cost.user_daily_cost", line_items, day)
    by_category = con.execute(
        """SELECT category, sum(amount_usd), count(DISTINCT user_id) FROM cost.user_daily_cost
           WHERE usage_date = ? GROUP BY ALL ORDER BY 2 DESC""",
        [day],
    ).fetchall()
    top = con.execute(
        """SELECT user_id, sum(amount_usd) AS usd FROM cost.user_daily_cost WHERE usage_date = ?
           GROUP BY ALL ORDER BY usd DESC LIMIT 10""",
        [day],
    ).fetchall()
    unknown = allocation.unknown_usage_types
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "is_estimate": estimate,
            "billed_usd": dg.MetadataValue.float(float(check.billed)),
            "allocated_usd": dg.MetadataValue.float(float(check.allocated)),
            "shared_usd": dg.MetadataValue.float(float(allocation.shared_total)),
            "users_with_cost": dg.MetadataValue.int(allocation.users),
            "by_category": markdown_table(
                ["category", "USD", "users"], [(c, f"{a:.6f}", n) for c, a, n in by_category]
            ),
            "top_users": markdown_table(["user", "USD"], [(u, f"{a:.6f}") for u, a in top]),
            "unknown_usage_types": ", ".join(f"{t} (${c})" for t, c in unknown) or "none",
        },
        checks={
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
            "matches_the_chosen_export": matches_the_chosen_export(con, day, check.allocated, estimate),
            "no_unknown_usage_types": Check(
                not unknown,
                {"unknown": ", ".join(t for t, _ in unknown) or "none"},
                severity=dg.AssetCheckSeverity.WARN,
            ),
        },
    )


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
    deps=("cost_line_items", "user_daily_storage", "user_daily_requests"),
)
def user_daily_cost(
    context: dg.AssetExecutionContext, warehouse: Warehouse, pricing: Pricing
) -> dg.MaterializeResult:
    """One row per user × category × storage class × driver × usage type and day: the attributed
    dollars, and whether they are an estimate (no cost export for the day yet)."""
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        cur.ensure_tables(con)  # stores without a cost export (R2, MinIO): no line items, all estimated
        results = [load_day(con, day, pricing, context.log) for day in window_days(context)]
    return window_result(results)
