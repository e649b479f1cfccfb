"""Alert delivery: each tick releases what the policy held (group intervals, escalations) into the
outbox, then drains the outbox to Slack (or the preview file). ``bucketlens alerts deliver`` runs the same
tick once, for setups without the daemon and for tests.

The tick reads and writes only the outbox database (SQLite/PostgreSQL), never DuckDB, so it never waits
for a run holding the warehouse. Notifications are enqueued before the notify log records them: after a
crash in between, the next tick plans the same identities and the outbox refuses the duplicates.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from bucketlens.alerts.delivery import DeliveryReport, deliver_once
from bucketlens.alerts.notify_log import NotifyLog
from bucketlens.alerts.policy import flush_due, plan_escalations
from bucketlens.alerts.silences import list_silences
from bucketlens.anomaly import RulesError
from resources.outbox import AlertOutbox
from resources.rules import RulesFile
from resources.slack import SlackResource


@dataclass
class TickReport:
    released: int = 0  # notifications the policy released this tick (group intervals, escalations)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    states: dict[str, int] = field(default_factory=dict)  # outbox rows per state after the drain

    def line(self) -> str:
        d = self.delivery
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items())) or "empty"
        return (
            f"released {self.released}; sent {d.sent}, retried {d.retried}, reconciled {d.reconciled}, "
            f"dead {d.dead}, waiting {d.waiting}; outbox: {states}"
        )


def deliver_tick(
    outbox: AlertOutbox, slack: SlackResource, rules: RulesFile, now: datetime | None = None, limit: int = 200
) -> TickReport:
    """Release what is due, then send up to ``limit`` notifications once."""
    now = now or datetime.now(UTC)
    alerting = rules.alerting()
    report = TickReport()
    log, box = NotifyLog(outbox.url), outbox.open()
    try:
        silences = list_silences(outbox.url, now=now)
        for planner in (
            lambda snap: flush_due(now, alerting, snap, silences),
            lambda snap: plan_escalations(now, alerting, snap),
        ):
            plan = planner(log.snapshot(now))
            report.released += sum(1 for n in plan.notifications if box.enqueue(n, now))
            log.apply(plan, now)
        report.delivery = deliver_once(box, slack.sender(), limit=limit)
        report.states = box.counts()
    finally:
        box.dispose()
        log.dispose()
    return report


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends queued alert notifications to Slack (or the preview file), with retries and no duplicates.",
)
def alert_delivery_sensor(
    context: dg.SensorEvaluationContext, outbox: AlertOutbox, slack: SlackResource, rules: RulesFile
):
    try:
        report = deliver_tick(outbox, slack, rules)
    except RulesError as exc:  # the tick's skip reason and log say what to fix, not a traceback
        context.log.error(exc.summary())
        return dg.SkipReason(exc.summary())
    if report.delivery.dead:
        context.log.warning(f"{report.delivery.dead} notification(s) dead: see `bucketlens alerts deliver`")
    return dg.SkipReason(report.line())
