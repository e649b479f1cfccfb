"""cost.user_quota_use: how full each user's plan is, for the over-limit and 80 % rules."""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    load_in_warehouse,
    loaded_days,
    stage_and_replace,
    window_figures,
)
from resources.warehouse import Warehouse

ASSET = dg.AssetKey("user_quota_use")
TABLE_DDL = """
CREATE TABLE IF NOT EXISTS cost.user_quota_use (
    usage_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    plan VARCHAR,
    quota_bytes BIGINT,
    stored_bytes BIGINT,
    quota_use_pct DOUBLE
)"""
STAGE = "stage_user_quota_use"
STAGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE {STAGE} AS
SELECT u.snapshot_date AS usage_date, u.user_id, u.plan, u.quota_bytes,
       coalesce(s.bytes, 0)::BIGINT AS stored_bytes,
       CASE WHEN u.quota_bytes > 0 THEN 100.0 * coalesce(s.bytes, 0) / u.quota_bytes END AS quota_use_pct
FROM raw.users u
LEFT JOIN (SELECT usage_date, user_id, sum(bytes) AS bytes FROM usage.user_daily_storage
           WHERE usage_date BETWEEN $start AND $end GROUP BY ALL) s
    ON s.usage_date = u.snapshot_date AND s.user_id = u.user_id
WHERE u.snapshot_date BETWEEN $start AND $end
"""


ONE_ROW_PER_USER = CheckSpec(
    "one_row_per_registered_user", "Exactly one row per user of raw.users on the day, none without an id."
)
BYTES_MATCH = CheckSpec(
    "stored_bytes_match_storage",
    "Σ stored bytes equals the registered users' bytes in usage.user_daily_storage (no user counted twice).",
)
# Per day of the window: the check inputs and the users over 80 % / 100 % of their quota.
FIGURES_SQL = """
WITH quota AS (
    SELECT usage_date, count(*) AS rows, count(DISTINCT user_id) AS distinct_users,
           count(*) FILTER (WHERE user_id IS NULL) AS without_id,
           coalesce(sum(stored_bytes), 0) AS quota_bytes,
           count(*) FILTER (WHERE quota_use_pct > 80) AS over_80,
           count(*) FILTER (WHERE quota_use_pct > 100) AS over_100
    FROM cost.user_quota_use WHERE usage_date BETWEEN $start AND $end GROUP BY ALL
),
registered AS (
    SELECT DISTINCT snapshot_date AS usage_date, user_id FROM raw.users WHERE snapshot_date BETWEEN $start AND $end
),
registered_count AS (SELECT usage_date, count(user_id) AS registered FROM registered GROUP BY ALL),
storage AS (
    SELECT s.usage_date, sum(s.bytes) AS storage_bytes
    FROM usage.user_daily_storage s SEMI JOIN registered r USING (usage_date, user_id)
    WHERE s.usage_date BETWEEN $start AND $end GROUP BY ALL
)
SELECT usage_date, coalesce(q.rows, 0) AS rows, coalesce(q.distinct_users, 0) AS distinct_users,
       coalesce(q.without_id, 0) AS without_id, coalesce(r.registered, 0) AS registered,
       coalesce(q.quota_bytes, 0) AS quota_bytes, coalesce(s.storage_bytes, 0) AS storage_bytes,
       coalesce(q.over_80, 0) AS over_80, coalesce(q.over_100, 0) AS over_100
FROM quota q FULL JOIN registered_count r USING (usage_date) FULL JOIN storage s USING (usage_date)
"""
FULLEST_SQL = """
SELECT user_id, plan, stored_bytes, quota_bytes, quota_use_pct FROM cost.user_quota_use
WHERE usage_date = ? AND quota_use_pct IS NOT NULL ORDER BY quota_use_pct DESC LIMIT 10
"""


def quota_checks(day, f: dict) -> dict[str, Check]:
    """The day's two checks from its figures (``FIGURES_SQL``; a day without any row reads 0)."""
    rows, distinct, without_id = f.get("rows", 0), f.get("distinct_users", 0), f.get("without_id", 0)
    registered, quota_bytes, storage_bytes = (
        f.get("registered", 0),
        f.get("quota_bytes", 0),
        f.get("storage_bytes", 0),
    )
    one_each = rows == distinct == registered and without_id == 0
    bytes_match = quota_bytes == storage_bytes
    return {
        ONE_ROW_PER_USER.name: Check(
            one_each,
            {
                "rows": rows,
                "distinct_users": distinct,
                "registered_users": registered,
                "without_id": without_id,
            },
            description=None
            if one_each
            else f"{day}: {rows} rows for {distinct} distinct ids, {registered} registered users",
        ),
        BYTES_MATCH.name: Check(
            bytes_match,
            {"quota_stored_bytes": int(quota_bytes), "storage_bytes": int(storage_bytes)},
            description=None
            if bytes_match
            else f"{day}: {quota_bytes} bytes here vs {storage_bytes} in storage",
        ),
    }


def load_window(con, days) -> list[DayResult]:
    """Stage every day of the window in one query, replace exactly those days, check each day."""
    rows = stage_and_replace(con, STAGE_SQL, "cost.user_quota_use", STAGE, days)
    results = []
    for day, f, metadata in loaded_days(rows, window_figures(con, FIGURES_SQL, days)):
        metadata["users_over_80_percent"] = dg.MetadataValue.int(int(f.get("over_80", 0)))
        metadata["users_over_quota"] = dg.MetadataValue.int(int(f.get("over_100", 0)))
        if day == detail_day(days):
            fullest = con.execute(FULLEST_SQL, [day]).fetchall()
            metadata["fullest_users"] = markdown_table(
                ["user", "plan", "stored", "quota", "use %"],
                [(u, p, human_bytes(s), human_bytes(q), f"{pct:.1f}") for u, p, s, q, pct in fullest],
            )
        results.append(DayResult(day, metadata, quota_checks(day, f)))
    return results


@daily_asset(
    "user_quota_use",
    "cost",
    checks=(ONE_ROW_PER_USER, BYTES_MATCH),
    deps=("users", "user_daily_storage"),
)
def user_quota_use(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per registered user and day: plan, quota, bytes stored (every billed version) and the
    share of the quota used."""
    return load_in_warehouse(context, warehouse, load_window, ddl=TABLE_DDL)
