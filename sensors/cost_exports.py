"""Rerun a billing period when a new or restated cost export lands (the estimate → actual swap).

Each billing period's export files are fingerprinted (keys and sizes); the cursor keeps the fingerprints
seen. When one changes, the days of that period that were already materialized are rebuilt — cost line
items and everything downstream — as one range run, tagged with the period so the UI links the rerun
to its cause. Days not materialized yet are left to the daily run.
"""

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.jobs import cost_restatement_job
from assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from bucketlens.formats.cur_exports import DATA_KEY_RE, MANIFEST_KEY_RE
from resources.source_store import SourceStore

COST_ASSET = dg.AssetKey("user_daily_cost")


def period_fingerprints(source: SourceStore) -> dict[str, str]:
    """Billing period → a hash of its export files (data and manifests) as listed now."""
    files: dict[str, list[str]] = {}
    for obj in source.list("cur/"):
        match = DATA_KEY_RE.match(obj.key) or MANIFEST_KEY_RE.match(obj.key)
        if match:
            files.setdefault(match["period"], []).append(f"{obj.key}:{obj.size}")
    return {p: hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:16] for p, keys in files.items()}


def period_days(period: str, materialized: set[str], today: date) -> list[date]:
    """The period's days before today that have been materialized, in order."""
    first = date.fromisoformat(f"{period}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    last = min(following, today) - timedelta(days=1)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if d.isoformat() in materialized]


@dg.sensor(
    job=cost_restatement_job,
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reruns the cost layer and everything downstream for a billing period whose export is new or restated.",
)
def cost_export_sensor(context: dg.SensorEvaluationContext, source: SourceStore):
    seen: dict[str, str] | None = json.loads(context.cursor) if context.cursor else None
    now = period_fingerprints(source)
    if seen is None:
        # First tick: remember what is there; the daily runs have loaded it already.
        return dg.SensorResult(
            cursor=json.dumps(now, sort_keys=True), skip_reason="Recorded the current cost exports."
        )
    changed = sorted(p for p, fp in now.items() if seen.get(p) != fp)
    materialized = set(context.instance.get_materialized_partitions(COST_ASSET))
    today = datetime.now(UTC).date()
    requests = []
    for period in changed:
        days = period_days(period, materialized, today)
        if not days:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"cost:{period}:{now[period]}",
                tags={
                    RANGE_START_TAG: days[0].isoformat(),
                    RANGE_END_TAG: days[-1].isoformat(),
                    "bucketlens/trigger": "cost_export_restated" if period in seen else "cost_export_new",
                    "bucketlens/billing_period": period,
                },
            )
        )
    skip = None if requests else "No new or restated cost export for a materialized day."
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(now, sort_keys=True), skip_reason=skip)
