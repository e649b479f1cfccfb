"""The command line honours its environment exactly as Dagster runs do (issue 14, defects 1 and 10)."""

import os
import subprocess
from pathlib import Path

from bucketlens.alerts.outbox import Outbox
from tests.alerts.conftest import CHANNELS, TOKEN, notification
from tests.alerts.fake_slack import FakeSlack
from tests.pipelines.test_cli import BIN


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=300)


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BUCKETLENS_", "SLACK_")) and k != "DAGSTER_HOME"
    }
    return {**env, "BUCKETLENS_HOME": str(home), **extra}


def test_alerts_deliver_posts_to_the_slack_named_by_the_environment(tmp_path):
    """Before the fix, the CLI handed Slack the literal text ``SLACK_API_URL`` as its base URL: nothing
    reached Slack and every queued notification ended dead (``channel_not_found``)."""
    outbox_url = f"sqlite:///{tmp_path / 'elsewhere' / 'outbox.sqlite'}"
    (tmp_path / "elsewhere").mkdir()
    box = Outbox(outbox_url)
    for i in range(3):
        box.enqueue(notification(f"cli-env-{i}"))
    box.dispose()
    with FakeSlack(TOKEN, CHANNELS) as slack:
        env = _clean_env(
            tmp_path / "home",
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_API_URL=slack.api_url,
            BUCKETLENS_OUTBOX_DB=outbox_url,
        )
        result = _run("alerts", "deliver", env=env)
        posted = [m for m, _ in slack.calls if m == "chat.postMessage"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Delivered to Slack: released 0; sent 3,")
    assert len(posted) == 3
    box = Outbox(outbox_url)
    assert box.counts() == {"pending": 0, "sending": 0, "sent": 3, "dead": 0}
    box.dispose()
    assert TOKEN not in result.stdout + result.stderr


def test_every_command_works_for_a_uid_without_a_passwd_entry(tmp_path, monkeypatch, capsys):
    """``getpass.getuser()`` ran while the parser was built, so in a container whose uid has no passwd
    entry every command failed. That condition exactly: no login variables, and ``pwd`` raising KeyError
    for the uid (what it does for an unknown one)."""
    import pwd

    from pipelines.cli import main

    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)

    def unknown_uid(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", unknown_uid)
    monkeypatch.setenv("BUCKETLENS_HOME", str(tmp_path))
    assert main(["silence", "add", "rule=rapid_upload", "--reason", "migration"]) == 0
    assert main(["silence", "list"]) == 0
    listed = capsys.readouterr().out
    assert "migration" in listed and f"(uid {os.getuid()})" in listed


def test_an_operators_dagster_yaml_is_never_overwritten(tmp_path, capsys):
    """Before, every ``bucketlens run/ui/demo`` copied the repository's file over ``$DAGSTER_HOME/dagster.yaml``."""
    from bucketlens.settings import Settings
    from pipelines.instance import REPO_ROOT, prepare_dagster_home

    settings = Settings.from_env({"BUCKETLENS_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dh")})
    prepare_dagster_home(settings)
    assert (tmp_path / "dh" / "dagster.yaml").read_text() == (REPO_ROOT / "dagster.yaml").read_text()
    own = "run_storage:\n  module: dagster_postgres.run_storage\n  class: PostgresRunStorage\n"
    (tmp_path / "dh" / "dagster.yaml").write_text(own)
    prepare_dagster_home(settings)
    assert (tmp_path / "dh" / "dagster.yaml").read_text() == own
    assert "does not set concurrency.pools.default_limit: 1" in capsys.readouterr().err
