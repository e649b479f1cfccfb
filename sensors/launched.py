"""What schedules and sensors ask before launching a day: is its inventory there, was it launched?

They read the source listing and Dagster's run storage only — never the DuckDB warehouse, whose single
writer may be busy with a run.
"""

from datetime import date

import dagster as dg

from bucketlens.formats.inventory_manifest import MANIFEST_KEY_RE
from resources.source_store import SourceStore


def inventory_days(source: SourceStore) -> dict[date, list[str]]:
    """Days that have an S3 Inventory manifest, with their manifest keys."""
    days: dict[date, list[str]] = {}
    for obj in source.list("inventory/"):
        match = MANIFEST_KEY_RE.match(obj.key)
        if match:
            days.setdefault(date.fromisoformat(match["day"]), []).append(obj.key)
    return days


FIRST_ASSET = dg.AssetKey("inventory_objects")


def already_launched(instance: dg.DagsterInstance, job_name: str, day: date) -> bool:
    """A run of ``job_name`` for the day's partition exists (queued, running or finished), or the day was
    loaded by a range run (a backfill, ``bucketlens run`` or the demo), which tags a range, not a day."""
    runs = instance.get_run_records(
        filters=dg.RunsFilter(job_name=job_name, tags={"dagster/partition": day.isoformat()}), limit=1
    )
    return bool(runs) or day.isoformat() in instance.get_materialized_partitions(FIRST_ASSET)
