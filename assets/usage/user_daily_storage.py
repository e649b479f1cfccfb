"""usage.user_daily_storage: what each user stores, per storage class, on each day.

Day D is measured by the inventory whose scan starts on D. Every version S3 bills counts (current and
noncurrent); delete markers never do. ``bytes_added`` is what appeared since the previous day's scan
(versions last modified from the start of D-1), and ``duplicate_bytes`` are current copies of content a
user already stores (same ETag and size under one user: every copy after the oldest).
"""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from resources.warehouse import Replacement, Warehouse, replace_partitions, scalar

ASSET = dg.AssetKey("user_daily_storage")
TABLE_DDL = """
CREATE TABLE IF NOT EXISTS usage.user_daily_storage (
    usage_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    storage_class VARCHAR NOT NULL,
    object_count BIGINT,
    bytes BIGINT,
    byte_hours HUGEINT,
    bytes_added BIGINT,
    duplicate_bytes BIGINT,
    noncurrent_bytes BIGINT,
    small_object_count BIGINT
)"""

STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE stage_user_daily_storage AS
WITH versions AS (
    SELECT user_id, coalesce(storage_class, 'STANDARD') AS storage_class, coalesce(size, 0) AS size,
           e_tag, coalesce(is_latest, true) AS is_latest, last_modified
    FROM raw.inventory_objects
    WHERE snapshot_date = $day AND NOT coalesce(is_delete_marker, false)
),
copies AS (
    SELECT user_id, storage_class, size,
           row_number() OVER (PARTITION BY user_id, e_tag, size ORDER BY last_modified, storage_class) AS copy_no
    FROM versions
    WHERE is_latest AND e_tag IS NOT NULL AND size > 0
),
duplicates AS (
    SELECT user_id, storage_class, sum(size) AS duplicate_bytes
    FROM copies WHERE copy_no > 1 GROUP BY ALL
),
per_class AS (
    SELECT user_id, storage_class,
           count(*) AS object_count,
           sum(size) AS bytes,
           sum(size)::HUGEINT * 24 AS byte_hours,
           coalesce(sum(size) FILTER (WHERE last_modified >= $day::TIMESTAMP - INTERVAL 1 DAY), 0) AS bytes_added,
           coalesce(sum(size) FILTER (WHERE NOT is_latest), 0) AS noncurrent_bytes,
           count(*) FILTER (WHERE size < 131072) AS small_object_count
    FROM versions GROUP BY ALL
)
SELECT $day::DATE AS usage_date, p.user_id, p.storage_class, p.object_count, p.bytes::BIGINT AS bytes,
       p.byte_hours, p.bytes_added::BIGINT AS bytes_added,
       coalesce(d.duplicate_bytes, 0)::BIGINT AS duplicate_bytes, p.noncurrent_bytes::BIGINT AS noncurrent_bytes,
       p.small_object_count
FROM per_class p LEFT JOIN duplicates d USING (user_id, storage_class)
"""


def load_day(con, day) -> DayResult:
    con.execute(STAGE_SQL, {"day": day})
    (rows,) = replace_partitions(
        con, [Replacement("usage.user_daily_storage", "stage_user_daily_storage", "usage_date = ?", [day])]
    )
    inventory_bytes = scalar(
        con,
        "SELECT coalesce(sum(size), 0) FROM raw.inventory_objects WHERE snapshot_date = ? "
        "AND NOT coalesce(is_delete_marker, false)",
        [day],
    )
    stored, users, added, duplicate = con.execute(
        """SELECT coalesce(sum(bytes), 0), count(DISTINCT user_id) FILTER (WHERE user_id <> '_shared'),
                  coalesce(sum(bytes_added), 0), coalesce(sum(duplicate_bytes), 0)
           FROM usage.user_daily_storage WHERE usage_date = ?""",
        [day],
    ).fetchall()[0]
    top = con.execute(
        """SELECT user_id, sum(bytes) AS b, sum(object_count), sum(bytes_added), sum(duplicate_bytes)
           FROM usage.user_daily_storage WHERE usage_date = ? GROUP BY ALL ORDER BY b DESC LIMIT 10""",
        [day],
    ).fetchall()
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "users_storing": dg.MetadataValue.int(int(users)),
            "stored_bytes": dg.MetadataValue.int(int(stored)),
            "bytes_added": dg.MetadataValue.int(int(added)),
            "duplicate_bytes": dg.MetadataValue.int(int(duplicate)),
            "top_users": markdown_table(
                ["user", "stored", "versions", "added", "duplicates"],
                [(u, human_bytes(b), f"{n:,}", human_bytes(a), human_bytes(d)) for u, b, n, a, d in top],
            ),
        },
        checks={
            "bytes_match_inventory": Check(
                int(stored) == int(inventory_bytes),
                {"per_user_total": int(stored), "inventory_total": int(inventory_bytes)},
            )
        },
    )


@daily_asset(
    "user_daily_storage",
    "usage",
    checks=(
        CheckSpec(
            "bytes_match_inventory",
            "Per-user bytes add up to the inventory's billed bytes (no version lost or counted twice).",
            blocking=True,
        ),
    ),
    deps=("inventory_objects",),
)
def user_daily_storage(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per user × storage class and day: object versions, bytes, byte-hours (the unit S3 bills
    storage in), bytes added since the previous scan, duplicate bytes, noncurrent bytes."""
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        results = [load_day(con, day) for day in window_days(context)]
    return window_result(results)
