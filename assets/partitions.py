"""Daily UTC partitions shared by every layer, so lineage lines up day by day, and the tags of a range run."""

from __future__ import annotations

import dagster as dg

# Far enough back for a year of history and for the demo's generated month; the last partition is
# yesterday (a day is only complete once it has ended).
PARTITIONS_START = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")

# Dagster's tags for one run over a partition range (what a UI backfill of a single-run asset sets);
# the CLI and the cost-export sensor launch ranges with them.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
