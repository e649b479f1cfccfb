from pathlib import Path

import pytest

from bucketlens.settings import VARIABLES, Settings


def test_defaults_follow_bucketlens_home(tmp_path):
    s = Settings.from_env({"BUCKETLENS_HOME": str(tmp_path)})
    assert s.warehouse_path == tmp_path / "warehouse.duckdb"
    assert s.source == str(tmp_path / "source")
    assert s.users_db == f"sqlite:///{tmp_path / 'source' / 'users.sqlite'}"
    assert s.key_pattern == "users/{user_id}/"
    assert (s.cloudwatch_mode, s.log_lateness_hours, s.duckdb_memory_limit) == ("files", 12, "700MB")


def test_bucket_source_keeps_users_db_in_home(tmp_path):
    s = Settings.from_env({"BUCKETLENS_HOME": str(tmp_path), "BUCKETLENS_SOURCE": "s3://b/p"})
    assert s.source == "s3://b/p"
    assert s.users_db == f"sqlite:///{tmp_path / 'users.sqlite'}"


def test_relative_paths_are_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({"BUCKETLENS_HOME": "h", "BUCKETLENS_SOURCE": "src"})
    assert s.home == tmp_path / "h" and s.source == str(tmp_path / "src")


@pytest.mark.parametrize(
    ("name", "value"), [("BUCKETLENS_CLOUDWATCH", "kafka"), ("BUCKETLENS_LOG_LATENESS_HOURS", "-1")]
)
def test_bad_values_are_named(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_every_variable_is_documented_in_the_readme():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [v.name for v in VARIABLES if f"`{v.name}`" not in readme]
    assert missing == []
