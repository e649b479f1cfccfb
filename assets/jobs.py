"""Jobs: what one scheduled, sensor-launched or CLI run materializes — named selections of assets, kept
beside them so sensors (a layer above) can target them and `pipelines/definitions.py` assembles them."""

import dagster as dg

RAW_DAILY_JOB = "raw_daily"
DAILY_JOB = "daily"
DERIVED_DAILY_JOB = "derived_daily"
HOURLY_SERVICE_JOB = "service_hourly"
COST_RESTATEMENT_JOB = "cost_restatement"
DERIVED_GROUPS = ("usage", "cost", "anomaly", "savings", "alerts", "actions", "reports")

raw_daily_job = dg.define_asset_job(
    RAW_DAILY_JOB,
    selection=dg.AssetSelection.groups("raw"),
    description="Load one day of every raw source (inventory, access logs, CloudWatch, cost, users).",
)

derived_daily_job = dg.define_asset_job(
    DERIVED_DAILY_JOB,
    selection=dg.AssetSelection.groups(*DERIVED_GROUPS),
    description="Rebuild one day of everything derived from the raw layer (usage, cost, anomalies, alerts, actions, reports).",
)

daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.groups("raw", *DERIVED_GROUPS),
    description="One day end to end: raw sources, per-user usage, cost attribution, anomalies, alerts, actions, reports.",
)

# Today's CloudWatch request and error metrics every hour, so request-rate and error-rate alerts are not
# a day late, and today's access-log objects parsed as they arrive; the daily run later rebuilds the day
# from the complete access logs without re-reading what the hourly runs parsed.
service_hourly_job = dg.define_asset_job(
    HOURLY_SERVICE_JOB,
    selection=dg.AssetSelection.assets(
        "access_log_objects", "cloudwatch_metrics", "service_daily_metrics", "service_anomalies"
    )
    | dg.AssetSelection.groups("alerts"),
    description="Today so far: new access-log objects parsed, CloudWatch service metrics, service anomalies and their alerts.",
)

# A new or restated cost export replaces a billing period: its line items and everything computed from
# them (the estimate → actual swap) are rebuilt for the days already materialized.
cost_restatement_job = dg.define_asset_job(
    COST_RESTATEMENT_JOB,
    selection=dg.AssetSelection.assets("cost_line_items").downstream(),
    description="Rebuild a billing period's cost line items and everything downstream after a new or restated export.",
)

JOBS = [raw_daily_job, derived_daily_job, daily_job, service_hourly_job, cost_restatement_job]
