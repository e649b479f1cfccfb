"""Response-action delivery: each tick expires approvals nobody decided in time, then drains the action
outbox — signed webhooks to the service's endpoint, emails over SMTP — exactly as ``bucketlens actions
deliver`` does once.

The tick touches only the alert database (SQLAlchemy), never DuckDB, so it never waits for a run. It is
bounded in time (the drain stops claiming after 40 s; Dagster stops a sensor at 60 s), and a
configuration problem (an invalid rules file, an endpoint without a secret) skips the tick with one line
saying what to fix: nothing is lost, the webhooks wait in the outbox.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg

from bucketlens.actions.delivery import ActionDeliveryReport, deliver_actions
from bucketlens.anomaly import RulesError
from resources.actions import ActionsConfigError, ActionsResource
from resources.rules import RulesFile
from sensors.alert_delivery import fallback_channel


@dataclass
class ActionTickReport:
    expired: int = 0  # approve-mode requests that expired this tick
    delivery: ActionDeliveryReport = field(default_factory=ActionDeliveryReport)
    states: dict[str, int] = field(default_factory=dict)  # action outbox rows per state after the drain
    error: str = ""  # what stopped the tick (rules file, configuration)

    def line(self) -> str:
        if self.error:
            return f"not delivered: {self.error}"
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items()) if v) or "empty"
        return f"expired {self.expired}; {self.delivery.line()}; action outbox: {states}"

    def warnings(self) -> list[str]:
        return [
            f"{endpoint} answered 410 Gone and is disabled: fix the endpoint, then `bucketlens actions "
            "enable-endpoint` and `bucketlens actions retry-dead`"
            for endpoint in self.delivery.disabled_endpoints
        ]


def action_tick(
    actions: ActionsResource, rules: RulesFile, now: datetime | None = None, limit: int = 200
) -> ActionTickReport:
    """Expire what is overdue, then send up to ``limit`` webhooks and emails once (at ``now``, default the
    real time)."""
    now = now or datetime.now(UTC)
    report = ActionTickReport()
    try:
        alerting = rules.alerting()
        webhooks = actions.webhook_sender(alerting.actions)
    except (RulesError, ActionsConfigError) as exc:
        report.error = exc.summary() if isinstance(exc, RulesError) else str(exc)
        return report
    store = actions.store(alerting.actions)
    try:
        report.expired = len(store.expire_overdue(now))
        with actions.mailer() as mailer:
            report.delivery = deliver_actions(
                store, webhooks, mailer, now=now, limit=limit, meta_channel=fallback_channel(alerting.routing)
            )
        report.states = store.outbox.counts()
    finally:
        store.dispose()
    return report


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends queued response actions (signed webhooks, emails) and expires undecided approvals.",
)
def action_delivery_sensor(context: dg.SensorEvaluationContext, actions: ActionsResource, rules: RulesFile):
    report = action_tick(actions, rules)
    if report.error:
        context.log.error(report.error)
    for warning in report.warnings():
        context.log.warning(warning)
    if report.delivery.dead:
        context.log.warning(
            f"{report.delivery.dead} webhook(s) or email(s) dead: `bucketlens actions list-dead` shows them, "
            "`bucketlens actions retry-dead` sends them again"
        )
    return dg.SkipReason(report.line())
