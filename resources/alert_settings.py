"""Settings of the alert engine that belong to no outside system: the Dagster UI's base URL for links.

The notify log and silences live in the outbox's database (``AlertOutbox.url``), so they need no
setting of their own.
"""

from __future__ import annotations

import dagster as dg

from bucketlens.settings import default


class AlertSettings(dg.ConfigurableResource):
    """``ui_url`` (``BUCKETLENS_UI_URL``) prefixes the "View in Dagster" link of every alert."""

    ui_url: str = default("ui_url")

    def link_base(self) -> str:
        return self.ui_url.rstrip("/")
