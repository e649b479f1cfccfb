"""cost.user_quota_use: how full each user's plan is, for the over-limit and 80 % rules."""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import DayResult, daily_asset, window_days, window_result
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
    )


@daily_asset(
    "user_quota_use",
    "cost",
    deps=("users", "user_daily_storage"),
)
def user_quota_use(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per registered user and day: plan, quota, bytes stored (every billed version) and the
    share of the quota used."""
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        results = [load_day(con, day) for day in window_days(context)]
    return window_result(results)
