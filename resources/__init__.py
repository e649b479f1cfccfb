"""One ConfigurableResource per outside system; ``build_resources`` wires them from the environment."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import dagster as dg

from bucketlens.settings import Settings
from resources.actions import ActionsResource
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


def _secret(name: str, resolved: str):
    """A secret (a token, a URL with a password) as an ``EnvVar`` when the variable is set, so the UI
    shows where it comes from without displaying it; the resolved default otherwise. Only Dagster
    resolves an ``EnvVar``: code outside a run uses ``resolved_resources``, which asks Dagster to."""
    return dg.EnvVar(name) if os.environ.get(name) else resolved


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """Resources for one deployment, every value from ``settings``; called when definitions load,
    never at import time."""
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
            temp_directory=str(settings.duckdb_temp_dir),
        ),
        "users_db": UsersDatabase(
            url=_secret("BUCKETLENS_USERS_DB", settings.users_db),
            query=settings.users_query,
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
        "engine": QueryEngine(
            engine=settings.engine,
            athena_database=settings.athena_database,
            athena_output_location=settings.athena_output,
            athena_workgroup=settings.athena_workgroup,
            spark_remote=settings.spark_remote,
            spark_lake=settings.spark_lake,
        ),
        "outbox": AlertOutbox(url=_secret("BUCKETLENS_OUTBOX_DB", settings.outbox_db)),
        "slack": SlackResource(
            bot_token=_secret("SLACK_BOT_TOKEN", settings.slack_bot_token.get_secret_value()),
            api_url=settings.slack_api_url,
            preview_path=str(settings.slack_preview_path),
            ui_url=settings.ui_url,
        ),
        "alert_settings": AlertSettings(ui_url=settings.ui_url),
        "actions": ActionsResource(
            url=_secret("BUCKETLENS_OUTBOX_DB", settings.outbox_db),
            endpoint=settings.actions_url,
            webhook_secret=_secret("BUCKETLENS_WEBHOOK_SECRET", settings.webhook_secret.get_secret_value()),
            smtp_url=_secret("BUCKETLENS_SMTP_URL", settings.smtp_url.get_secret_value()),
            smtp_tls=settings.smtp_tls,
            email_from=settings.email_from,
            opt_out_path=settings.email_opt_out,
            users_db=_secret("BUCKETLENS_USERS_DB", settings.users_db),
            user_email_query=settings.user_email_query,
            home=str(settings.home),
            ui_url=settings.ui_url,
        ),
        "reports": ReportSettings(reports_dir=str(settings.reports_dir), ui_url=settings.ui_url),
        "cloudwatch": CloudWatchSource(
            mode=settings.cloudwatch_mode,
            buckets=list(settings.cloudwatch_buckets),
            region=settings.aws_region,
        ),
    }


@contextmanager
def resolved_resources(settings: Settings) -> Iterator[SimpleNamespace]:
    """The deployment's resources initialized by Dagster itself (``EnvVar`` secrets resolved exactly as
    inside a run), for the CLI and the demo, which use them outside any run."""
    with warnings.catch_warnings():
        # Dagster 1.13's own build_resources reads its deprecated ``InitResourceContext.dagster_run``;
        # the notice is about Dagster's internals, not about this call.
        warnings.filterwarnings("ignore", message=".*dagster_run is deprecated", category=DeprecationWarning)
        with dg.build_resources(build_resources(settings)) as resources:
            yield resources
