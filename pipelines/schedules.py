"""Schedules: yesterday's partition once its sources are complete, and today's service metrics hourly.

A day D is complete when its inventory snapshot (delivered around 01:00 on D) is there and its access
logs have had ``BUCKETLENS_LOG_LATENESS_HOURS`` (12 by default) after midnight to arrive, so the daily
schedule fires at 13:00 UTC. The inventory sensor may already have launched the day (a report that
arrived on time); the schedule then skips, so one day never runs twice.
"""

from datetime import datetime, timedelta

import dagster as dg

from assets.jobs import daily_job, service_hourly_job
from resources.source_store import SourceStore
from sensors.launched import already_launched, inventory_days

DAILY_CRON = "0 13 * * *"


@dg.schedule(
    job=daily_job,
    cron_schedule=DAILY_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Yesterday end to end, unless the inventory sensor already launched it.",
)
def daily_schedule(context: dg.ScheduleEvaluationContext, source: SourceStore):
    day = (context.scheduled_execution_time - timedelta(days=1)).date()
    if already_launched(context.instance, daily_job.name, day):
        return dg.SkipReason(f"{day} was already launched (by the inventory sensor or a backfill).")
    if day not in inventory_days(source):
        return dg.SkipReason(
            f"No S3 Inventory manifest for {day} yet; the inventory sensor launches the day when it arrives."
        )
    return dg.RunRequest(
        run_key=f"daily:{day}", partition_key=day.isoformat(), tags={"bucketlens/trigger": "daily_schedule"}
    )


@dg.schedule(
    job=service_hourly_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Today's CloudWatch request and error metrics, service anomalies and alerts, every hour.",
)
def service_hourly_schedule(context: dg.ScheduleEvaluationContext):
    now: datetime = context.scheduled_execution_time
    return dg.RunRequest(
        run_key=f"service_hourly:{now:%Y-%m-%dT%H}",
        partition_key=now.date().isoformat(),
        tags={"bucketlens/trigger": "service_hourly_schedule"},
    )


SCHEDULES = [daily_schedule, service_hourly_schedule]
