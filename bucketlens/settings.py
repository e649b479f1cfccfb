"""Every environment variable bucketlens reads, with its default and meaning, in one place.

The CLI, the Dagster definitions and the README's configuration reference all read this table, so a
variable cannot be honoured in one place and forgotten in another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "BUCKETLENS_HOME", "./.bucketlens", "Working directory: warehouse, Dagster instance, caches, reports."
    ),
    Variable(
        "BUCKETLENS_SOURCE",
        "$BUCKETLENS_HOME/source",
        "Source root: a local directory or `s3://bucket/prefix` (read with boto3). Below it the layout is "
        "AWS's own: `inventory/`, `access-logs/`, `cloudwatch/`, `cur/`.",
    ),
    Variable(
        "BUCKETLENS_USERS_DB",
        "sqlite:///$BUCKETLENS_SOURCE/users.sqlite (local source)",
        "SQLAlchemy URL of the service's user database (SQLite, PostgreSQL, ...).",
    ),
    Variable(
        "BUCKETLENS_USERS_QUERY",
        "SELECT user_id, plan, quota_bytes, created_at, status FROM users",
        "Query mapping the service's schema onto those five columns.",
    ),
    Variable("BUCKETLENS_KEY_PATTERN", "users/{user_id}/", "Key prefix that names an object's owner."),
    Variable(
        "BUCKETLENS_USER_ID_REGEX", "[A-Za-z0-9_-]+", "What a user id may look like inside the key pattern."
    ),
    Variable(
        "BUCKETLENS_CLOUDWATCH",
        "files",
        "`files`: read `cloudwatch/<day>.jsonl` under the source root; `api`: call CloudWatch GetMetricData.",
    ),
    Variable(
        "BUCKETLENS_LIST_BUCKET",
        "(unset: S3 Inventory)",
        "`s3://bucket/prefix` to list with ListObjectsV2 instead of reading S3 Inventory (R2, MinIO).",
    ),
    Variable("BUCKETLENS_CLOUDWATCH_BUCKETS", "(all)", "Comma-separated buckets to fetch in `api` mode."),
    Variable(
        "BUCKETLENS_LOG_LATENESS_HOURS",
        "12",
        "How long after a day ends its access-log records may still arrive (log objects of the next day read).",
    ),
    Variable(
        "BUCKETLENS_PROVIDER",
        "aws_s3_us_east_1",
        "Price book section for estimates: `aws_s3_us_east_1` or `cloudflare_r2`.",
    ),
    Variable(
        "BUCKETLENS_PRICE_BOOK", "(shipped copy)", "Path of a price book JSON replacing the shipped one."
    ),
    Variable(
        "BUCKETLENS_COST_EXPORT",
        "(unset: the documented rule)",
        "Name of the cost export (`cur/<export>/`) that is the bill when several exports bill the same account "
        "and month (CUR 2.0 and FOCUS, or a copy). Unset: the one with the most complete columns, CUR 2.0 over "
        "FOCUS; exports that disagree by more than a cent are refused until one is named.",
    ),
    Variable(
        "BUCKETLENS_ACCOUNT_IDS",
        "(unset: the cost export's usage accounts)",
        "Comma-separated AWS account ids of the bucket owner (and its organization): a 403 from any other "
        "account is not billed (AWS, since 2024-05).",
    ),
    Variable(
        "BUCKETLENS_PLAN_PRICES",
        "personal=9.99,family=29.99",
        "Monthly USD per plan, for revenue and margin (illustrative defaults: set your own).",
    ),
    Variable(
        "BUCKETLENS_RULES",
        "(shipped defaults)",
        "Path of the YAML rules file (abuse, anomaly and service thresholds); `bucketlens/anomaly/default_rules.yaml` by default.",
    ),
    Variable(
        "BUCKETLENS_OUTBOX_DB",
        "sqlite:///$BUCKETLENS_HOME/outbox.sqlite",
        "SQLAlchemy URL of the alert outbox, alert notification log and silences (SQLite or PostgreSQL; never DuckDB).",
    ),
    Variable(
        "SLACK_BOT_TOKEN",
        "(unset: preview file)",
        "Slack bot token (`xoxb-…`). Unset: alerts are written as the exact Slack payloads to `$BUCKETLENS_HOME/slack-preview.jsonl`.",
    ),
    Variable(
        "SLACK_API_URL", "https://slack.com/api/", "Slack Web API base URL (tests point it at a local fake)."
    ),
    Variable(
        "BUCKETLENS_UI_URL",
        "http://127.0.0.1:3000",
        "Base URL of the Dagster UI, for the links in Slack messages and reports.",
    ),
    Variable(
        "BUCKETLENS_ENGINE",
        "duckdb",
        "`duckdb` (the warehouse) or `athena`: the engine for the set-based SQL at scale (docs/performance.md).",
    ),
    Variable(
        "BUCKETLENS_ATHENA_DATABASE",
        "raw",
        "Glue database holding the contract's raw tables (Athena engine).",
    ),
    Variable(
        "BUCKETLENS_ATHENA_OUTPUT", "(required for athena)", "`s3://bucket/prefix/` for Athena query results."
    ),
    Variable("BUCKETLENS_ATHENA_WORKGROUP", "primary", "Athena workgroup."),
    Variable("BUCKETLENS_DUCKDB_MEMORY_LIMIT", "700MB", "DuckDB memory limit; larger work spills to disk."),
    Variable(
        "AWS_ENDPOINT_URL", "(AWS)", "Point boto3 at an S3/CloudWatch-compatible endpoint (moto, MinIO, R2)."
    ),
    Variable("AWS_DEFAULT_REGION", "us-east-1", "Region for boto3 clients."),
    Variable(
        "DAGSTER_HOME",
        "$BUCKETLENS_HOME/dagster",
        "Dagster instance (runs, event log); `bucketlens ui/run/demo` set it and copy `dagster.yaml` there.",
    ),
)


def _defaults() -> dict[str, str]:
    return {v.name: v.default for v in VARIABLES}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration: environment first, documented defaults otherwise."""

    home: Path
    source: str
    users_db: str
    users_query: str
    key_pattern: str
    user_id_regex: str
    cloudwatch_mode: str
    cloudwatch_buckets: tuple[str, ...]
    log_lateness_hours: int
    duckdb_memory_limit: str
    provider: str = "aws_s3_us_east_1"
    price_book: str = ""
    plan_prices: str = "personal=9.99,family=29.99"
    list_bucket: str = ""
    rules_file: str = ""
    outbox_db: str = ""
    slack_bot_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    ui_url: str = "http://127.0.0.1:3000"
    cost_export: str = ""
    account_ids: str = ""

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster")

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def slack_preview_path(self) -> Path:
        return self.home / "slack-preview.jsonl"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        defaults = _defaults()
        home = Path(env.get("BUCKETLENS_HOME") or defaults["BUCKETLENS_HOME"]).resolve()
        source = env.get("BUCKETLENS_SOURCE") or str(home / "source")
        if not source.startswith("s3://"):
            source = str(Path(source).resolve())
        users_db = env.get("BUCKETLENS_USERS_DB") or default_users_db(source, home)
        buckets = tuple(
            b.strip() for b in env.get("BUCKETLENS_CLOUDWATCH_BUCKETS", "").split(",") if b.strip()
        )
        mode = env.get("BUCKETLENS_CLOUDWATCH") or "files"
        if mode not in ("files", "api"):
            raise ValueError(f"BUCKETLENS_CLOUDWATCH must be 'files' or 'api', not {mode!r}")
        lateness = env.get("BUCKETLENS_LOG_LATENESS_HOURS") or defaults["BUCKETLENS_LOG_LATENESS_HOURS"]
        if not lateness.isdigit() or not 0 <= int(lateness) <= 72:
            raise ValueError(
                f"BUCKETLENS_LOG_LATENESS_HOURS must be a whole number of hours 0..72, not {lateness!r}"
            )
        accounts = [a.strip() for a in env.get("BUCKETLENS_ACCOUNT_IDS", "").split(",") if a.strip()]
        bad = [a for a in accounts if not (len(a) == 12 and a.isdigit())]
        if bad:
            raise ValueError(f"BUCKETLENS_ACCOUNT_IDS entry {bad[0]!r} is not a 12-digit AWS account id")
        return cls(
            home=home,
            source=source,
            users_db=users_db,
            users_query=env.get("BUCKETLENS_USERS_QUERY") or defaults["BUCKETLENS_USERS_QUERY"],
            key_pattern=env.get("BUCKETLENS_KEY_PATTERN") or defaults["BUCKETLENS_KEY_PATTERN"],
            user_id_regex=env.get("BUCKETLENS_USER_ID_REGEX") or defaults["BUCKETLENS_USER_ID_REGEX"],
            cloudwatch_mode=mode,
            cloudwatch_buckets=buckets,
            log_lateness_hours=int(lateness),
            duckdb_memory_limit=env.get("BUCKETLENS_DUCKDB_MEMORY_LIMIT")
            or defaults["BUCKETLENS_DUCKDB_MEMORY_LIMIT"],
            provider=env.get("BUCKETLENS_PROVIDER") or defaults["BUCKETLENS_PROVIDER"],
            price_book=env.get("BUCKETLENS_PRICE_BOOK", ""),
            plan_prices=env.get("BUCKETLENS_PLAN_PRICES") or defaults["BUCKETLENS_PLAN_PRICES"],
            list_bucket=env.get("BUCKETLENS_LIST_BUCKET", ""),
            rules_file=env.get("BUCKETLENS_RULES", ""),
            outbox_db=env.get("BUCKETLENS_OUTBOX_DB") or f"sqlite:///{home / 'outbox.sqlite'}",
            slack_bot_token=env.get("SLACK_BOT_TOKEN", ""),
            slack_api_url=env.get("SLACK_API_URL") or defaults["SLACK_API_URL"],
            ui_url=(env.get("BUCKETLENS_UI_URL") or defaults["BUCKETLENS_UI_URL"]).rstrip("/"),
            cost_export=env.get("BUCKETLENS_COST_EXPORT", "").strip(),
            account_ids=",".join(accounts),
        )


def default_users_db(source: str, home: Path) -> str:
    """The demo keeps users.sqlite beside the generated files; a bucket source keeps it in the home."""
    folder = home if source.startswith("s3://") else Path(source)
    return f"sqlite:///{folder / 'users.sqlite'}"
