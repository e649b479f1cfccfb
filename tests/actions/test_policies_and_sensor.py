"""The ``actions`` section of the rules file (errors that name the field, what `rules check` prints), the
action delivery sensor's tick, and the secret kept out of every repr and message."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
import yaml

from bucketlens.alerts.rules import check_rules_file
from bucketlens.anomaly.rules import DEFAULT_RULES
from resources.actions import ActionsConfigError, ActionsResource
from resources.rules import RulesFile
from sensors.action_delivery import action_delivery_sensor, action_tick
from tests.actions.conftest import CHANNELS, SECRET, START, alert, section


def rules_file(tmp_path, actions: dict):
    document = yaml.safe_load(DEFAULT_RULES.read_text())
    document["actions"] = actions
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_every_mistake_in_the_actions_section_is_one_line_naming_its_field(tmp_path):
    path = rules_file(tmp_path, {
        "endpoint": "ftp://app.internal/hook",
        "policies": [
            {"rule": "rapid_upload", "action": "ban", "mode": "sometimes"},
            {"rule": "quota_80_percent", "action": "notify_user", "duration": "2h"},
            {"rule": "rapid_upload", "action": "throttle", "colour": "red"},
        ],
        "email": {"operators": {"critical": ["not-an-address"]}},
    })  # fmt: skip
    assert check_rules_file(path) == [
        'error: actions.endpoint: must be an http(s):// URL, got "ftp://app.internal/hook"',
        'error: actions.policies[0].action: must be one of throttle, block_uploads, notify_user, review, got "ban"',
        'error: actions.policies[0].mode: must be one of dry_run, approve, auto, got "sometimes"',
        "error: actions.policies[1].duration: only throttle and block_uploads are lifted; notify_user has nothing to lift",
        "error: actions.policies[2]: unknown field(s) colour",
        'error: actions.email.operators.critical: must be an email address like oncall@example.com, got ["not-an-address"]',
    ]


def test_a_policy_must_name_an_alert_rule_about_a_user(tmp_path):
    path = rules_file(tmp_path, {"policies": [
        {"rule": "rapid_uplod", "action": "block_uploads"}, {"rule": "daily_cost", "action": "throttle"},
    ]})  # fmt: skip
    assert check_rules_file(path) == [
        'error: actions.policies[0].rule: must name an alert rule of alerts.rules (did you mean rapid_upload?), got "rapid_uplod"',
        'error: actions.policies[1].rule: alert rule daily_cost has no user_id label, so there is no user to act on, got "daily_cost"',
    ]


def test_rules_check_describes_the_policies(tmp_path):
    path = rules_file(tmp_path, {"endpoint": "https://app.example.internal/hooks/bucketlens", "policies": [
        {"rule": "rapid_upload", "action": "block_uploads", "mode": "auto", "duration": "24h"},
        {"rule": "failed_access_storm", "action": "throttle", "mode": "approve", "lift_on_resolve": True},
    ]})  # fmt: skip
    assert check_rules_file(path)[4:] == [
        "actions: 2 policies → https://app.example.internal/hooks/bucketlens",
        "  rapid_upload → block_uploads (auto, lifted after 1d)",
        "  failed_access_storm → throttle (approve, lifted when the alert resolves)",
    ]


def resource(tmp_path, **values) -> ActionsResource:
    return ActionsResource(url=f"sqlite:///{tmp_path / 'outbox.sqlite'}", home=str(tmp_path), **values)


def test_an_endpoint_without_a_secret_skips_the_tick_in_one_line_and_keeps_the_webhooks(tmp_path):
    actions = resource(tmp_path, endpoint="https://app.example.internal/hooks/bucketlens?token=abc")
    store = actions.store()
    auto = section(
        max_data_age="30d", policies=[{"rule": "rapid_upload", "action": "block_uploads", "mode": "auto"}]
    )
    store.plan([alert()], auto, CHANNELS, START)
    with pytest.raises(ActionsConfigError) as caught:
        actions.webhook_sender(auto)
    assert "token=abc" not in str(caught.value)
    with dg.build_sensor_context(resources={"actions": actions, "rules": RulesFile()}) as context:
        skipped = action_delivery_sensor(context)
    assert skipped.skip_message == (
        "not delivered: BUCKETLENS_WEBHOOK_SECRET is not set: actions for https://app.example.internal/hooks/"
        "bucketlens are not sent unsigned (set it to the whsec_… secret the receiving service verifies with); "
        "they wait in the outbox"
    )
    assert store.outbox.counts()["pending"] == 1
    store.dispose()


def test_the_sensor_expires_overdue_approvals_and_says_what_it_did(tmp_path):
    path = rules_file(tmp_path, {"max_data_age": "30d", "approval_timeout": "1h", "policies": [
        {"rule": "failed_access_storm", "action": "throttle", "mode": "approve"},
    ]})  # fmt: skip
    actions, rules = resource(tmp_path, webhook_secret=SECRET), RulesFile(path=str(path))
    store = actions.store()
    store.plan([alert(rule="failed_access_storm")], rules.alerting().actions, CHANNELS, START)
    report = action_tick(actions, rules, now=START + timedelta(hours=2))
    assert report.line() == (
        "expired 1; sent 0, retried 0, dead 0, skipped 0, waiting 0; action outbox: empty"
    )
    assert [r.state for r in store.requests()] == ["expired"]
    store.dispose()


def test_the_secret_is_withheld_from_reprs(tmp_path):
    actions = resource(tmp_path, webhook_secret=SECRET, smtp_url="smtp://mailer:pa55word@mx:587")
    shown = repr(actions)
    assert SECRET not in shown and "pa55word" not in shown and shown.count("<redacted>") >= 3
    sender = actions.webhook_sender(section(endpoint="https://app.example.internal/hook?token=abc"))
    assert "token=abc" not in repr(sender) and SECRET[6:] not in repr(sender)
