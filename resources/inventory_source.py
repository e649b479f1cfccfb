"""Where the day's object listing comes from: S3 Inventory reports, or a ListObjectsV2 scan.

AWS buckets deliver S3 Inventory (verified by manifest checksum and per-file MD5). S3-compatible stores
without inventory (Cloudflare R2, MinIO) are listed with ListObjectsV2 instead; a listing shows the
bucket as it is *now*, so it only serves the most recent days. Both write the same rows — the columns of
``raw.inventory_objects`` — for every day of a window into the table they are given (the asset passes the
warehouse table itself, inside its transaction) plus quarantined rows into ``stage_inventory_quarantine``
(shaped like ``raw.quarantine``), so the ``inventory_objects`` asset does not know which one it has.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import boto3
import dagster as dg
import duckdb
import pyarrow as pa

from bucketlens.formats import inventory as fmt
from bucketlens.formats import inventory_manifest as manifests
from bucketlens.formats.errors import SourceFormatError
from bucketlens.formats.inventory_window import DayManifest, stage_inventory_window
from bucketlens.keys import KeyPattern
from bucketlens.schema import temp_quarantine_ddl
from resources.source_store import SourceStore
from resources.warehouse import drop_tables

STAGE = "stage_inventory"
Con = duckdb.DuckDBPyConnection
QUARANTINE = "stage_inventory_quarantine_window"


@dataclass
class StagedDay:
    """What a day's listing staged, and what was verified of it before (for ``manifests_verified``)."""

    origin: str
    manifests: list[str] = field(default_factory=list)
    files: int = 0
    listing: bool = False  # a ListObjectsV2 scan: no manifest, nothing to verify
    checksums_verified: int = 0  # manifests whose manifest.checksum matched
    files_verified: int = 0  # data files whose size and MD5 matched their manifest


@dataclass(frozen=True)
class StageCall:
    """The arguments of one ``InventorySource.stage``, handed on whole to the source's ``_stage``. Why:
    the interface is declared once, in ``stage``; each source only says how it writes the window."""

    con: duckdb.DuckDBPyConnection
    days: list[date]
    prepared: dict[date, object]
    ownership: KeyPattern
    target: str


@dataclass
class VerifiedManifest:
    """A manifest and local copies of its data files, with what :meth:`InventoryReports.prepare`
    verified of them; ``stage`` carries the counts into :class:`StagedDay` so the check reports what
    was verified rather than assuming it."""

    manifest: manifests.InventoryManifest
    local: dict[str, str]
    checksum_verified: bool = False
    files_verified: int = 0


class InventorySource(dg.ConfigurableResource):
    """Common interface: ``prepare`` everything that can fail before writing, then ``stage`` the window."""

    def prepare(self, days: list[date]) -> dict[date, object]:
        raise NotImplementedError

    def has_server_access_logs(self) -> bool:
        """Whether the store writes S3 server access logs, so a day without log objects is a missing
        source rather than the store's nature (AWS S3: yes; R2 and MinIO, listed instead: no)."""
        return True

    def stage(
        self,
        con: Con,
        days: list[date],
        prepared: dict[date, object],
        ownership: KeyPattern,
        target: str = STAGE,
    ) -> dict[date, StagedDay]:
        """Write every day's rows into ``target`` — a TEMP table (created) or a warehouse table whose
        window the caller emptied inside its open transaction — and the rows that could not be typed
        into TEMP table ``QUARANTINE`` (``raw.quarantine``'s columns)."""
        _fresh_target(con, target)
        return self._stage(StageCall(con, days, prepared, ownership, target))

    def _stage(self, call: StageCall) -> dict[date, StagedDay]:
        """Each source's own writing of the window into ``call.target`` (already fresh)."""
        raise NotImplementedError


def _empty_quarantine(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(temp_quarantine_ddl(QUARANTINE))


def _fresh_target(con: duckdb.DuckDBPyConnection, target: str) -> None:
    """A TEMP target starts empty (one connection serves a whole backfill window); a warehouse table
    is the caller's, already emptied for the day."""
    if "." not in target:
        drop_tables(con, target)
        con.execute(fmt.STAGE_DDL.format(stage=target))


class InventoryReports(InventorySource):
    """S3 Inventory reports under ``inventory/`` of the source root, verified before use."""

    source: SourceStore

    def _verified(self, day: date, listing: dict[str, int]) -> list[VerifiedManifest]:
        source = self.source
        manifest_keys = manifests.inventory_manifest_keys(sorted(listing), day)
        if not manifest_keys:
            raise dg.Failure(
                description=f"No S3 Inventory manifest for {day} under {source.describe('inventory/')}: expected "
                f"inventory/<bucket>/<config-id>/{day}THH-MMZ/manifest.json. Is the inventory delivered yet?",
            )
        verified = []
        for key in manifest_keys:
            checksum_key = manifests.checksum_key(key)
            if checksum_key not in listing:
                raise SourceFormatError(
                    source.describe(checksum_key), "manifest.checksum is missing; refusing to load"
                )
            raw = source.read_bytes(key)
            manifests.verify_manifest_checksum(raw, source.read_bytes(checksum_key), source.describe(key))
            entry = VerifiedManifest(
                manifests.parse_manifest(raw, source.describe(key)), {}, checksum_verified=True
            )
            for f in entry.manifest.files:
                if f.key not in listing:
                    raise SourceFormatError(
                        source.describe(f.key), f"listed in {key} but missing from the source"
                    )
                entry.local[f.key] = self.source.local_path(f.key, size=f.size)
            try:
                manifests.verify_data_files(entry.manifest.files, entry.local)
            except SourceFormatError as exc:
                self.source.forget(exc.file)  # a bad copy is fetched again next time
                raise SourceFormatError(source.describe(exc.file), exc.reason, exc.line) from exc
            entry.files_verified = len(entry.manifest.files)
            verified.append(entry)
        return verified

    def prepare(self, days: list[date]) -> dict[date, object]:
        """Every manifest of every day verified (checksums, sizes, MD5s) before anything is written."""
        listing = {o.key: o.size for o in self.source.list("inventory/")}
        return {day: self._verified(day, listing) for day in days}

    def _stage(self, call: StageCall) -> dict[date, StagedDay]:
        """Every manifest of the window in one read per layout (``stage_inventory_window``)."""
        con, target = call.con, call.target
        staged = {day: StagedDay(origin=self.source.describe("inventory/")) for day in call.days}
        window: list[DayManifest] = []
        for day in call.days:
            entries: list[VerifiedManifest] = call.prepared[day]
            for entry in entries:
                window.append(DayManifest(day, entry.manifest, entry.local))
                staged[day].manifests.append(entry.manifest.key)
                staged[day].files += len(entry.manifest.files)
                staged[day].checksums_verified += entry.checksum_verified
                staged[day].files_verified += entry.files_verified
        quarantine = f"{STAGE}_manifest_quarantine"
        drop_tables(con, quarantine)
        stage_inventory_window(con, window, call.ownership, target, quarantine)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {QUARANTINE} AS SELECT 'inventory_objects' AS source, "
            "d.day AS partition_date, q.file, q.line_number, q.raw_text, q.reason, now()::TIMESTAMP AS loaded_at "
            f"FROM {quarantine} q JOIN (SELECT unnest(?::VARCHAR[]) AS manifest_key, unnest(?::DATE[]) AS day) d "
            "USING (manifest_key)",
            [[m.manifest.key for m in window], [m.day for m in window]],
        )
        drop_tables(con, quarantine)
        return staged


LISTING_INSERT = """
INSERT INTO {stage} BY NAME
SELECT d.snapshot_date, $bucket AS bucket, key, NULL::VARCHAR AS version_id, true AS is_latest,
       false AS is_delete_marker, size, last_modified, coalesce(storage_class, 'STANDARD') AS storage_class,
       trim(e_tag, '"') AS e_tag, {owner} AS user_id, NULL::BOOLEAN AS is_multipart_uploaded,
       NULL::VARCHAR AS intelligent_tiering_access_tier, $origin AS manifest_key
FROM listing_page, (SELECT unnest($days::DATE[]) AS snapshot_date) d
"""


class BucketListing(InventorySource):
    """A ListObjectsV2 scan of ``s3://bucket/prefix`` on an S3-compatible endpoint (R2, MinIO).

    Keys come back raw (no URL decoding). A listing has no history: it may stand for today or
    yesterday (``max_age_days``), never for an older day, which it would silently misstate.
    """

    url: str
    max_age_days: int = 2

    def has_server_access_logs(self) -> bool:
        return False

    def _bucket_prefix(self) -> tuple[str, str]:
        if not self.url.startswith("s3://"):
            raise ValueError(f"BUCKETLENS_LIST_BUCKET must look like s3://bucket/prefix, not {self.url!r}")
        bucket, _, prefix = self.url[len("s3://") :].partition("/")
        return bucket, prefix

    def prepare(self, days: list[date]) -> dict[date, object]:
        today = datetime.now(UTC).date()
        too_old = [d for d in days if d < today - timedelta(days=self.max_age_days)]
        if too_old:
            raise dg.Failure(
                description=f"A bucket listing shows {self.url} as it is now; it cannot stand for {too_old[0]} "
                f"(older than {self.max_age_days} days). Materialize recent days only, or use S3 Inventory reports."
            )
        return {day: None for day in days}

    def _pages(self):
        bucket, prefix = self._bucket_prefix()
        paginator = boto3.client("s3").get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            contents = page.get("Contents", [])
            if contents:
                # One Arrow batch per page of up to 1,000 objects, as boto3 hands them over.
                yield pa.table(
                    {
                        "key": [c["Key"] for c in contents],
                        "size": pa.array([c["Size"] for c in contents], pa.int64()),
                        "last_modified": [
                            c["LastModified"].astimezone(UTC).replace(tzinfo=None) for c in contents
                        ],
                        "storage_class": [c.get("StorageClass") for c in contents],
                        "e_tag": [c.get("ETag") for c in contents],
                    }
                )

    def _stage(self, call: StageCall) -> dict[date, StagedDay]:
        """One listing, written for each day of the window (at most ``max_age_days`` recent days)."""
        con = call.con
        bucket, _ = self._bucket_prefix()
        _empty_quarantine(con)
        origin = f"ListObjectsV2 {self.url}"
        sql = LISTING_INSERT.format(stage=call.target, owner=call.ownership.sql_expr("key"))
        for page in self._pages():
            con.register("listing_page", page)
            con.execute(sql, {"days": call.days, "bucket": bucket, "origin": origin})
            con.unregister("listing_page")
        return {day: StagedDay(origin=origin, listing=True) for day in call.days}
