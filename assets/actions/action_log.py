"""actions.action_log: the audit of response actions — every decision (policy, mode, who approved, when,
why), every delivery attempt (status code, webhook-id), every lift and every email.

The log is written where the actions happen (the planner, ``bucketlens actions approve``, the delivery
sensor) in the alert database, in the same transaction as the change it records; this asset mirrors it
into the warehouse for reports, statements and the UI.
"""

import dagster as dg

from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    counted_days,
    daily_asset,
    window_days,
    window_result,
)
from bucketlens.actions.mirror import LOG_TABLE, REQUESTS_TABLE, mirror_log
from resources.actions import ActionsResource
from resources.warehouse import Warehouse

DECIDED = CheckSpec("every_request_decided", "Every action request of the day has its decision in the audit.")
EVENTS = ("decided", "approved", "rejected", "expired", "sent", "retry", "rate_limited", "dead", "lifted",
          "email_sent", "email_skipped", "email_dry_run")  # fmt: skip
FIGURES_SQL = f"""
WITH log AS (SELECT * FROM {LOG_TABLE} WHERE usage_date BETWEEN $start AND $end),
undecided AS (
    SELECT r.usage_date, count(*) AS n FROM {REQUESTS_TABLE} r
    WHERE r.usage_date BETWEEN $start AND $end
      AND NOT EXISTS (SELECT 1 FROM log l WHERE l.request_id = r.request_id AND l.event = 'decided')
    GROUP BY ALL
)
SELECT d.usage_date, count(l.event) AS entries,
       {", ".join(f"count(*) FILTER (WHERE l.event = '{e}') AS {e}" for e in EVENTS)},
       coalesce(any_value(u.n), 0) AS undecided
FROM (SELECT unnest(generate_series($start::DATE, $end::DATE, INTERVAL 1 DAY))::DATE AS usage_date) d
LEFT JOIN log l USING (usage_date) LEFT JOIN undecided u USING (usage_date)
GROUP BY d.usage_date
"""
HEADERS = ["at (UTC)", "user", "policy", "event", "actor", "status", "detail", "webhook-id / email"]
DETAIL_SQL = f"""
SELECT strftime(logged_at, '%Y-%m-%d %H:%M:%S'), user_id, policy, event, actor, coalesce(status_code::VARCHAR, ''),
       left(detail, 120), webhook_id
FROM {LOG_TABLE} WHERE usage_date = ? ORDER BY logged_at, event LIMIT 40
"""


@daily_asset(
    "action_log", "actions", checks=(DECIDED,), deps=("action_requests",), kinds=("duckdb", "sqlite")
)
def action_log(
    context: dg.AssetExecutionContext, warehouse: Warehouse, actions: ActionsResource
) -> dg.MaterializeResult:
    """One row per audit entry about the data of a day: the event (decided, approved, rejected, expired,
    sent, retry, rate_limited, dead, lifted, email_*), the actor, policy and mode, the detail, the HTTP
    status and the webhook-id (or email id)."""
    days = window_days(context)
    store = actions.store()
    try:
        with warehouse.connect() as con:
            mirror_log(con, store.engine)
            per_day = counted_days(
                con, days, FIGURES_SQL, ("entries", *EVENTS), ("audit", HEADERS, DETAIL_SQL)
            )
    finally:
        store.dispose()
    results = []
    for day, f, metadata in per_day:
        undecided = int(f.get("undecided") or 0)
        check = Check(
            undecided == 0,
            {"undecided": undecided},
            f"{undecided} request(s) without a decision" if undecided else None,
        )
        results.append(DayResult(day, metadata, {DECIDED.name: check}))
    return window_result(results)
