"""Names of the warehouse tables the detectors read, and the few SQL helpers they share.

Detectors take table names (not hard-coded ones) so that tests can point them at tiny hand-made tables
and the Dagster assets at the warehouse; names are checked because they cannot be bound as parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def identifier(name: str) -> str:
    """A table name safe to splice into SQL (``schema.table`` or ``table``)."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"not a table name: {name!r}")
    return name


@dataclass(frozen=True)
class Sources:
    """Input tables (design §5 names by default)."""

    inventory: str = "raw.inventory_objects"
    access_log: str = "raw.access_log_requests"
    users: str = "raw.users"
    cost_line_items: str = "raw.cost_line_items"
    user_daily_storage: str = "usage.user_daily_storage"
    user_daily_requests: str = "usage.user_daily_requests"
    service_daily_metrics: str = "usage.service_daily_metrics"
    user_daily_cost: str = "cost.user_daily_cost"
    user_quota_use: str = "cost.user_quota_use"
    user_daily_cdn: str = "usage.user_daily_cdn"
    service_daily_cdn: str = "usage.service_daily_cdn"

    def sql(self) -> dict[str, str]:
        """The names as format fields, validated."""
        return {k: identifier(v) for k, v in self.__dict__.items()}


DEFAULT_SOURCES = Sources()
SHARED_USER = "_shared"
"""Objects outside ``users/`` (app assets, temp uploads) belong to no user and are never flagged."""
