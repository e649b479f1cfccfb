"""Launch a day as soon as its inventory report has arrived and its access logs are complete.

The cursor is the last day launched, so each day is requested once; on a first start only the last
``LOOKBACK_DAYS`` are considered (history is a backfill's job, not a sensor's).
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.jobs import daily_job
from assets.partitions import PARTITIONS_START
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from sensors.launched import already_launched, inventory_days

LOOKBACK_DAYS = 3


def complete_days(
    manifest_days: list[date], now: datetime, lateness_hours: int, after: date | None
) -> list[date]:
    """Days with a manifest whose access logs have had their lateness allowance, after the cursor."""
    first = after + timedelta(days=1) if after else now.date() - timedelta(days=LOOKBACK_DAYS)
    first = max(first, date.fromisoformat(PARTITIONS_START))
    ready_before = (now - timedelta(hours=lateness_hours)).date()  # day D is complete at D+1 + lateness
    return sorted(d for d in manifest_days if first <= d < ready_before)


@dg.sensor(
    job=daily_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs a day end to end when its S3 Inventory manifest appears and its logs are complete.",
)
def inventory_arrival_sensor(
    context: dg.SensorEvaluationContext, source: SourceStore, service: ServiceLayout
):
    after = date.fromisoformat(context.cursor) if context.cursor else None
    days = complete_days(list(inventory_days(source)), datetime.now(UTC), service.log_lateness_hours, after)
    if not days:
        return dg.SkipReason("No new complete day with an inventory report.")
    requests = [
        dg.RunRequest(
            run_key=f"daily:{day}",
            partition_key=day.isoformat(),
            tags={"bucketlens/trigger": "inventory_arrival"},
        )
        for day in days
        if not already_launched(context.instance, daily_job.name, day)
    ]
    return dg.SensorResult(run_requests=requests, cursor=days[-1].isoformat())
