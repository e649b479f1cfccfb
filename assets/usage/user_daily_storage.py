"""usage.user_daily_storage: what each user stores, per storage class, on each day.

Day D is measured by the inventory whose scan starts on D. Every version S3 bills counts (current and
noncurrent); delete markers never do. ``bytes_added`` is what appeared since the previous day's scan
(versions last modified from the start of D-1), and ``duplicate_bytes`` are current copies of content a
user already stores (same ETag and size under one user: every copy after the oldest).
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
    load_in_warehouse,
)
from bucketlens.engines.base import DuckDBEngine, Engine
from resources.engine import QueryEngine, engine_metadata
from resources.warehouse import Warehouse, replace_days

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

STAGE = "stage_user_daily_storage"
FIGURES_SQL = """
SELECT s.usage_date, s.stored, s.users, s.added, s.duplicate, coalesce(i.inventory_bytes, 0) AS inventory_bytes
FROM (SELECT usage_date, coalesce(sum(bytes), 0) AS stored,
             count(DISTINCT user_id) FILTER (WHERE user_id <> '_shared') AS users,
             coalesce(sum(bytes_added), 0) AS added, coalesce(sum(duplicate_bytes), 0) AS duplicate
      FROM usage.user_daily_storage WHERE usage_date BETWEEN $start AND $end GROUP BY ALL) s
LEFT JOIN (SELECT snapshot_date AS usage_date, sum(size) AS inventory_bytes FROM raw.inventory_objects
           WHERE snapshot_date BETWEEN $start AND $end AND NOT coalesce(is_delete_marker, false) GROUP BY ALL) i
USING (usage_date)
ORDER BY usage_date
"""
TOP_USERS_SQL = """
SELECT user_id, sum(bytes) AS b, sum(object_count), sum(bytes_added), sum(duplicate_bytes)
FROM usage.user_daily_storage WHERE usage_date = ? GROUP BY ALL ORDER BY b DESC LIMIT 10
"""


def load_window(con, days, engine: Engine | None = None) -> list[DayResult]:
    """Stage the window's rows with one query on the engine (the warehouse itself by default), replace
    exactly those days, read the figures per day."""
    window = {"start": days[0], "end": days[-1]}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT * FROM usage.user_daily_storage LIMIT 0")
    ran = engine_metadata((engine or DuckDBEngine()).aggregate(con, "user_daily_storage", window, STAGE))
    rows = replace_days(con, "usage.user_daily_storage", STAGE, "usage_date", days)
    figures = figures_by_day(con, FIGURES_SQL, window, days)
    results = []
    for day in days:
        f = figures[day]
        stored, inventory = int(f.get("stored") or 0), int(f.get("inventory_bytes") or 0)
        metadata = {
            "dagster/row_count": rows[day],
            "users_storing": dg.MetadataValue.int(int(f.get("users") or 0)),
            "stored_bytes": dg.MetadataValue.int(stored),
            "bytes_added": dg.MetadataValue.int(int(f.get("added") or 0)),
            "duplicate_bytes": dg.MetadataValue.int(int(f.get("duplicate") or 0)),
            **ran,
        }
        if day == detail_day(days):
            top = con.execute(TOP_USERS_SQL, [day]).fetchall()
            metadata["top_users"] = markdown_table(
                ["user", "stored", "versions", "added", "duplicates"],
                [(u, human_bytes(b), f"{n:,}", human_bytes(a), human_bytes(d)) for u, b, n, a, d in top],
            )
        check = Check(stored == inventory, {"per_user_total": stored, "inventory_total": inventory})
        results.append(DayResult(day, metadata, {"bytes_match_inventory": check}))
    return results


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
def user_daily_storage(
    context: dg.AssetExecutionContext, warehouse: Warehouse, engine: QueryEngine
) -> dg.MaterializeResult:
    """One row per user × storage class and day: object versions, bytes, byte-hours (the unit S3 bills
    storage in), bytes added since the previous scan, duplicate bytes, noncurrent bytes. The aggregate
    runs on the configured engine (``BUCKETLENS_ENGINE``); its metadata says which, with its job ids."""
    return load_in_warehouse(context, warehouse, load_window, engine.usage_engine(), ddl=TABLE_DDL)
