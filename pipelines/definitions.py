"""The Dagster entry point (``workspace.yaml`` loads ``pipelines.definitions:defs``): it only assembles."""

import dagster as dg

from assets.alerts import ALERT_ASSETS
from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS
from assets.reports import REPORT_ASSETS
from assets.usage import USAGE_ASSETS
from bucketlens.settings import Settings
from pipelines.jobs import JOBS
from pipelines.schedules import SCHEDULES
from resources import build_resources
from sensors import SENSORS


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS, *ANOMALY_ASSETS, *ALERT_ASSETS, *REPORT_ASSETS],
        jobs=JOBS,
        schedules=SCHEDULES,
        sensors=SENSORS,
        resources=build_resources(Settings.from_env()),
    )
