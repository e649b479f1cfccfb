"""Jobs: what one scheduled or CLI run materializes for one day."""

from __future__ import annotations

import dagster as dg

from pipelines.partitions import daily_partitions

RAW_DAILY_JOB = "raw_daily"

raw_daily_job = dg.define_asset_job(
    RAW_DAILY_JOB,
    selection=dg.AssetSelection.groups("raw"),
    partitions_def=daily_partitions,
    description="Load one day of every raw source (inventory, access logs, CloudWatch, cost, users).",
)
