"""Jobs: what one scheduled or CLI run materializes for one day."""

import dagster as dg

RAW_DAILY_JOB = "raw_daily"
DAILY_JOB = "daily"
DERIVED_DAILY_JOB = "derived_daily"
DERIVED_GROUPS = ("usage", "cost", "anomaly")

raw_daily_job = dg.define_asset_job(
    RAW_DAILY_JOB,
    selection=dg.AssetSelection.groups("raw"),
    description="Load one day of every raw source (inventory, access logs, CloudWatch, cost, users).",
)

derived_daily_job = dg.define_asset_job(
    DERIVED_DAILY_JOB,
    selection=dg.AssetSelection.groups(*DERIVED_GROUPS),
    description="Rebuild one day of everything derived from the raw layer (usage, cost, anomalies).",
)

daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.groups("raw", *DERIVED_GROUPS),
    description="One day end to end: raw sources, per-user usage, cost attribution, anomalies and abuse.",
)

JOBS = [raw_daily_job, derived_daily_job, daily_job]
