"""A failed run is an alert too: it goes through the same outbox as data alerts, so it is delivered once,
retried, and visible in the UI like any other notification."""

import dagster as dg

from bucketlens.alerts.notification import Notification
from bucketlens.anomaly import RulesError
from resources.outbox import AlertOutbox
from resources.rules import RulesFile
from resources.slack import SlackResource


def failure_notification(run: dg.DagsterRun, error: str, channel: str, ui_url: str) -> Notification:
    partition = run.tags.get("dagster/partition") or "..".join(
        filter(
            None,
            [
                run.tags.get("dagster/asset_partition_range_start"),
                run.tags.get("dagster/asset_partition_range_end"),
            ],
        )
    )
    first_line = (error or "failed").strip().splitlines()[0][:500]
    return Notification(
        identity=f"run_failure:{run.run_id}",
        kind="meta",
        channel=channel,
        severity="critical",
        title=f"bucketlens run failed: {run.job_name}" + (f" ({partition})" if partition else ""),
        group_key=f"run_failure:{run.job_name}",
        text=f"{first_line}\nRun {run.run_id}: {ui_url}/runs/{run.run_id}",
    )


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts a critical notification through the alert outbox when any run fails.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, outbox: AlertOutbox, rules: RulesFile, slack: SlackResource
) -> None:
    try:
        channel = rules.alerting().routing.channels["critical"]
    except RulesError as exc:  # no channel to post to: the sensor's log says why
        context.log.error(f"not posting the failure of run {context.dagster_run.run_id}: {exc.summary()}")
        return
    error = context.failure_event.message or ""
    n = failure_notification(context.dagster_run, error, channel, slack.ui_url)
    box = outbox.open()
    try:
        if box.enqueue(n):
            context.log.info(f"queued {n.identity} for {channel}")
    finally:
        box.dispose()
