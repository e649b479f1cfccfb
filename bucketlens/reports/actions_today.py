"""The response actions a day's report lists: what bucketlens decided about the day's data, who decided
it and why, and where each webhook and lift stands (``actions.action_requests``, mirrored from the
audit). A warehouse without the actions layer yet lists none."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from bucketlens.reports.warehouse import has_columns, rows_by_day, window

REQUESTS = "actions.action_requests"
ACTIONS_SQL = f"""
SELECT usage_date, user_id, rule, action, mode, state, decided_by, decision_reason, decided_at,
       coalesce(delivery_state, '') AS delivery_state, coalesce(lift_state, '') AS lift_state, expires_at
FROM {REQUESTS} WHERE usage_date BETWEEN $start AND $end
ORDER BY usage_date,
         CASE state WHEN 'awaiting_approval' THEN 0 WHEN 'requested' THEN 1 ELSE 2 END, rule, user_id
"""


def actions_by_day(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dict[date, list[dict]]:
    """Each day's response actions, from one query for the whole window."""
    if not has_columns(con, REQUESTS, "usage_date", "state", "decided_by", "delivery_state", "lift_state"):
        return {day: [] for day in days}
    return rows_by_day(con, ACTIONS_SQL, window(days), days)
