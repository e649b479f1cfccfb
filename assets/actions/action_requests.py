"""actions.action_requests: what bucketlens asked (or proposes to ask) the service to do about each user.

The asset reads the window's alerts, decides the response actions their policies call for (dry run,
approval, or a signed webhook now — ``bucketlens.actions.planner``) inside the action planners' lock in
the alert database, then mirrors every request, with where its webhook and lift stand, into the
warehouse. Deciding happens once per policy, user and alert episode: a rerun plans the same request ids,
which the store refuses, so a rerun never acts twice.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.metadata import markdown_table
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    counted_days,
    daily_asset,
    window_days,
    window_result,
)
from bucketlens.actions.mirror import REQUESTS_TABLE, mirror_requests
from bucketlens.alerts.state import ensure_table, read_alerts
from resources.actions import ActionsResource
from resources.rules import RulesFile
from resources.warehouse import Warehouse

ONE_PER_EPISODE = CheckSpec(
    "one_request_per_episode",
    "At most one request per policy, user and alert episode, and every requested action has its signed "
    "webhook in the outbox.",
)
STATES = ("requested", "awaiting_approval", "dry_run", "skipped", "rejected", "expired")
FIGURES_SQL = f"""
SELECT usage_date, count(*) AS requests,
       {", ".join(f"count(*) FILTER (WHERE state = '{s}') AS {s}" for s in STATES)},
       count(*) FILTER (WHERE lift_state = 'sent') AS lifted,
       count(*) - count(DISTINCT (user_id, rule, action, alert_key, episode)) AS repeated,
       count(*) FILTER (WHERE state = 'requested' AND webhook_id IS NULL) AS without_webhook
FROM {REQUESTS_TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date
"""
HEADERS = ["user", "rule", "action", "mode", "state", "decided by", "webhook", "lift", "request id"]
DETAIL_SQL = f"""
SELECT user_id, rule, action, mode, state, coalesce(decided_by, ''), coalesce(delivery_state, '-'),
       coalesce(lift_state, '-'), request_id
FROM {REQUESTS_TABLE} WHERE usage_date = ? ORDER BY rule, user_id LIMIT 30
"""


def _check(figures: dict) -> Check:
    repeated, missing = int(figures.get("repeated") or 0), int(figures.get("without_webhook") or 0)
    problems = [f"{repeated} repeated request(s)"] * bool(repeated) + [f"{missing} without webhook"] * bool(
        missing
    )
    return Check(
        not problems, {"repeated": repeated, "without_webhook": missing}, "; ".join(problems) or None
    )


@daily_asset(
    "action_requests",
    "actions",
    checks=(ONE_PER_EPISODE,),
    deps=("alert_events",),
    kinds=("duckdb", "sqlite"),
)
def action_requests(
    context: dg.AssetExecutionContext, warehouse: Warehouse, rules: RulesFile, actions: ActionsResource
) -> dg.MaterializeResult:
    """One row per policy, user and alert episode: action, mode, state (dry_run, awaiting_approval,
    requested, rejected, expired, skipped), who decided and why, when it took effect and expires, and
    where its webhook and lift stand."""
    alerting = rules.alerting()
    section = alerting.actions
    days = window_days(context)
    store = actions.store(section)
    try:
        with warehouse.connect() as con:
            ensure_table(con)  # a warehouse whose alert layer never ran has no alerts, not an error
            alerts = [
                a
                for a in read_alerts(con, days)
                if a.rule in section.rules or a.severity in section.email.operators
            ]
            plan, written = store.plan(alerts, section, alerting.routing.channels, datetime.now(UTC))
            mirror_requests(con, store.engine)
            counts = ("requests", *STATES, "lifted")
            per_day = counted_days(con, days, FIGURES_SQL, counts, ("requests_table", HEADERS, DETAIL_SQL))
    finally:
        store.dispose()
    results = [DayResult(day, metadata, {ONE_PER_EPISODE.name: _check(f)}) for day, f, metadata in per_day]
    # What this run decided and queued is one figure for the window: it goes on its last day.
    results[-1].metadata.update(
        {
            "decided_now": dg.MetadataValue.int(written["requests"]),
            "webhooks_and_emails_queued": dg.MetadataValue.int(written["queued"]),
            "slack_notices_queued": dg.MetadataValue.int(written["notices"]),
            "lifts_brought_forward": dg.MetadataValue.int(written["lifts"]),
            "endpoint": actions.endpoint_for(section).split("?", 1)[0] or "preview file",
            "policies": markdown_table(
                ["rule", "action", "mode", "duration (s)", "lift on resolve"],
                [(p.rule, p.action, p.mode, p.duration or "", p.lift_on_resolve) for p in section.policies],
            ),
        }
    )
    context.log.info(f"actions decided: {dict(plan.counts) or 'none'}")
    return window_result(results)
