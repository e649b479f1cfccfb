"""One ConfigurableResource per outside system; ``build_resources`` wires them from the environment."""

from __future__ import annotations

import os

import dagster as dg

from bucketlens.settings import Settings
from resources.alert_settings import AlertSettings
from resources.cloudwatch import CloudWatchSource
from resources.engine import QueryEngine
from resources.inventory_source import BucketListing, InventoryReports
from resources.outbox import AlertOutbox
from resources.pricing import Pricing
from resources.reports import ReportSettings
from resources.rules import RulesFile
from resources.service import ServiceLayout
from resources.slack import SlackResource
from resources.source_store import SourceStore
from resources.users_db import UsersDatabase
from resources.warehouse import Warehouse


def _env_or(name: str, resolved: str):
    """An ``EnvVar`` when the variable is set, so the UI shows where a value (or secret) comes from
    without displaying it; the documented default otherwise."""
    return dg.EnvVar(name) if os.environ.get(name) else resolved


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Resources for one deployment; called when definitions load, never at import time."""
    source = SourceStore(url=settings.source, cache_dir=str(settings.cache_dir))
    inventory = (
        BucketListing(url=settings.list_bucket) if settings.list_bucket else InventoryReports(source=source)
    )
    return {
        "source": source,
        "inventory": inventory,
        "warehouse": Warehouse(
            database=str(settings.warehouse_path),
            memory_limit=settings.duckdb_memory_limit,
            temp_directory=str(settings.home / "duckdb_tmp"),
        ),
        "users_db": UsersDatabase(
            url=_env_or("BUCKETLENS_USERS_DB", settings.users_db),
            query=_env_or("BUCKETLENS_USERS_QUERY", settings.users_query),
        ),
        "service": ServiceLayout(
            key_pattern=settings.key_pattern,
            user_id_regex=settings.user_id_regex,
            log_lateness_hours=settings.log_lateness_hours,
        ),
        "pricing": Pricing(
            provider=settings.provider,
            price_book_path=settings.price_book,
            plan_prices=settings.plan_prices,
            cost_export=settings.cost_export,
            account_ids=settings.account_ids,
        ),
        "rules": RulesFile(path=settings.rules_file),
        "engine": QueryEngine.from_env(dict(os.environ)),
        "outbox": AlertOutbox(url=_env_or("BUCKETLENS_OUTBOX_DB", settings.outbox_db)),
        "slack": SlackResource(
            bot_token=_env_or("SLACK_BOT_TOKEN", ""),
            api_url=_env_or("SLACK_API_URL", settings.slack_api_url),
            preview_path=str(settings.slack_preview_path),
            ui_url=settings.ui_url,
        ),
        "alert_settings": AlertSettings(ui_url=settings.ui_url),
        "reports": ReportSettings(reports_dir=str(settings.reports_dir), ui_url=settings.ui_url),
        "cloudwatch": CloudWatchSource(
            mode=settings.cloudwatch_mode,
            buckets=list(settings.cloudwatch_buckets),
            region=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1",
        ),
    }
