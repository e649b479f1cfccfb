"""The tiny generated source through every layer and the reports, once per module that asks for it."""

from datetime import timedelta

import dagster as dg
import pytest

from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS
from assets.reports import REPORT_ASSETS
from assets.usage import USAGE_ASSETS
from bucketlens.settings import Settings
from pipelines.runner import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG
from resources import build_resources
from resources.reports import ReportSettings
from tests.conftest import bucketlens_env

UI = "http://127.0.0.1:3000"


def report_resources(home):
    return {
        **build_resources(Settings.from_env()),
        "reports": ReportSettings(reports_dir=str(home / "reports"), ui_url=UI),
    }


@pytest.fixture(scope="package")
def reported(tiny_source, tmp_path_factory):
    """The tiny source's 10 days, raw to reports, in one range run (as a backfill does)."""
    home = tmp_path_factory.mktemp("reports-home")
    days = [tiny_source.start + timedelta(days=i) for i in range(tiny_source.days)]
    with bucketlens_env(home, tiny_source.root, tiny_source.users_db):
        defs = dg.Definitions(
            assets=[*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS, *ANOMALY_ASSETS, *REPORT_ASSETS],
            resources=report_resources(home),
        )
        job = defs.resolve_implicit_global_asset_job_def()
        tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
        result = job.execute_in_process(tags=tags, run_config=QUIET_CONSOLE, raise_on_error=False)
    assert result.success
    return home, days, result
