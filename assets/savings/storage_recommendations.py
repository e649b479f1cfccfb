"""savings.storage_recommendations: what moving each user's cold Standard objects to a cheaper class
would save, with the lifecycle rule that does it (``bucketlens.savings.recommendations``).

The whole window is one staging query; two checks run on every materialization: ``savings_recomputed``
prices every recommendation again object by object from the raw rows it names and the price book (a
different computation from the grouped search that produced it), and ``lifecycle_rules_valid`` reads
each rule back against AWS's constraints.
"""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
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
from bucketlens.savings.prices import candidate_classes
from bucketlens.savings.recommendations import (
    RECOMPUTE_BY_DAY_SQL,
    RULES_BY_DAY_SQL,
    TABLE,
    TABLE_DDL,
    load_prices,
    parameters,
    recompute_params,
    rules_params,
    stage_recommendations,
)
from resources.pricing import Pricing
from resources.rules import RulesFile
from resources.service import ServiceLayout
from resources.warehouse import Warehouse, replace_days

STAGE = "stage_storage_recommendations"
RECOMPUTED = CheckSpec(
    "savings_recomputed",
    "Every recommendation's objects, bytes, monthly saving and transition cost equal a recomputation object "
    "by object from the raw rows it names and the price book.",
    blocking=True,
)
RULES_VALID = CheckSpec(
    "lifecycle_rules_valid",
    "Every lifecycle rule names the user's prefix, the size range and transition age of its recommendation, "
    "a class the rule may move objects to at that age, and an ID within S3's 255 characters.",
)
FIGURES_SQL = f"""
SELECT usage_date,
       count(*) AS rows,
       count(DISTINCT user_id) FILTER (WHERE best_for_user) AS users_recommended,
       coalesce(sum(monthly_saving_usd) FILTER (WHERE best_for_user), 0) AS monthly_saving_usd,
       coalesce(sum(transition_cost_usd) FILTER (WHERE best_for_user), 0) AS transition_cost_usd,
       coalesce(sum(bytes) FILTER (WHERE best_for_user), 0) AS bytes_to_move,
       max(observed_days) AS observed_days,
       {{per_class}}
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date ORDER BY usage_date
"""
TOP_SQL = f"""
SELECT user_id, bucket, storage_class, transition_age_days, min_object_bytes, max_object_bytes, objects, bytes,
       monthly_saving_usd, transition_cost_usd, break_even_months, retrieval_usd + early_delete_usd AS penalties
FROM {TABLE} WHERE usage_date = ? AND best_for_user
ORDER BY monthly_saving_usd DESC, user_id LIMIT 10
"""
BY_CLASS_SQL = f"""
SELECT bucket, storage_class, count(*) FILTER (WHERE recommended) AS recommended,
       coalesce(sum(monthly_saving_usd) FILTER (WHERE recommended), 0) AS saving,
       coalesce(sum(bytes) FILTER (WHERE recommended), 0) AS bytes,
       count(*) FILTER (WHERE monthly_saving_usd < 0) AS losing
FROM {TABLE} WHERE usage_date = ? GROUP BY ALL ORDER BY bucket, saving DESC
"""


def _size_range(low, high) -> str:
    if low is None:
        return "any size"
    return f"≥ {human_bytes(low)}" + (f", < {human_bytes(high)}" if high is not None else "")


def load_window(con, days, rules, book, provider, pattern) -> list[DayResult]:
    """Stage the window, replace exactly its days, then recompute every recommendation and read back
    every lifecycle rule (the checks), and the per-day figures."""
    start, end = days[0], days[-1]
    classes = [c.storage_class for c in candidate_classes(book, provider)]
    stage_recommendations(con, STAGE, start, end, rules, book, provider, pattern)
    rows = replace_days(con, TABLE, STAGE, "usage_date", days)
    params = parameters(start, end, rules, book, provider, pattern)
    load_prices(con, book, provider)  # the check prices from the book again, not from the staged rows
    recomputed = figures_by_day(con, RECOMPUTE_BY_DAY_SQL, recompute_params(params), days)
    rule_checks = figures_by_day(con, RULES_BY_DAY_SQL, rules_params(params), days)
    per_class = ", ".join(
        f"coalesce(sum(monthly_saving_usd) FILTER (WHERE recommended AND storage_class = '{c}'), 0) AS \"{c}\""
        for c in classes
    )
    figures = figures_by_day(con, FIGURES_SQL.format(per_class=per_class), {"start": start, "end": end}, days)
    results = []
    for day in days:
        f, r, v = figures[day], recomputed[day], rule_checks[day]
        metadata: dict[str, object] = {
            "dagster/row_count": rows[day],
            "users_recommended": dg.MetadataValue.int(int(f.get("users_recommended") or 0)),
            "monthly_saving_usd": dg.MetadataValue.float(float(f.get("monthly_saving_usd") or 0)),
            "transition_cost_usd": dg.MetadataValue.float(float(f.get("transition_cost_usd") or 0)),
            "bytes_to_move": dg.MetadataValue.int(int(f.get("bytes_to_move") or 0)),
            "history_days_observed": dg.MetadataValue.int(int(f.get("observed_days") or 0)),
            **{f"saving_{c.lower()}_usd": dg.MetadataValue.float(float(f.get(c) or 0)) for c in classes},
            "price_book": dg.MetadataValue.text(book.source),
        }
        if day == detail_day(days):
            top = con.execute(TOP_SQL, [day]).fetchall()
            metadata["top_opportunities"] = markdown_table(
                ["user", "bucket", "class", "after days", "sizes", "objects", "bytes", "saves / month",
                 "one-time fees", "break-even (months)", "reads + early deletes / month"],
                [(u, b, c, a, _size_range(lo, hi), f"{n:,}", human_bytes(s), f"${m:,.4f}", f"${t:,.4f}",
                  be, f"${p:,.4f}") for u, b, c, a, lo, hi, n, s, m, t, be, p in top],
            )  # fmt: skip
            by_class = con.execute(BY_CLASS_SQL, [day]).fetchall()
            metadata["by_bucket_and_class"] = markdown_table(
                [
                    "bucket",
                    "class",
                    "users recommended",
                    "saves / month",
                    "bytes",
                    "users it would cost more",
                ],
                [(b, c, n, f"${s:,.4f}", human_bytes(y), lo) for b, c, n, s, y, lo in by_class],
            )
        checked, wrong = int(r.get("checked") or 0), int(r.get("wrong") or 0)
        recompute = Check(
            wrong == 0,
            {
                "recommendations_checked": checked,
                "disagreeing": wrong,
                "worst_usd": float(r.get("worst_usd") or 0),
            },
            None
            if wrong == 0
            else f"{wrong} recommendation(s) disagree with the recomputation, e.g. {r['first_wrong']}",
        )
        bad_rules = int(v.get("wrong") or 0)
        valid = Check(
            bad_rules == 0,
            {"rules_failing": bad_rules},
            None
            if bad_rules == 0
            else f"{bad_rules} lifecycle rule(s) do not match their recommendation: {v['first_wrong']}",
        )
        results.append(DayResult(day, metadata, {RECOMPUTED.name: recompute, RULES_VALID.name: valid}))
    return results


@daily_asset(
    "storage_recommendations",
    "savings",
    checks=(RECOMPUTED, RULES_VALID),
    deps=("inventory_objects", "access_log_requests", "users"),
)
def storage_recommendations(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    pricing: Pricing,
    rules: RulesFile,
    service: ServiceLayout,
) -> dg.MaterializeResult:
    """One row per user × bucket × candidate class (STANDARD_IA, GLACIER_IR, DEEP_ARCHIVE,
    INTELLIGENT_TIERING on AWS; Infrequent Access on R2) and day: the lifecycle rule (prefix, size range,
    days since upload) that saves the most over ``max_break_even_months``, the objects it moves, what
    they cost now, the storage it saves, the monitoring, retrieval and early-delete charges the user's
    own reads and deletes imply, the net monthly saving, the one-time transition fees, the break-even in
    months, and whether it is recommended (and why not)."""
    book = pricing.price_book()
    savings_rules = rules.load().savings
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        results = load_window(
            con, window_days(context), savings_rules, book, pricing.provider, service.ownership()
        )
    return window_result(results)
