"""The Dagster entry point (``workspace.yaml`` loads ``pipelines.definitions:defs``): it only assembles.

Every run of this code location — CLI, schedule, sensor, UI backfill — uses the in-process executor: the
steps write one DuckDB file and share the ``duckdb_writer`` pool of size 1, so they run one after the
other anyway, and the default multiprocess executor only added a fresh Python process (Dagster and the
project imported again) per step: ~220 s for a day whose work takes 2.6 s.
"""

import dagster as dg

from assets.actions import ACTION_ASSETS, ACTION_JOBS
from assets.alerts import ALERT_ASSETS
from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.jobs import JOBS
from assets.raw import RAW_ASSETS
from assets.reports import REPORT_ASSETS
from assets.savings import SAVINGS_ASSETS
from assets.usage import USAGE_ASSETS
from assets.usage.service_daily_kpis import service_daily_kpis
from bucketlens.settings import Settings
from pipelines.schedules import SCHEDULES
from resources import build_resources
from sensors import SENSORS


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            *RAW_ASSETS,
            *USAGE_ASSETS,
            service_daily_kpis,
            *COST_ASSETS,
            *ANOMALY_ASSETS,
            *SAVINGS_ASSETS,
            *ALERT_ASSETS,
            *ACTION_ASSETS,
            *REPORT_ASSETS,
        ],  # fmt: skip
        jobs=[*JOBS, *ACTION_JOBS],
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources=build_resources(Settings.from_env()),
        executor=dg.in_process_executor,
    )
