"""The rules loader: defaults match design §7; every mistake names the rule and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from bucketlens.anomaly.rules import DEFAULT_RULES, RulesError, load_rules, parse_rules

GIB, TIB = 1024**3, 1024**4


def _doc() -> dict:
    return yaml.safe_load(DEFAULT_RULES.read_text())


def test_default_rules_carry_the_design_thresholds():
    r = load_rules()
    assert r.abuse.rapid_upload.bytes_per_hour == 100 * GIB
    assert r.abuse.daily_upload_volume.bytes_per_day == 100 * GIB
    assert r.abuse.failed_access_storm.max_denied_requests == 10
    assert r.abuse.large_object.object_bytes == GIB
    assert r.abuse.over_plan_limit.plan_limits == {"personal": 2 * TIB, "family": 10 * TIB}
    assert r.abuse.quota_80_percent.percent == 80
    assert r.service.cost_spike.ratio == 0.5
    assert (
        r.service.growth_bytes_per_day.warning == TIB and r.service.growth_bytes_per_day.critical == 2 * TIB
    )
    assert r.service.requests_per_hour.warning == 1_000_000
    assert r.service.error_rate.critical == 0.05 and r.service.latency_ms.warning == 2000


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["abuse", "rapid_upload", "bytes_per_hour"],
            "lots",
            "abuse.rapid_upload.bytes_per_hour: must be a positive number of bytes",
        ),
        (
            ["abuse", "rapid_upload", "bytes_per_hour"],
            -5,
            "abuse.rapid_upload.bytes_per_hour: must be a positive",
        ),
        (["abuse", "sharing_abuse", "severity"], "loud", "abuse.sharing_abuse.severity: must be one of"),
        (
            ["abuse", "sharing_abuse", "max_distinct_ips"],
            2.5,
            "abuse.sharing_abuse.max_distinct_ips: must be a positive whole",
        ),
        (
            ["abuse", "quota_80_percent", "percent"],
            180,
            "abuse.quota_80_percent.percent: must be a percentage",
        ),
        (["service", "error_rate", "critical"], 5, "service.error_rate.critical: must be a fraction"),
        (
            ["service", "growth_bytes_per_day", "critical"],
            "0.5 TB",
            "service.growth_bytes_per_day.critical: must not be below",
        ),
        (
            ["scores", "metrics", "cost_usd", "floor"],
            "cheap",
            "scores.metrics.cost_usd.floor: must be a positive number",
        ),
        (
            ["abuse", "non_photo_content", "media_extensions"],
            [],
            "abuse.non_photo_content.media_extensions: must be a non-empty",
        ),
    ],
)
def test_invalid_values_name_rule_and_field(path, value, message):
    doc = _doc()
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(RulesError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_rules(doc)


def test_unknown_and_missing_fields_are_errors():
    doc = _doc()
    doc["abuse"]["rapid_upload"]["bytes_per_hr"] = doc["abuse"]["rapid_upload"].pop("bytes_per_hour")
    with pytest.raises(RulesError, match=r"abuse\.rapid_upload: unknown field\(s\) bytes_per_hr"):
        parse_rules(doc)
    doc = _doc()
    del doc["service"]["latency_ms"]
    with pytest.raises(RulesError, match=r"service: missing field\(s\) latency_ms"):
        parse_rules(doc)


def test_sizes_accept_units_and_files_load(tmp_path):
    doc = _doc()
    doc["abuse"]["large_object"]["object_bytes"] = "1.5 GB"
    doc["abuse"]["rapid_upload"]["bytes_per_hour"] = 1234
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(doc)))
    rules = load_rules(path)
    assert rules.abuse.large_object.object_bytes == int(1.5 * GIB)
    assert rules.abuse.rapid_upload.bytes_per_hour == 1234
    assert rules.source == str(path)


def test_unreadable_or_invalid_files_say_so(tmp_path):
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("abuse: [unclosed")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(bad)
