"""Every query the Athena engine runs, by name, in DuckDB's dialect: the assets' own SQL.

Why a catalog: the scale-out path must run *the same* SQL as the warehouse, so it is taken from the
asset modules (never copied), and every entry is transpiled and checked by tests. An entry is the
SELECT of an asset's staging statement (``CREATE ... AS`` is the warehouse's business, not Athena's),
reading the contract's ``raw.*`` tables, which the Glue catalog holds under the same names.
"""

from __future__ import annotations

import importlib
import re

_CREATE_PREFIX = re.compile(r"^\s*CREATE\s+OR\s+REPLACE\s+TEMP\s+TABLE\s+\w+\s+AS\s+", re.IGNORECASE)


def _select_of(stage_sql: str) -> str:
    """The query of a ``CREATE OR REPLACE TEMP TABLE x AS <query>`` statement."""
    query, count = _CREATE_PREFIX.subn("", stage_sql, count=1)
    if count != 1:
        raise ValueError("not a staging statement")
    return query.strip()


def catalog() -> dict[str, str]:
    """Query name → DuckDB SQL with a ``$day`` parameter."""
    from bucketlens.costing.operations import billable_sql, request_tier_sql

    # the modules, not the assets the package re-exports under the same names
    user_daily_requests = importlib.import_module("assets.usage.user_daily_requests")
    user_daily_storage = importlib.import_module("assets.usage.user_daily_storage")

    requests = user_daily_requests.STAGE_SQL.format(
        tier=request_tier_sql("r.operation"), billable=billable_sql("r.http_status", "r.requester")
    )
    return {
        "user_daily_storage": _select_of(user_daily_storage.STAGE_SQL),
        "user_daily_requests": _select_of(requests),
        "access_log_day_summary": (
            "SELECT user_id, operation, count(*) AS requests, count(DISTINCT remote_ip) AS client_ips, "
            "coalesce(sum(bytes_sent), 0)::BIGINT AS bytes_sent "
            "FROM raw.access_log_requests WHERE usage_date = $day GROUP BY ALL"
        ),
    }
