"""The settings model: one definition of every variable, resolved the same way wherever it is read."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from bucketlens.settings import Settings, SettingsError, variable_names
from bucketlens.settings_table import configuration_table, describe
from resources import build_resources, resolved_resources

REPO = Path(__file__).parents[1]


def test_defaults_follow_bucketlens_home(tmp_path):
    s = Settings.from_env({"BUCKETLENS_HOME": str(tmp_path)})
    assert s.warehouse_path == tmp_path / "warehouse.duckdb"
    assert s.source == str(tmp_path / "source")
    assert s.users_db == f"sqlite:///{tmp_path / 'source' / 'users.sqlite'}"
    assert s.outbox_db == f"sqlite:///{tmp_path / 'outbox.sqlite'}"
    assert s.key_pattern == "users/{user_id}/"
    assert (s.cloudwatch_mode, s.log_lateness_hours, s.duckdb_memory_limit) == ("files", 12, "700MB")
    assert s.dagster_home == tmp_path / "dagster"


def test_bucket_source_keeps_users_db_in_home(tmp_path):
    s = Settings.from_env({"BUCKETLENS_HOME": str(tmp_path), "BUCKETLENS_SOURCE": "s3://b/p"})
    assert s.source == "s3://b/p"
    assert s.users_db == f"sqlite:///{tmp_path / 'users.sqlite'}"


def test_relative_paths_are_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({"BUCKETLENS_HOME": "h", "BUCKETLENS_SOURCE": "src"})
    assert s.home == tmp_path / "h" and s.source == str(tmp_path / "src")


def test_empty_values_count_as_unset(tmp_path):
    s = Settings.from_env({"BUCKETLENS_HOME": str(tmp_path), "BUCKETLENS_LOG_LATENESS_HOURS": ""})
    assert s.log_lateness_hours == 12


def test_comma_separated_buckets():
    s = Settings.from_env({"BUCKETLENS_CLOUDWATCH_BUCKETS": " photos , avatars,, "})
    assert s.cloudwatch_buckets == ("photos", "avatars")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "BUCKETLENS_CLOUDWATCH",
            "kafka",
            "BUCKETLENS_CLOUDWATCH: Input should be 'files' or 'api' (got 'kafka')",
        ),
        (
            "BUCKETLENS_LOG_LATENESS_HOURS",
            "-1",
            "BUCKETLENS_LOG_LATENESS_HOURS: Input should be greater than",
        ),
        (
            "BUCKETLENS_LOG_LATENESS_HOURS",
            "12h",
            "BUCKETLENS_LOG_LATENESS_HOURS: Input should be a valid integer",
        ),
        (
            "BUCKETLENS_PROVIDER",
            "gcs",
            "BUCKETLENS_PROVIDER: Input should be 'aws_s3_us_east_1' or 'cloudflare_r2'",
        ),
        ("BUCKETLENS_ENGINE", "presto", "BUCKETLENS_ENGINE: Input should be 'duckdb', 'spark' or 'athena'"),
    ],
)
def test_bad_values_are_named(name, value, message):
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert str(raised.value).startswith(message)


def test_the_readme_table_is_generated_from_the_model():
    """Each variable, its default and its meaning are written once: the README shows the model."""
    readme = (REPO / "README.md").read_text()
    assert configuration_table() in readme, "README's table is stale: paste `python -m bucketlens.settings`"
    assert len(variable_names()) == len(set(variable_names())) == configuration_table().count("\n| `")


def test_secrets_are_never_described():
    env = {
        "SLACK_BOT_TOKEN": "xoxb-very-secret",
        "BUCKETLENS_OUTBOX_DB": "postgresql+psycopg://alert:hunter2@db.internal/outbox",
    }
    rows = {name: (value, origin) for name, value, origin in describe(Settings.from_env(env), env)}
    assert rows["SLACK_BOT_TOKEN"] == ("(set, withheld)", "environment")
    assert rows["BUCKETLENS_OUTBOX_DB"] == (
        "postgresql+psycopg://alert:***@db.internal/outbox",
        "environment",
    )
    assert "hunter2" not in repr(Settings.from_env(env)) and "very-secret" not in repr(Settings.from_env(env))


def test_resources_resolve_env_vars_outside_a_run(tmp_path, monkeypatch):
    """Regression (issue 14, defect 1): ``bucketlens alerts deliver`` built its Slack resource with
    ``dg.EnvVar`` values that only Dagster resolves, so outside a run the API URL was the literal text
    ``SLACK_API_URL``. ``resolved_resources`` asks Dagster to resolve them, as inside a run."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    monkeypatch.setenv("BUCKETLENS_OUTBOX_DB", f"sqlite:///{tmp_path / 'o.sqlite'}")
    monkeypatch.setenv("BUCKETLENS_USERS_DB", f"sqlite:///{tmp_path / 'u.sqlite'}")
    monkeypatch.setenv("BUCKETLENS_HOME", str(tmp_path))
    settings = Settings.from_env()
    with resolved_resources(settings) as r:
        assert r.slack.api_url == "http://127.0.0.1:9/api/"
        assert r.slack.bot_token == "xoxb-test"
        assert r.outbox.url == f"sqlite:///{tmp_path / 'o.sqlite'}"
        assert r.users_db.url == f"sqlite:///{tmp_path / 'u.sqlite'}"
    # Inside Definitions the secrets stay EnvVars, so the UI names the variable, never the value.
    raw = build_resources(settings)
    assert isinstance(raw["slack"].bot_token, dg.EnvVar) and isinstance(raw["outbox"].url, dg.EnvVar)


def test_the_cli_reports_a_bad_variable_in_one_line(tmp_path):
    env = {**os.environ, "BUCKETLENS_HOME": str(tmp_path), "BUCKETLENS_CLOUDWATCH": "kafka"}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "config"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "bucketlens config: BUCKETLENS_CLOUDWATCH: Input should be 'files' or 'api' (got 'kafka')"
    )
