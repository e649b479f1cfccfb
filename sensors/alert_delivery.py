"""Alert delivery: each tick releases what the policy held (group intervals, escalations) into the
outbox, then drains the outbox to Slack (or the preview file). ``bucketlens alerts deliver`` runs the same
tick once, for setups without the daemon and for tests.

The tick reads and writes only the outbox database (SQLite/PostgreSQL), never DuckDB, so it never waits
for a run holding the warehouse. Releasing is planning: it holds the planners' lock
(``NotifyLog.planning``) from the snapshot to the commit, so it never overwrites what ``alert_events``
decides at the same moment; its notifications are enqueued before the notify log records them, in the
same transaction (a crash leaves neither, and the next tick plans them again).

A tick is bounded in time: the drain stops claiming rows after ``DEFAULT_DEADLINE`` (40 s, Dagster stops
a sensor at 60 s) and says how many it left for the next tick. A channel that does not exist (or the bot
is not in) is an operator's problem: the tick warns in its log (the sensor's page in the UI), a
meta-alert goes to the fallback channel, and the notifications wait as dead for
``bucketlens alerts retry-dead``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from bucketlens.alerts.delivery import DeliveryReport, deliver_once, missing_channel_hint
from bucketlens.alerts.notify_log import NotifyLog
from bucketlens.alerts.policy import flush_due, plan_escalations
from bucketlens.alerts.routing import Routing
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
    rules_error: str = ""  # the rules file is invalid: nothing new was planned, the queue still drained

    def line(self) -> str:
        d = self.delivery
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items())) or "empty"
        deferred = f", {d.deferred} left for the next tick (time limit)" if d.deferred else ""
        return (
            f"released {self.released}; sent {d.sent}, retried {d.retried}, reconciled {d.reconciled}, "
            f"dead {d.dead}, waiting {d.waiting}{deferred}; outbox: {states}"
        )

    def warnings(self) -> list[str]:
        """One line per channel that swallowed notifications this tick: what happened, what to do."""
        lines = [self.rules_error] if self.rules_error else []
        return lines + [
            f"Slack channel {channel} is missing or the bot is not in it: {count} notification(s) held as "
            f"dead; {missing_channel_hint(channel)}"
            for channel, count in sorted(self.delivery.missing_channels.items())
        ]


def fallback_channel(routing: Routing) -> str:
    """Where meta-alerts about delivery go: the routing's fallback channel, else the critical channel."""
    return routing.fallback_channel or routing.channels.get("critical", "")


def deliver_tick(
    outbox: AlertOutbox, slack: SlackResource, rules: RulesFile, now: datetime | None = None, limit: int = 200
) -> TickReport:
    """Release what is due, then send up to ``limit`` notifications once. An invalid rules file stops
    the planning (what to release needs the routing) but never the drain: notifications already queued
    were planned under valid rules and still go out."""
    now = now or datetime.now(UTC)
    report = TickReport()
    try:
        alerting = rules.alerting()
    except RulesError as exc:
        alerting, report.rules_error = None, exc.summary()
    log, box = NotifyLog(outbox.url), outbox.open()
    try:
        if alerting is not None:
            silences = list_silences(outbox.url, now=now)
            with log.planning() as turn:
                turn.run(lambda snap: flush_due(now, alerting, snap, silences), now)
                turn.run(lambda snap: plan_escalations(now, alerting, snap), now)
            report.released = turn.enqueued
        routing = alerting.routing if alerting is not None else Routing()
        report.delivery = deliver_once(
            box, slack.sender(), limit=limit, fallback_channel=fallback_channel(routing)
        )
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
    report = deliver_tick(outbox, slack, rules)
    if report.rules_error:  # the tick's log and skip reason say what to fix, never a traceback
        context.log.error(report.rules_error)
    for warning in report.warnings()[1 if report.rules_error else 0 :]:
        context.log.warning(warning)
    if report.delivery.dead:
        context.log.warning(
            f"{report.delivery.dead} notification(s) dead: `bucketlens alerts list-dead` shows them, "
            "`bucketlens alerts retry-dead` sends them again"
        )
    warnings = " ".join(report.warnings())
    return dg.SkipReason(report.line() + (f". {warnings}" if warnings else ""))
