"""The Dagster entry point (``workspace.yaml`` loads ``pipelines.definitions:defs``): it only assembles."""

from __future__ import annotations

import dagster as dg

from assets.raw import RAW_ASSETS
from bucketlens.settings import Settings
from pipelines.jobs import raw_daily_job
from resources import build_resources


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=RAW_ASSETS,
        jobs=[raw_daily_job],
        resources=build_resources(Settings.from_env()),
    )
