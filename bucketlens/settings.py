"""Every environment variable bucketlens reads — name, type, default and meaning — in one pydantic model.

Why one model: the CLI, the demo and the Dagster definitions all build from ``Settings``, so a variable
cannot be honoured in one place and forgotten (or resolved differently) in another, and a bad value fails
at start-up naming the variable. The README's configuration table is rendered from the same fields
(``settings_table.configuration_table``; a test keeps the README equal to it).

Each field's ``validation_alias`` is the variable's name; ``json_schema_extra["shown_default"]`` is how
the README writes a default that depends on another variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from bucketlens.keys import DEFAULT_KEY_PATTERN, DEFAULT_USER_ID_REGEX
from bucketlens.settings_types import AccountIds, CommaList, HttpUrl, SmtpUrl, WebhookSecret

SECRET_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "BUCKETLENS_USERS_DB",
    "BUCKETLENS_OUTBOX_DB",
    "BUCKETLENS_WEBHOOK_SECRET",
    "BUCKETLENS_SMTP_URL",
)
OPAQUE_SECRETS = ("SLACK_BOT_TOKEN", "BUCKETLENS_WEBHOOK_SECRET")  # nothing of them is shown, not even a host


def _var(name: str, default: Any, meaning: str, shown: str | None = None) -> Any:
    """A field read from environment variable ``name``; ``shown`` is the README's way to write its default.
    Secrets (tokens, URLs that may carry a password) stay out of the model's repr."""
    extra = {"shown_default": shown} if shown is not None else None
    return Field(
        default,
        validation_alias=name,
        description=meaning,
        json_schema_extra=extra,
        repr=name not in SECRET_VARIABLES,
    )


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


class Settings(BaseModel):
    """The resolved configuration: the environment first, the documented defaults otherwise."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    home: Path = _var(
        "BUCKETLENS_HOME",
        Path("./.bucketlens"),
        "Working directory: warehouse, Dagster instance, caches, reports.",
    )
    source: str = _var(
        "BUCKETLENS_SOURCE",
        "",
        "Source root: a local directory or `s3://bucket/prefix` (read with boto3). Below it the layout is "
        "AWS's own: `inventory/`, `access-logs/`, `cloudwatch/`, `cur/`.",
        "$BUCKETLENS_HOME/source",
    )
    users_db: str = _var(
        "BUCKETLENS_USERS_DB",
        "",
        "SQLAlchemy URL of the service's user database (SQLite, PostgreSQL as "
        "`postgresql+psycopg://user:pass@host/db`, ...). For an `s3://` source the default is "
        "`$BUCKETLENS_HOME/users.sqlite`. Never shown in logs or the UI.",
        "sqlite:///$BUCKETLENS_SOURCE/users.sqlite",
    )
    users_query: str = _var(
        "BUCKETLENS_USERS_QUERY",
        "SELECT user_id, plan, quota_bytes, created_at, status FROM users",
        "Query mapping the service's schema onto those five columns.",
    )
    key_pattern: str = _var(
        "BUCKETLENS_KEY_PATTERN",
        DEFAULT_KEY_PATTERN,
        "Key prefix that names an object's owner; everything else is `_shared`.",
    )
    user_id_regex: str = _var(
        "BUCKETLENS_USER_ID_REGEX",
        DEFAULT_USER_ID_REGEX,
        "What a user id may look like inside the key pattern (must not match `/` or `..`).",
    )
    cloudwatch_mode: Literal["files", "api"] = _var(
        "BUCKETLENS_CLOUDWATCH",
        "files",
        "`files`: read `cloudwatch/<day>.jsonl` under the source root; `api`: call CloudWatch GetMetricData.",
    )
    list_bucket: str = _var(
        "BUCKETLENS_LIST_BUCKET",
        "",
        "`s3://bucket/prefix` to list with ListObjectsV2 instead of reading S3 Inventory (Cloudflare R2, "
        "MinIO; with `AWS_ENDPOINT_URL` pointing at the store). A listing shows the bucket as it is now, "
        "so only the last two days can be materialized from it.",
        "unset (S3 Inventory)",
    )
    cloudwatch_buckets: CommaList = _var(
        "BUCKETLENS_CLOUDWATCH_BUCKETS", (), "Comma-separated buckets to fetch in `api` mode.", "all buckets"
    )
    log_lateness_hours: int = Field(
        12,
        ge=0,
        le=72,
        validation_alias="BUCKETLENS_LOG_LATENESS_HOURS",
        description="How long after a day ends its access-log records may still arrive (whole hours, 0..72).",
    )
    provider: Literal["aws_s3_us_east_1", "cloudflare_r2"] = _var(
        "BUCKETLENS_PROVIDER",
        "aws_s3_us_east_1",
        "Price book section used to estimate days the cost export does not cover yet.",
    )
    price_book: str = _var(
        "BUCKETLENS_PRICE_BOOK",
        "",
        "Path of a price book JSON replacing `bucketlens/costing/price_book.json` (list prices with their "
        "source date).",
        "shipped copy",
    )
    cost_export: str = _var(
        "BUCKETLENS_COST_EXPORT",
        "",
        "Name of the cost export (`cur/<export>/`) that is the bill when several exports bill the same "
        "account and month (CUR 2.0 and FOCUS, or a copy). Unset: the one with the most complete columns, "
        "CUR 2.0 over FOCUS; exports that disagree by more than a cent are refused until one is named.",
        "unset: the documented rule",
    )
    account_ids: AccountIds = _var(
        "BUCKETLENS_ACCOUNT_IDS",
        "",
        "Comma-separated AWS account ids of the bucket owner (and its organization): a 403 from any other "
        "account is not billed (AWS, since 2024-05).",
        "unset: the cost export's usage accounts",
    )
    plan_prices: str = _var(
        "BUCKETLENS_PLAN_PRICES",
        "personal=9.99,family=29.99",
        "Monthly USD per plan, for revenue and margin. The defaults are illustrative: set your own.",
    )
    rules_file: str = _var(
        "BUCKETLENS_RULES",
        "",
        "Path of the YAML rules file: abuse, anomaly-score and service thresholds, alert rules and routing "
        "(defaults from the services' runbooks in `bucketlens/anomaly/default_rules.yaml`); a bad file "
        "fails naming the rule and field.",
        "shipped defaults",
    )
    outbox_db: str = _var(
        "BUCKETLENS_OUTBOX_DB",
        "",
        "SQLAlchemy URL of the alert outbox, notification log and silences (SQLite or PostgreSQL, never "
        "DuckDB). Never shown in logs or the UI.",
        "sqlite:///$BUCKETLENS_HOME/outbox.sqlite",
    )
    slack_bot_token: SecretStr = _var(
        "SLACK_BOT_TOKEN",
        SecretStr(""),
        "Slack bot token (`xoxb-…`). Unset: the exact Slack payloads go to "
        "`$BUCKETLENS_HOME/slack-preview.jsonl` (readable `slack-preview.md` beside it). Never logged.",
        "unset: preview file",
    )
    slack_api_url: str = _var(
        "SLACK_API_URL",
        "https://slack.com/api/",
        "Slack Web API base URL (the tests point it at a fake on 127.0.0.1).",
    )
    actions_url: HttpUrl = _var(
        "BUCKETLENS_ACTIONS_URL",
        "",
        "Endpoint of the service's API that receives response actions (signed Standard Webhooks); wins over "
        "the rules file's `actions.endpoint`. Unset there too: the signed requests go to "
        "`$BUCKETLENS_HOME/actions-preview.jsonl`.",
        "the rules file's `actions.endpoint`",
    )
    webhook_secret: WebhookSecret = _var(
        "BUCKETLENS_WEBHOOK_SECRET",
        SecretStr(""),
        "Signing secret of the response-action webhooks, `whsec_` + base64 of 24-64 random bytes (Standard "
        "Webhooks); required to send to an endpoint. Never shown in logs, metadata or the UI.",
        "unset: unsigned preview only",
    )
    smtp_url: SmtpUrl = _var(
        "BUCKETLENS_SMTP_URL",
        SecretStr(""),
        "SMTP server for user notices and operator emails: `smtp://user:password@host:587` (`smtps://` for "
        "implicit TLS). Unset: the emails are written to `$BUCKETLENS_HOME/email-preview/`. Its password is "
        "never shown.",
        "unset: preview files",
    )
    smtp_tls: Literal["starttls", "ssl", "none"] = _var(
        "BUCKETLENS_SMTP_TLS",
        "starttls",
        "`starttls` (upgrade a plain connection, port 587), `ssl` (implicit TLS, 465) or `none` (a local "
        "relay only).",
    )
    email_from: str = _var(
        "BUCKETLENS_EMAIL_FROM", "bucketlens@localhost", "Sender address of the emails (`From:`)."
    )
    email_opt_out: str = _var(
        "BUCKETLENS_EMAIL_OPT_OUT",
        "",
        "File of user ids or addresses (one a line, `#` comments) that get no user notices; read at each "
        "send.",
        "$BUCKETLENS_HOME/email-opt-out.txt",
    )
    user_email_query: str = _var(
        "BUCKETLENS_USER_EMAIL_QUERY",
        "SELECT email FROM users WHERE user_id = :user_id",
        "Query on the users database giving a user's email address (`:user_id` is bound), run when a notice "
        "is sent; the address is never stored.",
    )
    ui_url: str = _var(
        "BUCKETLENS_UI_URL",
        "http://127.0.0.1:3000",
        "Dagster UI base URL for links in Slack messages and reports.",
    )
    engine: Literal["duckdb", "spark", "athena"] = _var(
        "BUCKETLENS_ENGINE",
        "duckdb",
        "`duckdb` (the warehouse), `spark` or `athena`: the engine of the heavy steps, the per-user storage "
        "and request aggregates (see [docs/engines.md](docs/engines.md)).",
    )
    spark_remote: str = _var(
        "BUCKETLENS_SPARK_REMOTE",
        "",
        "Spark Connect URL (`sc://host:15002`) of the cluster the Spark engine uses; unset: a local session "
        "(`local[2]`, needs Java 17).",
        "unset: local Spark",
    )
    spark_lake: str = _var(
        "BUCKETLENS_SPARK_LAKE",
        "",
        "Directory the Spark engine writes the window's raw tables to as Parquet, hive-partitioned by day "
        "(a path the cluster reads too when remote).",
        "$BUCKETLENS_HOME/lake",
    )
    athena_database: str = _var(
        "BUCKETLENS_ATHENA_DATABASE", "raw", "Glue database with the contract's raw tables (Athena engine)."
    )
    athena_output: str = _var(
        "BUCKETLENS_ATHENA_OUTPUT",
        "",
        "`s3://bucket/prefix/` for Athena query results.",
        "required for athena",
    )
    athena_workgroup: str = _var("BUCKETLENS_ATHENA_WORKGROUP", "primary", "Athena workgroup.")
    duckdb_memory_limit: str = _var(
        "BUCKETLENS_DUCKDB_MEMORY_LIMIT",
        "700MB",
        "DuckDB memory limit; larger work spills to `$BUCKETLENS_HOME/duckdb_tmp`. Unset, `bucketlens demo` "
        "uses `2GB` on a machine with 4 GB or more (its month fits; see docs/performance.md).",
    )
    log_format: Literal["text", "json"] = _var(
        "BUCKETLENS_LOG_FORMAT",
        "text",
        "`text`: readable lines; `json`: one JSON object per line (event, asset, day, counts) for log "
        "aggregators. The same records reach Dagster's event log (the UI) either way.",
    )
    aws_endpoint_url: str = _var(
        "AWS_ENDPOINT_URL",
        "",
        "Point boto3 at an S3/CloudWatch-compatible endpoint (moto, MinIO, R2); boto3 reads it itself.",
        "AWS",
    )
    aws_region: str = _var(
        "AWS_DEFAULT_REGION",
        "us-east-1",
        "Region for boto3 clients; credentials come from the usual boto3 chain.",
    )
    dagster_home_override: str = _var(
        "DAGSTER_HOME",
        "",
        "Dagster instance (runs, event log); `bucketlens ui/run/demo` set it and put the repository's "
        "`dagster.yaml` there unless one exists.",
        "$BUCKETLENS_HOME/dagster",
    )

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        """Relative paths become absolute and the defaults that follow another variable are filled in,
        so every consumer sees the same values (a frozen model: set once, here)."""
        home = self.home.expanduser().resolve()
        source = self.source or str(home / "source")
        if not source.startswith("s3://"):
            source = str(Path(source).expanduser().resolve())
        resolved = {
            "home": home,
            "source": source,
            "users_db": self.users_db or default_users_db(source, home),
            "outbox_db": self.outbox_db or f"sqlite:///{home / 'outbox.sqlite'}",
            "email_opt_out": self.email_opt_out or str(home / "email-opt-out.txt"),
            "ui_url": self.ui_url.rstrip("/"),
            "spark_lake": self.spark_lake or str(home / "lake"),
        }
        for name, value in resolved.items():
            object.__setattr__(self, name, value)
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default: this process's environment); empty values count as unset."""
        env = os.environ if env is None else env
        given = {name: env[name] for name in variable_names() if env.get(name, "") != ""}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise SettingsError(_explain(exc)) from None

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        return Path(self.dagster_home_override) if self.dagster_home_override else self.home / "dagster"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def slack_preview_path(self) -> Path:
        return self.home / "slack-preview.jsonl"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def duckdb_temp_dir(self) -> Path:
        return self.home / "duckdb_tmp"

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token.get_secret_value())

    @property
    def actions_preview_path(self) -> Path:
        return self.home / "actions-preview.jsonl"

    @property
    def email_preview_dir(self) -> Path:
        return self.home / "email-preview"


def default(attribute: str) -> Any:
    """The documented default of a setting, for resource fields: each default is written once, here."""
    return Settings.model_fields[attribute].default


def variable_names() -> list[str]:
    """Every environment variable, in the order the README lists them."""
    return [field.validation_alias for field in Settings.model_fields.values()]


def _explain(exc: ValidationError) -> str:
    """One line per bad variable: its name, what is wrong, and the value given (secrets withheld)."""
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "configuration"
        shown = "<withheld>" if name in SECRET_VARIABLES else repr(error.get("input"))
        lines.append(f"{name}: {error['msg']} (got {shown})")
    return "; ".join(lines)


def default_users_db(source: str, home: Path) -> str:
    """The demo keeps users.sqlite beside the generated files; a bucket source keeps it in the home."""
    folder = home if source.startswith("s3://") else Path(source)
    return f"sqlite:///{folder / 'users.sqlite'}"


if __name__ == "__main__":  # `python -m bucketlens.settings` prints the README's table
    from bucketlens.settings_table import configuration_table

    print(configuration_table())
