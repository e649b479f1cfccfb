"""raw.inventory_objects: one row per object version listed by S3 Inventory on the snapshot day.

All manifests of the day are verified first (manifest checksum, then every data file's size and MD5);
only when everything matches is anything staged, so a corrupt or partial delivery loads nothing.
"""

import dagster as dg

from assets.metadata import human_bytes, markdown_table
from assets.window import SINGLE_RUN, Check, DayResult, window_days, window_result
from bucketlens.formats import inventory as fmt
from bucketlens.formats.errors import SourceFormatError
from pipelines.partitions import daily_partitions
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from resources.warehouse import Replacement, Warehouse, drop_tables, replace_partitions

ASSET = dg.AssetKey("inventory_objects")
WARN = dg.AssetCheckSeverity.WARN
QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw.quarantine (
    source VARCHAR, partition_date DATE, file VARCHAR, line_number BIGINT,
    raw_text VARCHAR, reason VARCHAR, loaded_at TIMESTAMP
)"""


def verified_manifests(source: SourceStore, day) -> list[tuple[fmt.InventoryManifest, dict[str, str]]]:
    """Every manifest for ``day`` with its local data files, after checking all checksums and sizes."""
    listing = source.list("inventory/")
    sizes = {o.key: o.size for o in listing}
    manifest_keys = fmt.inventory_manifest_keys([o.key for o in listing], day)
    if not manifest_keys:
        raise dg.Failure(
            description=f"No S3 Inventory manifest for {day} under {source.describe('inventory/')}: expected "
            f"inventory/<bucket>/<config-id>/{day}THH-MMZ/manifest.json. Is the inventory delivered yet?",
        )
    verified = []
    for key in manifest_keys:
        checksum_key = fmt.checksum_key(key)
        if checksum_key not in sizes:
            raise SourceFormatError(
                source.describe(checksum_key), "manifest.checksum is missing; refusing to load"
            )
        raw = source.read_bytes(key)
        fmt.verify_manifest_checksum(raw, source.read_bytes(checksum_key), source.describe(key))
        manifest = fmt.parse_manifest(raw, source.describe(key))
        local = {}
        for f in manifest.files:
            if f.key not in sizes:
                raise SourceFormatError(
                    source.describe(f.key), f"listed in {key} but missing from the source"
                )
            local[f.key] = source.local_path(f.key, size=f.size)
            try:
                fmt.verify_data_file(local[f.key], f)
            except SourceFormatError:
                source.forget(f.key)
                raise
        verified.append((manifest, local))
    return verified


def load_day(con, day, manifests, service: ServiceLayout) -> DayResult:
    """Stage the day's verified manifests and replace the day's rows (and its quarantine) atomically."""
    stages, quarantines, loads = [], [], []
    for i, (manifest, local) in enumerate(manifests):
        drop_tables(con, f"stage_inventory_{i}", f"stage_inventory_{i}_quarantine")
        load = fmt.stage_inventory(
            con, manifest, local, day, service.ownership(), stage=f"stage_inventory_{i}"
        )
        loads.append(load)
        stages.append(f"SELECT * FROM stage_inventory_{i}")
        quarantines.append(load.quarantine_table)
    con.execute("CREATE OR REPLACE TEMP TABLE stage_inventory AS " + " UNION ALL BY NAME ".join(stages))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE stage_inventory_quarantine_day AS SELECT 'inventory_objects' AS source, "
        "?::DATE AS partition_date, file, line_number, raw_text, reason, now()::TIMESTAMP AS loaded_at FROM ("
        + " UNION ALL ".join(f"SELECT file, line_number, raw_text, reason FROM {q}" for q in quarantines)
        + ")",
        [day],
    )
    rows, quarantined = replace_partitions(
        con,
        [
            Replacement("raw.inventory_objects", "stage_inventory", "snapshot_date = ?", [day]),
            Replacement(
                "raw.quarantine",
                "stage_inventory_quarantine_day",
                "source = 'inventory_objects' AND partition_date = ?",
                [day],
            ),
        ],
    )
    null_keys, duplicates, users = con.execute(
        """SELECT count(*) FILTER (WHERE bucket IS NULL OR key IS NULL OR user_id IS NULL),
                  count(*) - count(DISTINCT (bucket, key, coalesce(version_id, 'null'))),
                  count(DISTINCT user_id) FILTER (WHERE user_id <> '_shared')
           FROM raw.inventory_objects WHERE snapshot_date = ?""",
        [day],
    ).fetchall()[0]
    by_class = con.execute(
        """SELECT coalesce(storage_class, '(delete marker)'), count(*), sum(size)
           FROM raw.inventory_objects WHERE snapshot_date = ? GROUP BY ALL ORDER BY 3 DESC NULLS LAST""",
        [day],
    ).fetchall()
    total_bytes = sum(b or 0 for _, _, b in by_class)
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "rows": rows,
            "bytes": dg.MetadataValue.int(int(total_bytes)),
            "stored": human_bytes(total_bytes),
            "users_with_objects": dg.MetadataValue.int(int(users or 0)),
            "manifests": len(manifests),
            "files": sum(len(m.files) for m, _ in manifests),
            "delete_markers": sum(load.delete_markers for load in loads),
            "noncurrent_versions": sum(load.noncurrent_versions for load in loads),
            "quarantined_rows": quarantined,
            "by_storage_class": markdown_table(
                ["storage class", "versions", "bytes"],
                [(c, f"{n:,}", human_bytes(b)) for c, n, b in by_class],
            ),
            "manifest_keys": ", ".join(m.key for m, _ in manifests),
        },
        checks={
            "manifests_verified": Check(True, {"manifests": len(manifests)}),
            "keys_not_null": Check(null_keys == 0, {"null_rows": int(null_keys)}),
            "unique_versions": Check(duplicates == 0, {"duplicates": int(duplicates)}),
            "no_quarantined_rows": Check(quarantined == 0, {"quarantined_rows": quarantined}, severity=WARN),
        },
    )


@dg.asset(
    key=ASSET,
    group_name="raw",
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
    kinds={"duckdb", "s3"},
    pool="duckdb_writer",
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(
            "manifests_verified", asset=ASSET, description="Manifest checksum, file sizes and MD5s match."
        ),
        dg.AssetCheckSpec(
            "keys_not_null", asset=ASSET, description="bucket, key and user_id are never NULL."
        ),
        dg.AssetCheckSpec(
            "unique_versions", asset=ASSET, description="No (bucket, key, version_id) listed twice."
        ),
        dg.AssetCheckSpec(
            "no_quarantined_rows", asset=ASSET, description="Every inventory row could be typed."
        ),
    ],
)
def inventory_objects(
    context: dg.AssetExecutionContext, source: SourceStore, warehouse: Warehouse, service: ServiceLayout
) -> dg.MaterializeResult:
    """One row per object version in the day's S3 Inventory (current and noncurrent versions, delete
    markers), with the owning ``user_id`` from the key pattern or ``_shared``."""
    days = window_days(context)
    # Every day of the window is verified before anything is written: a corrupt delivery fails the run
    # with nothing of it loaded.
    verified = {day: verified_manifests(source, day) for day in days}
    context.log.info(f"{sum(len(v) for v in verified.values())} manifest(s) verified for {len(days)} day(s)")
    with warehouse.connect() as con:
        con.execute(fmt.TABLE_DDL)
        con.execute(QUARANTINE_DDL)
        results = [load_day(con, day, verified[day], service) for day in days]
    return window_result(results)
