"""The alerting sensors against a fake Slack on 127.0.0.1: a failed run and a stale source each post one
critical message through the outbox; a source that resumes edits that message; ticks never repeat."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from resources.outbox import AlertOutbox
from resources.rules import RulesFile
from resources.slack import SlackResource
from resources.source_store import SourceStore
from sensors.alert_delivery import deliver_tick
from sensors.run_failure import run_failure_alert_sensor
from sensors.source_freshness import source_freshness_sensor
from tests.alerts.fake_slack import FakeSlack

TOKEN = "xoxb-sensor-test-token"
CHANNELS = {"C0CRIT": "storage-critical", "C0WARN": "storage-alerts", "C0INFO": "storage-info"}


@pytest.fixture
def fake_slack():
    with FakeSlack(TOKEN, CHANNELS) as fake:
        yield fake


@pytest.fixture
def resources(tmp_path, fake_slack):
    return {
        "outbox": AlertOutbox(url=f"sqlite:///{tmp_path / 'outbox.sqlite'}"),
        "slack": SlackResource(
            bot_token=TOKEN,
            api_url=fake_slack.api_url,
            preview_path=str(tmp_path / "p.jsonl"),
            ui_url="http://ui",
        ),
        "rules": RulesFile(),
    }


def _tick(resources) -> int:
    return deliver_tick(resources["outbox"], resources["slack"], resources["rules"]).delivery.sent


@dg.op
def _explode() -> None:
    raise RuntimeError("disk full while writing users/<!channel>/x")


@dg.job
def _failing_job():
    _explode()


def test_a_failed_run_posts_one_critical_message(resources, fake_slack):
    with dg.instance_for_test() as instance:
        result = _failing_job.execute_in_process(instance=instance, raise_on_error=False)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        ctx = dg.build_run_status_sensor_context(
            sensor_name=run_failure_alert_sensor.name,
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources=resources,
        ).for_run_failure()
        run_failure_alert_sensor(ctx)
        run_failure_alert_sensor(ctx)  # the same failure seen twice: still one message
    assert _tick(resources) == 1 and _tick(resources) == 0
    (message,) = fake_slack.state.messages["C0CRIT"]
    assert message["metadata"]["event_payload"]["identity"] == f"run_failure:{result.run_id}"
    assert "_failing_job" in message["text"] and "<!channel>" not in message["text"]


def _manifest(root, day: datetime) -> None:
    folder = root / "inventory" / "photos" / "daily" / day.strftime("%Y-%m-%dT%H-%MZ")
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")


def test_a_stale_inventory_alerts_once_and_its_return_edits_the_message(tmp_path, resources, fake_slack):
    source = SourceStore(url=str(tmp_path / "src"), cache_dir=str(tmp_path / "cache"))
    now = datetime.now(UTC)
    _manifest(tmp_path / "src", now - timedelta(hours=50))
    res = {**resources, "source": source}
    first = source_freshness_sensor(dg.build_sensor_context(resources=res))
    assert first.cursor.startswith("stale:inventory:")
    again = source_freshness_sensor(dg.build_sensor_context(resources=res, cursor=first.cursor))
    assert isinstance(again, dg.SkipReason)  # still stale, already alerted
    assert _tick(resources) == 1
    (stale,) = fake_slack.state.messages["C0CRIT"]
    assert "No S3 Inventory report for 50 h" in stale["text"]

    _manifest(tmp_path / "src", now - timedelta(hours=2))
    back = source_freshness_sensor(dg.build_sensor_context(resources=res, cursor=first.cursor))
    assert back.cursor == ""
    _tick(resources)
    assert "chat.update" in fake_slack.methods()  # the original message now says it is resolved
    updated = [args for method, args in fake_slack.calls if method == "chat.update"][-1]
    assert updated["ts"] == stale["ts"]
    fresh = source_freshness_sensor(dg.build_sensor_context(resources=res, cursor=back.cursor))
    assert isinstance(fresh, dg.SkipReason) and "within" in fresh.skip_message


def test_a_missing_channel_warns_in_the_tick_and_alerts_the_critical_channel(resources, fake_slack):
    """No fallback channel configured: the meta-alert goes to the critical channel; the sensor's skip
    reason (what the UI shows for the tick) and its log say which channel and what to run."""
    from bucketlens.alerts.outbox import Outbox
    from sensors.alert_delivery import alert_delivery_sensor
    from tests.alerts.conftest import notification

    box = Outbox(resources["outbox"].url)
    for i in range(2):
        box.enqueue(notification(f"m{i}", channel="#storage-new"))
    box.dispose()

    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=resources)
        result = alert_delivery_sensor(context)

    assert (
        "Slack channel #storage-new is missing or the bot is not in it: 2 notification(s)"
        in result.skip_message
    )
    assert "bucketlens alerts retry-dead --channel storage-new" in result.skip_message
    (notice,) = fake_slack.state.messages["C0CRIT"]
    assert notice["metadata"]["event_payload"]["identity"].startswith("channel_missing:#storage-new:")
    assert "2 notification(s) routed to #storage-new could not be posted" in notice["text"]
