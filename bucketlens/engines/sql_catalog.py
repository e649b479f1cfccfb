"""Every query the engines run, by name, in DuckDB's dialect: the usage layer's own SQL.

Why a catalog: the scale-out path must run *the same* SQL as the warehouse, so it is taken from
``bucketlens.usage`` (never copied), and every entry is transpiled and checked by tests. Entries read the
contract's ``raw.*`` tables, which the Glue catalog holds under the same names, and take the window's
``$start`` and ``$end`` days (``$owner_accounts`` too, for requests).
"""

from __future__ import annotations

from bucketlens.usage import USER_DAILY_REQUESTS_SQL, USER_DAILY_STORAGE_SQL

ACCESS_LOG_DAY_SUMMARY_SQL = (
    "SELECT usage_date, user_id, operation, count(*) AS requests, count(DISTINCT remote_ip) AS client_ips, "
    "coalesce(sum(bytes_sent), 0)::BIGINT AS bytes_sent "
    "FROM raw.access_log_requests WHERE usage_date BETWEEN $start AND $end GROUP BY ALL"
)


def catalog() -> dict[str, str]:
    """Query name → DuckDB SQL over the window ``$start`` .. ``$end``."""
    return {
        "user_daily_storage": USER_DAILY_STORAGE_SQL,
        "user_daily_requests": USER_DAILY_REQUESTS_SQL,
        "access_log_day_summary": ACCESS_LOG_DAY_SUMMARY_SQL,
    }
