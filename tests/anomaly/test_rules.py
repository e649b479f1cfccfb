"""The rules loader: defaults match design §7; every mistake names the rule and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from bucketlens.anomaly.rules import DEFAULT_RULES, RulesError, load_rules, parse_rules

GIB, TIB = 1024**3, 1024**4
SNAPSHOT = Path(__file__).with_name("default_rules_snapshot.json")
ADDED_RULES = (
    "orphaned_data",
    "noncurrent_versions",
    "delete_markers",
    "incomplete_multipart_uploads",
    "upload_failures",
    "request_errors",
    "first_byte_time",
    "cdn_hit_ratio_drop",
    "cdn_error_rate",
    "cdn_bandwidth",
    "cdn_hotlinking",
)


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


def _plain(value):
    """Models and dataclasses as dicts of their fields; every leaf as its ``repr`` (80 and 80.0 differ)."""
    names = getattr(type(value), "model_fields", None) or getattr(value, "__dataclass_fields__", None)
    if names is not None:
        return {n: _plain(getattr(value, n)) for n in names}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [type(value).__name__, *(_plain(v) for v in value)]
    return repr(value)


def test_the_default_file_loads_to_exactly_the_values_of_the_hand_written_loader():
    """``default_rules_snapshot.json`` was written by the hand-written validators this module replaced
    (git 2fae007): every threshold, alert rule and routing value of the packaged file, with its type,
    because the detectors bind them as SQL parameters (an int that became a float changes a query)."""
    from bucketlens.alerts.rules import load_alerting

    rules = load_rules()
    alerting = load_alerting(rules)
    routing = _plain(alerting.routing)
    assert routing.pop("fallback_channel") == "''"  # new: empty means the critical channel
    loaded = {
        "abuse": _plain(rules.abuse),
        "scores": _plain(rules.scores),
        "service": _plain(rules.service),
        "alerting": {"rules": _plain(alerting.rules), "routing": routing},
    }
    snapshot = json.loads(SNAPSHOT.read_text())
    # the rules added since that loader (leaks and KPIs, tests/savings/test_savings_rules.py) follow its 24
    added = loaded["alerting"]["rules"][1 + 24 :]
    loaded["alerting"]["rules"] = loaded["alerting"]["rules"][: 1 + 24]
    assert [r["name"] for r in added] == [f"'{n}'" for n in ADDED_RULES]
    assert len(snapshot["alerting"]["rules"]) == 1 + 24  # the "tuple" tag and the 24 packaged rules
    # One change since the snapshot, on purpose (issue 17): the sum rule large_archive_retrieval became the
    # large_retrieval abuse pattern, whose flags carry the restore requests as evidence.
    assert loaded["abuse"].pop("large_retrieval") == {"bytes_per_day": "10737418240", "severity": "'info'"}
    # Issue 20 (CloudFront): the hotlinking pattern and the CDN lines per distribution are new sections.
    assert loaded["abuse"].pop("cdn_hotlinking")["min_referer_hosts"] == "50"
    assert {
        loaded["service"].pop(k) and k for k in ("cdn_hit_rate", "cdn_error_rate", "cdn_bandwidth_per_day")
    }
    names = [rule["name"] for rule in snapshot["alerting"]["rules"][1:]]
    position = names.index("'large_archive_retrieval'")
    new_rule = loaded["alerting"]["rules"].pop(1 + len(names) - 1)
    assert (new_rule["name"], new_rule["source"], new_rule["where"]) == (
        "'large_retrieval'",
        "'anomaly.abuse_flags'",
        {"pattern": ["tuple", "'large_retrieval'"]},
    )
    del snapshot["alerting"]["rules"][1 + position]
    assert loaded == snapshot
