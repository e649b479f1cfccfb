"""The alerting sections of the rules file: defaults of design §7/§8, and errors that name rule and field."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from bucketlens.alerts.rules import check_rules_file, load_alerting
from bucketlens.anomaly.rules import DEFAULT_RULES, RulesError, load_rules

USER_PATTERNS = {
    "rapid_upload", "daily_upload_volume", "duplicate_data", "non_photo_content", "sharing_abuse",
    "failed_access_storm", "large_object", "over_plan_limit", "quota_80_percent", "large_account", "monthly_cost",
    "large_retrieval", "cdn_hotlinking",
}  # fmt: skip
SERVICE_METRICS = {
    "storage_total", "storage_growth", "request_rate", "error_rate", "latency", "daily_cost", "cost_spike",
    "monthly_cost", "month_over_month_cost", "cdn_hit_ratio_drop", "cdn_error_rate", "cdn_bandwidth",
}  # fmt: skip


@pytest.fixture(scope="module")
def base():
    return load_rules()


def _with(base, mutate):
    """The default rules with the alerting sections changed by ``mutate(alerting_dict)``."""
    alerting = copy.deepcopy(base.alerting)
    mutate(alerting)
    return dataclasses.replace(base, alerting=alerting)


def test_defaults_cover_every_user_pattern_service_anomaly_and_info_rule(base):
    alerting = load_alerting(base)
    flags = {r.where["pattern"][0] for r in alerting.rules if r.source == "anomaly.abuse_flags"}
    service = {r.where["metric"][0] for r in alerting.rules if r.source == "anomaly.service_anomalies"}
    assert flags == USER_PATTERNS
    assert service == SERVICE_METRICS
    scores = {r.name: r.severity for r in alerting.rules if r.source == "anomaly.user_anomaly_scores"}
    assert scores == {"anomaly_score": "info", "anomaly_score_strong": "warning"}
    assert alerting.rule("new_signups").on_day == "created_at"
    large_retrieval = alerting.rule("large_retrieval")
    assert (large_retrieval.severity, large_retrieval.send_resolved) == ("from_source", False)
    assert base.abuse.large_retrieval.bytes_per_day == 10 * 1024**3  # info: 10 GB restored in a day
    assert alerting.rule("rapid_upload").labels == ("user_id",)
    assert alerting.rule("error_rate").labels == ("bucket", "metric")


def test_default_routing_is_the_runbook(base):
    r = load_alerting(base).routing
    assert r.channels == {
        "critical": "#storage-critical",
        "warning": "#storage-alerts",
        "info": "#storage-info",
    }
    assert (r.group_interval, r.repeat_interval, r.escalate_after) == (300, 4 * 3600, 2 * 3600)
    assert (r.max_per_hour, r.max_alert_age, r.group_by, r.oncall_group) == (5, 14 * 86400, ("rule",), "")
    (inhibit,) = r.inhibit
    assert inhibit.source == {"severity": ("critical",)} and inhibit.equal == ("subject",)
    assert inhibit.target == {"severity": ("warning", "info")}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda a: a["alerts"]["rules"][3].update(severity="loud"),
            "alerts.rules[3] (non_photo_content).severity: must be one of info, warning, critical, from_source",
        ),
        (lambda a: a["alerts"]["rules"][0].update(treshold=5), "alerts.rules[0] (rapid_upload): unknown field(s) treshold"),
        (lambda a: a["alerts"]["rules"][1].update(op=">"), "alerts.rules[1] (daily_upload_volume).op: op and threshold go together"),
        (lambda a: a["alerts"]["rules"][2].update(labels=[]), "alerts.rules[2] (duplicate_data).labels: must be a non-empty list"),
        (lambda a: a["alerts"]["rules"][4].update(subject="user {user_id:weird}"), "alerts.rules[4] (sharing_abuse).subject: format 'weird'"),
        (lambda a: a["alerts"]["rules"][5].update(source="abuse_flags"), "alerts.rules[5] (failed_access_storm).source: must be a schema.table"),
        (lambda a: a["alerts"]["rules"][6].update({"for": "36h"}), "alerts.rules[6] (large_object).for: must be whole days"),
        (lambda a: a["alerts"]["rules"][7].update(name="rapid_upload"), "alerts.rules[7] (rapid_upload).name: duplicate rule name"),
        (lambda a: a["routing"].update(group_interval="5 minutes"), "routing.group_interval: must be a duration like"),
        (lambda a: a["routing"].update(max_per_hour=0), "routing.max_per_hour: must be a positive whole number"),
        (lambda a: a["routing"]["channels"].update(urgent="#x"), "routing.channels: must be one of info, warning, critical"),
    ],
)  # fmt: skip
def test_a_bad_rule_or_routing_names_where_it_is(base, mutate, message):
    with pytest.raises(RulesError) as info:
        load_alerting(_with(base, mutate))
    assert str(info.value).startswith(message), str(info.value)


def test_for_accepts_days(base):
    def two_days(a):
        a["alerts"]["rules"][0]["for"] = "2d"

    assert load_alerting(_with(base, two_days)).rule("rapid_upload").for_days == 2


def test_check_rules_file_reports_rules_or_the_error(tmp_path):
    assert (
        check_rules_file(DEFAULT_RULES)[1] == "35 alert rules (2 critical, 25 from_source, 6 info, 2 warning)"
    )
    document = yaml.safe_load(DEFAULT_RULES.read_text())
    document["routing"]["repeat_interval"] = "soon"
    bad = tmp_path / "rules.yaml"
    bad.write_text(yaml.safe_dump(document))
    (line,) = check_rules_file(bad)
    assert line == 'error: routing.repeat_interval: must be a duration like "5m", "4h" or "14d", got "soon"'
