"""raw.inventory_objects: one row per object version listed on the snapshot day.

The ``inventory`` resource says where the listing comes from — S3 Inventory reports (every manifest of
the window verified before anything is written, so a corrupt delivery loads nothing) or a ListObjectsV2
scan for stores without inventory — and stages the same rows either way.
"""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.raw.guards import source_failures
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    figures_by_day,
    groups_within,
    window_days,
    window_result,
)
from bucketlens.duckdb_options import STAGING_SETTINGS, scoped_settings
from bucketlens.formats import inventory as fmt
from bucketlens.schema import QUARANTINE_DDL
from resources.inventory_source import QUARANTINE, InventorySource, StagedDay
from resources.service import ServiceLayout
from resources.warehouse import Warehouse, drop_tables, transaction

ASSET = dg.AssetKey("inventory_objects")
WARN = dg.AssetCheckSeverity.WARN


TABLE = "raw.inventory_objects"
# Source bytes (the data files the manifests list) written in one transaction: a demo backfill of 90
# days (1.8 GB of gzip CSV) is one; a 10 M-object Parquet day (~0.9 GB) shares one with at most one
# other day. A day is never split, and the rows are written straight into the emptied partitions.
TRANSACTION_BYTES = 2 << 30

# The per-day figures and check inputs of the window: grouped aggregates, never an ungrouped
# count(DISTINCT ...), which DuckDB cannot spill (at 50 M objects it failed with "Out of Memory" under
# the 700 MB limit), while a GROUP BY spills under the memory limit.
FIGURES_SQL = """
SELECT snapshot_date, count(*) AS rows, coalesce(sum(size), 0) AS bytes,
       count(*) FILTER (WHERE bucket IS NULL OR key IS NULL OR user_id IS NULL) AS null_keys,
       count(*) FILTER (WHERE is_delete_marker) AS delete_markers,
       count(*) FILTER (WHERE NOT is_latest AND NOT is_delete_marker) AS noncurrent_versions
FROM raw.inventory_objects WHERE snapshot_date BETWEEN $start AND $end GROUP BY ALL
"""
OWNERS_SQL = """
SELECT snapshot_date, count(*) AS owners FROM (
    SELECT DISTINCT snapshot_date, user_id FROM raw.inventory_objects
    WHERE snapshot_date BETWEEN $start AND $end AND user_id <> '_shared'
) GROUP BY ALL
"""
# Grouping 100 M (bucket, key, version) strings still ran out of memory at 700 MB ("failed to pin
# block"), so versions are grouped by their 64-bit hash first (fixed-width, spills lightly); only the
# rows of hashes seen twice are compared exactly, so a hash collision cannot count as a duplicate.
# ``listed`` is read twice and NOT MATERIALIZED: DuckDB would otherwise buffer (and spill) every version
# with its strings to read it a second time, where two scans cost less (two 10 M-object days: 4.9-6.2 s
# -> 2.2-2.3 s, 9.4-12.1 -> 4.3-4.4 CPU s).
DUPLICATE_VERSIONS_SQL = """
WITH listed AS NOT MATERIALIZED (
    SELECT snapshot_date, bucket, key, version_id, hash(bucket, key, version_id) AS h
    FROM raw.inventory_objects WHERE snapshot_date BETWEEN $start AND $end
),
repeated AS (SELECT snapshot_date, h FROM listed GROUP BY ALL HAVING count(*) > 1)
SELECT snapshot_date, coalesce(sum(copies - 1), 0) AS duplicates FROM (
    SELECT snapshot_date, count(*) AS copies FROM listed SEMI JOIN repeated USING (snapshot_date, h)
    GROUP BY snapshot_date, bucket, key, version_id HAVING count(*) > 1
) GROUP BY ALL
"""
QUARANTINED_SQL = """
SELECT partition_date, count(*) AS quarantined FROM raw.quarantine
WHERE source = 'inventory_objects' AND partition_date BETWEEN $start AND $end GROUP BY ALL
"""
BY_CLASS_SQL = """
SELECT coalesce(storage_class, '(delete marker)'), count(*), sum(size)
FROM raw.inventory_objects WHERE snapshot_date = ? GROUP BY ALL ORDER BY 3 DESC NULLS LAST
"""


def window_figures(con, days) -> dict:
    """``{day: {figure: value}}`` for the window: rows, bytes, check inputs, owners, quarantined rows."""
    window = {"start": days[0], "end": days[-1]}
    figures = figures_by_day(con, FIGURES_SQL, window, days)
    for sql in (OWNERS_SQL, DUPLICATE_VERSIONS_SQL, QUARANTINED_SQL):
        for day, more in figures_by_day(con, sql, window, days).items():
            figures[day].update(more)
    return {day: {k: int(v or 0) for k, v in f.items()} for day, f in figures.items()}


def manifests_verified(staged: StagedDay) -> Check:
    """What was verified before the day was written: every manifest's checksum and every data file's
    size and MD5, counted as they were verified (so a listing that skipped verification fails here).
    A ListObjectsV2 scan has no manifest: the check passes saying so (origin ``listing``)."""
    if staged.listing:
        return Check(
            True,
            {"origin": "listing", "verification": "not applicable: a ListObjectsV2 scan has no manifest"},
            description="Not applicable: the listing comes from ListObjectsV2, which has no manifest to verify.",
        )
    counts = {
        "manifests": len(staged.manifests),
        "checksums_verified": staged.checksums_verified,
        "files_in_manifests": staged.files,
        "files_verified": staged.files_verified,
    }
    passed = bool(staged.manifests) and (
        staged.checksums_verified == len(staged.manifests) and staged.files_verified == staged.files
    )
    return Check(
        passed,
        counts,
        description=None
        if passed
        else f"{staged.checksums_verified} of {len(staged.manifests)} manifest checksums and "
        f"{staged.files_verified} of {staged.files} data files were verified before loading",
    )


def load_window(con, days, inventory: InventorySource, prepared, service: ServiceLayout) -> list[DayResult]:
    """Replace the window's rows (and quarantine) with one read of its files per layout, in as few
    transactions as TRANSACTION_BYTES allows. The listing is written straight into the emptied
    partitions inside the transaction: a TEMP stage copied over afterwards wrote every row twice (the
    step took 24.0 s at 10 M objects, 14.6 s without) and spilled 22 GB uncompressed at 100 M."""
    staged = {}
    sizes = {day: sum(f.size for entry in prepared[day] or [] for f in entry.manifest.files) for day in days}
    for group in groups_within(days, sizes, TRANSACTION_BYTES):
        with scoped_settings(con, STAGING_SETTINGS), transaction(con):
            con.execute(f"DELETE FROM {TABLE} WHERE snapshot_date BETWEEN ? AND ?", [group[0], group[-1]])
            con.execute(
                "DELETE FROM raw.quarantine WHERE source = 'inventory_objects' AND partition_date BETWEEN ? AND ?",
                [group[0], group[-1]],
            )
            staged.update(inventory.stage(con, group, prepared, service.ownership(), target=TABLE))
            con.execute(f"INSERT INTO raw.quarantine BY NAME SELECT * FROM {QUARANTINE}")
        drop_tables(con, QUARANTINE)
    figures = window_figures(con, days)
    return [day_result(con, day, staged[day], figures[day], day == detail_day(days)) for day in days]


def day_result(con, day, staged: StagedDay, f: dict, detail: bool) -> DayResult:
    rows, total_bytes, quarantined = f.get("rows", 0), f.get("bytes", 0), f.get("quarantined", 0)
    metadata = {
        "dagster/row_count": rows,
        "rows": rows,
        "bytes": dg.MetadataValue.int(total_bytes),
        "stored": human_bytes(total_bytes),
        "users_with_objects": dg.MetadataValue.int(f.get("owners", 0)),
        "origin": staged.origin,
        "manifests": len(staged.manifests),
        "files": staged.files,
        "delete_markers": f.get("delete_markers", 0),
        "noncurrent_versions": f.get("noncurrent_versions", 0),
        "quarantined_rows": quarantined,
        "manifest_keys": ", ".join(staged.manifests) or staged.origin,
    }
    if detail:
        by_class = con.execute(BY_CLASS_SQL, [day]).fetchall()
        metadata["by_storage_class"] = markdown_table(
            ["storage class", "versions", "bytes"], [(c, f"{n:,}", human_bytes(b)) for c, n, b in by_class]
        )
    null_keys, duplicates = f.get("null_keys", 0), f.get("duplicates", 0)
    return DayResult(
        day,
        metadata=metadata,
        checks={
            "manifests_verified": manifests_verified(staged),
            "keys_not_null": Check(null_keys == 0, {"null_rows": null_keys}),
            "unique_versions": Check(duplicates == 0, {"duplicates": duplicates}),
            "no_quarantined_rows": Check(quarantined == 0, {"quarantined_rows": quarantined}, severity=WARN),
        },
    )


@daily_asset(
    "inventory_objects",
    "raw",
    checks=(
        CheckSpec(
            "manifests_verified",
            "Every manifest's checksum and every data file's size and MD5 were verified before loading "
            "(not applicable to a ListObjectsV2 listing).",
            blocking=True,
        ),
        CheckSpec("keys_not_null", "bucket, key and user_id are never NULL."),
        CheckSpec("unique_versions", "No (bucket, key, version_id) listed twice."),
        CheckSpec("no_quarantined_rows", "Every inventory row could be typed."),
    ),
    kinds=("duckdb", "s3"),
    code_version="3",
)
def inventory_objects(
    context: dg.AssetExecutionContext,
    inventory: InventorySource,
    warehouse: Warehouse,
    service: ServiceLayout,
) -> dg.MaterializeResult:
    """One row per object version in the day's listing (current and noncurrent versions, delete
    markers), with the owning ``user_id`` from the key pattern or ``_shared``."""
    days = window_days(context)
    with source_failures():  # every day of the window verified before anything is deleted
        prepared = inventory.prepare(days)
    context.log.info(f"listing for {len(days)} day(s) prepared by {type(inventory).__name__}")
    with source_failures(), warehouse.connect() as con:
        con.execute(fmt.TABLE_DDL)
        con.execute(QUARANTINE_DDL)
        results = load_window(con, days, inventory, prepared, service)
    return window_result(results)
