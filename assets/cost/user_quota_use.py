"""cost.user_quota_use: how full each user's plan is, for the over-limit and 80 % rules."""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from resources.warehouse import Replacement, Warehouse, replace_partitions

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
STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE stage_user_quota_use AS
SELECT $day::DATE AS usage_date, u.user_id, u.plan, u.quota_bytes,
       coalesce(s.bytes, 0)::BIGINT AS stored_bytes,
       CASE WHEN u.quota_bytes > 0 THEN 100.0 * coalesce(s.bytes, 0) / u.quota_bytes END AS quota_use_pct
FROM raw.users u
LEFT JOIN (SELECT user_id, sum(bytes) AS bytes FROM usage.user_daily_storage WHERE usage_date = $day GROUP BY ALL) s
    USING (user_id)
WHERE u.snapshot_date = $day
"""


ONE_ROW_PER_USER = CheckSpec(
    "one_row_per_registered_user", "Exactly one row per user of raw.users on the day, none without an id."
)
BYTES_MATCH = CheckSpec(
    "stored_bytes_match_storage",
    "Σ stored bytes equals the registered users' bytes in usage.user_daily_storage (no user counted twice).",
)
RECONCILE_SQL = """
SELECT (SELECT count(*) FROM cost.user_quota_use WHERE usage_date = $day) AS rows,
       (SELECT count(DISTINCT user_id) FROM cost.user_quota_use WHERE usage_date = $day) AS distinct_users,
       (SELECT count(*) FROM cost.user_quota_use WHERE usage_date = $day AND user_id IS NULL) AS without_id,
       (SELECT count(DISTINCT user_id) FROM raw.users WHERE snapshot_date = $day) AS registered,
       (SELECT coalesce(sum(stored_bytes), 0) FROM cost.user_quota_use WHERE usage_date = $day) AS quota_bytes,
       (SELECT coalesce(sum(bytes), 0) FROM usage.user_daily_storage
        WHERE usage_date = $day AND user_id IN (SELECT user_id FROM raw.users WHERE snapshot_date = $day))
           AS storage_bytes
"""


def quota_checks(con, day) -> dict[str, Check]:
    rows, distinct, without_id, registered, quota_bytes, storage_bytes = con.execute(
        RECONCILE_SQL, {"day": day}
    ).fetchall()[0]
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


def load_day(con, day) -> DayResult:
    con.execute(STAGE_SQL, {"day": day})
    (rows,) = replace_partitions(
        con, [Replacement("cost.user_quota_use", "stage_user_quota_use", "usage_date = ?", [day])]
    )
    fullest = con.execute(
        """SELECT user_id, plan, stored_bytes, quota_bytes, quota_use_pct FROM cost.user_quota_use
           WHERE usage_date = ? AND quota_use_pct IS NOT NULL ORDER BY quota_use_pct DESC LIMIT 10""",
        [day],
    ).fetchall()
    over_80, over_100 = con.execute(
        "SELECT count(*) FILTER (WHERE quota_use_pct > 80), count(*) FILTER (WHERE quota_use_pct > 100) "
        "FROM cost.user_quota_use WHERE usage_date = ?",
        [day],
    ).fetchall()[0]
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "users_over_80_percent": dg.MetadataValue.int(int(over_80)),
            "users_over_quota": dg.MetadataValue.int(int(over_100)),
            "fullest_users": markdown_table(
                ["user", "plan", "stored", "quota", "use %"],
                [(u, p, human_bytes(s), human_bytes(q), f"{pct:.1f}") for u, p, s, q, pct in fullest],
            ),
        },
        checks=quota_checks(con, day),
    )


@daily_asset(
    "user_quota_use",
    "cost",
    checks=(ONE_ROW_PER_USER, BYTES_MATCH),
    deps=("users", "user_daily_storage"),
)
def user_quota_use(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per registered user and day: plan, quota, bytes stored (every billed version) and the
    share of the quota used."""
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        results = [load_day(con, day) for day in window_days(context)]
    return window_result(results)
