"""Where reports are written and where the Dagster UI is, for the links in them."""

from urllib.parse import quote

import dagster as dg

from bucketlens.settings import default


class ReportSettings(dg.ConfigurableResource):
    reports_dir: str  # $BUCKETLENS_HOME/reports
    ui_url: str = default("ui_url")

    def asset_link(self, asset: str, partition: str) -> str:
        """The asset partition in the Dagster UI: the report's lineage, runs and metadata."""
        return f"{self.ui_url.rstrip('/')}/assets/{quote(asset)}?view=partitions&partition={quote(partition)}"
