"""savings.storage_leaks: what the bucket bills for that nobody should be paying for, per user and day,
with its monthly cost and the cleanup to apply (``bucketlens.savings.leaks``).

Each leak type is a warning check of its own (a flag in the UI while any is found, naming the users and
what they cost) and an info alert rule of the rules file (``orphaned_data``, ``noncurrent_versions``,
``delete_markers``, ``incomplete_multipart_uploads``); ``leaks_well_formed`` holds the rows to their promises.
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
from bucketlens.savings.leaks import (
    LEAK_TYPES,
    TABLE,
    TABLE_DDL,
    WELL_FORMED_SQL,
    stage_leaks,
    well_formed_params,
)
from resources.pricing import Pricing
from resources.rules import RulesFile
from resources.service import ServiceLayout
from resources.warehouse import Warehouse, replace_days

STAGE = "stage_storage_leaks"
WARN = dg.AssetCheckSeverity.WARN
FLAGS = {
    "orphaned_data": CheckSpec(
        "no_orphaned_data",
        "No data stored for users the users database does not list or lists as deleted/closed.",
    ),
    "noncurrent_versions": CheckSpec(
        "no_old_noncurrent_versions",
        "No noncurrent versions older than savings.leaks.noncurrent_version_days.",
    ),
    "delete_markers": CheckSpec(
        "no_old_delete_markers", "No delete markers older than savings.leaks.delete_marker_days."
    ),
    "incomplete_multipart_uploads": CheckSpec(
        "no_incomplete_multipart_uploads",
        "No multipart upload left neither completed nor aborted longer than savings.leaks.multipart_upload_days.",
    ),
}
WELL_FORMED = CheckSpec(
    "leaks_well_formed",
    "One row per user × leak type, nothing negative, a cleanup rule under the user's own prefix, and "
    "orphaned data only for users absent from the users snapshot or in an orphaned status.",
)
FIGURES_SQL = f"""
SELECT usage_date, {
    ", ".join(
        f"count(DISTINCT user_id) FILTER (WHERE leak_type = '{t}') AS {t}_users, "
        f"coalesce(sum(objects) FILTER (WHERE leak_type = '{t}'), 0) AS {t}_objects, "
        f"coalesce(sum(bytes) FILTER (WHERE leak_type = '{t}'), 0) AS {t}_bytes, "
        f"coalesce(sum(monthly_cost_usd) FILTER (WHERE leak_type = '{t}'), 0) AS {t}_usd"
        for t in LEAK_TYPES
    )
},
    coalesce(sum(monthly_cost_usd), 0) AS monthly_cost_usd
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date ORDER BY usage_date
"""
TOP_SQL = f"""
SELECT leak_type, user_id, bucket, user_status, objects, bytes, monthly_cost_usd, cleanup_kind
FROM {TABLE} WHERE usage_date = ?
ORDER BY monthly_cost_usd DESC, bytes DESC, leak_type, user_id LIMIT 15
"""
FIRST_USERS = 5


def _flag(leak_type: str, f: dict) -> Check:
    users = int(f.get(f"{leak_type}_users") or 0)
    figures = {
        "users": users,
        "objects": int(f.get(f"{leak_type}_objects") or 0),
        "bytes": int(f.get(f"{leak_type}_bytes") or 0),
        "monthly_cost_usd": float(f.get(f"{leak_type}_usd") or 0),
    }
    what = leak_type.replace("_", " ")
    description = (
        None
        if users == 0
        else f"{what}: {users} user(s), {figures['objects']:,} object(s), {human_bytes(figures['bytes'])}, "
        f"${figures['monthly_cost_usd']:,.4f} a month (savings.storage_leaks lists each with its cleanup)"
    )
    return Check(users == 0, figures, description, WARN)


def load_window(con, days, rules, book, provider, pattern) -> list[DayResult]:
    start, end = days[0], days[-1]
    stage_leaks(con, STAGE, start, end, rules, book, provider, pattern)
    rows = replace_days(con, TABLE, STAGE, "usage_date", days)
    figures = figures_by_day(con, FIGURES_SQL, {"start": start, "end": end}, days)
    formed = figures_by_day(con, WELL_FORMED_SQL, well_formed_params(start, end, rules, pattern), days)
    results = []
    for day in days:
        f, w = figures[day], formed[day]
        metadata: dict[str, object] = {
            "dagster/row_count": rows[day],
            "monthly_cost_usd": dg.MetadataValue.float(float(f.get("monthly_cost_usd") or 0)),
        }
        for t in LEAK_TYPES:
            metadata[f"{t}_users"] = dg.MetadataValue.int(int(f.get(f"{t}_users") or 0))
            metadata[f"{t}_bytes"] = dg.MetadataValue.int(int(f.get(f"{t}_bytes") or 0))
            metadata[f"{t}_usd"] = dg.MetadataValue.float(float(f.get(f"{t}_usd") or 0))
        if day == detail_day(days):
            top = con.execute(TOP_SQL, [day]).fetchall()
            metadata["top_leaks"] = markdown_table(
                ["leak", "user", "bucket", "user status", "objects", "bytes", "a month", "cleanup"],
                [(t, u, b, s, f"{n:,}", human_bytes(y), f"${c:,.4f}", k) for t, u, b, s, n, y, c, k in top],
            )
        wrong = int(w.get("wrong") or 0)
        checks = {FLAGS[t].name: _flag(t, f) for t in LEAK_TYPES}
        checks[WELL_FORMED.name] = Check(
            wrong == 0,
            {"rows_failing": wrong},
            None
            if wrong == 0
            else f"{wrong} leak row(s) break the table's promises, e.g. {w['first_wrong']}",
        )
        results.append(DayResult(day, metadata, checks))
    return results


@daily_asset(
    "storage_leaks",
    "savings",
    checks=(*FLAGS.values(), WELL_FORMED),
    deps=("inventory_objects", "access_log_requests", "users"),
)
def storage_leaks(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    pricing: Pricing,
    rules: RulesFile,
    service: ServiceLayout,
) -> dg.MaterializeResult:
    """One row per user × bucket × leak type and day: orphaned data (users absent from the users
    database or deleted/closed), noncurrent versions and delete markers older than the rules file's
    ages, multipart uploads never completed nor aborted — objects, bytes, monthly cost, the oldest, the
    cleanup (a lifecycle rule under the user's prefix) and the keys (or upload ids) to act on."""
    leak_rules = rules.load().savings.leaks
    book = pricing.price_book()
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        results = load_window(
            con, window_days(context), leak_rules, book, pricing.provider, service.ownership()
        )
    return window_result(results)
