"""Daily UTC partitions shared by every layer, so lineage lines up day by day."""

from __future__ import annotations

import dagster as dg

# Far enough back for a year of history and for the demo's generated month; the last partition is
# yesterday (a day is only complete once it has ended).
PARTITIONS_START = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")
