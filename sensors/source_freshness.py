"""Alert when a source stops arriving: "no inventory for 36 h" is an alert, never a day of zeros.

A day without an inventory report is NoData for every asset downstream (the partition fails naming the
missing manifest); this sensor is what tells a human. The newest inventory report's time comes from its
folder name (``YYYY-MM-DDTHH-MMZ``, the scan time), so it needs only the source listing. One alert per
stale episode: the identity carries the newest report seen, and its arrival resolves the alert by
editing the message.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from bucketlens.alerts.notification import Notification
from bucketlens.anomaly import RulesError
from bucketlens.formats.inventory_manifest import MANIFEST_KEY_RE
from resources.outbox import AlertOutbox
from resources.rules import RulesFile
from resources.source_store import SourceStore

MAX_INVENTORY_AGE = timedelta(hours=36)


@dataclass(frozen=True)
class Freshness:
    newest: datetime | None  # scan time of the newest inventory report
    age: timedelta | None

    def stale(self, limit: timedelta = MAX_INVENTORY_AGE) -> bool:
        return self.age is None or self.age > limit


def inventory_freshness(keys: list[str], now: datetime) -> Freshness:
    times = [
        datetime.strptime(m["folder"], "%Y-%m-%dT%H-%MZ").replace(tzinfo=UTC)
        for k in keys
        if (m := MANIFEST_KEY_RE.match(k))
    ]
    newest = max(times, default=None)
    return Freshness(newest, now - newest if newest else None)


def stale_notification(f: Freshness, channel: str, source: str) -> Notification:
    seen = f.newest.strftime("%Y-%m-%d %H:%M UTC") if f.newest else "never"
    hours = f"{f.age.total_seconds() / 3600:.0f} h" if f.age else "ever"
    return Notification(
        identity=f"stale:inventory:{seen}",
        kind="meta",
        channel=channel,
        severity="critical",
        title="No S3 Inventory report for " + hours,
        group_key="stale:inventory",
        text=(
            f"The newest S3 Inventory report under {source} is from {seen}; reports arrive daily and the "
            f"limit is {MAX_INVENTORY_AGE.total_seconds() / 3600:.0f} h. Days without a report show as missing "
            "data (NoData), not as zero usage. Check the bucket's inventory configuration and delivery."
        ),
    )


def fresh_again_notification(stale_identity: str, channel: str, f: Freshness) -> Notification:
    return Notification(
        identity=stale_identity + ":resolved",
        kind="resolved",
        channel=channel,
        severity="info",
        title="S3 Inventory reports are arriving again",
        group_key="stale:inventory",
        text=f"A new report from {f.newest:%Y-%m-%d %H:%M UTC} arrived.",
        edit_of=stale_identity,
    )


@dg.sensor(
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts when no S3 Inventory report arrived for 36 h, and again when reports resume.",
)
def source_freshness_sensor(
    context: dg.SensorEvaluationContext, source: SourceStore, outbox: AlertOutbox, rules: RulesFile
):
    """The cursor holds the identity of the open stale notice, so each episode alerts and resolves once."""
    f = inventory_freshness([o.key for o in source.list("inventory/")], datetime.now(UTC))
    try:
        channel = rules.alerting().routing.channels["critical"]
    except RulesError as exc:
        context.log.error(exc.summary())
        return dg.SkipReason(exc.summary())
    open_notice = context.cursor or ""
    if f.stale():
        notice = stale_notification(f, channel, source.describe("inventory/"))
        if notice.identity == open_notice:
            return dg.SkipReason(f"still stale; already alerted ({notice.identity})")
        _enqueue(outbox, notice)
        return dg.SensorResult(cursor=notice.identity, skip_reason=notice.title)
    if open_notice:
        _enqueue(outbox, fresh_again_notification(open_notice, channel, f))
        return dg.SensorResult(cursor="", skip_reason="inventory reports resumed")
    return dg.SkipReason(f"newest inventory report {f.newest:%Y-%m-%d %H:%M} UTC, within {MAX_INVENTORY_AGE}")


def _enqueue(outbox: AlertOutbox, n: Notification) -> None:
    box = outbox.open()
    try:
        box.enqueue(n)
    finally:
        box.dispose()
