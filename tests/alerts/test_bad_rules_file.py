"""A mistyped rules file (issue 14, defect 9): every error names the rule and field, on one line, from
``bucketlens rules check``, the delivery sensor, ``alerts deliver`` and the ``alert_events`` asset —
never a traceback. Each bad file is the packaged default with one mistake, so the line expected is
the only line."""

from __future__ import annotations

import copy
import subprocess
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import yaml

from assets.alerts import ALERT_ASSETS
from bucketlens.alerts.rules import check_rules_file
from bucketlens.anomaly.rules import DEFAULT_RULES
from pipelines.cli import main
from resources.alert_settings import AlertSettings
from resources.outbox import AlertOutbox
from resources.rules import RulesFile
from resources.slack import SlackResource
from resources.warehouse import Warehouse
from sensors.alert_delivery import alert_delivery_sensor
from tests.alerts.conftest import notification
from tests.pipelines.test_cli import BIN

DEFAULTS = yaml.safe_load(DEFAULT_RULES.read_text())
SIZE = "must be a positive number of bytes or a size like"


def _rule(index: int, **changes):
    return lambda d: d["alerts"]["rules"][index].update(changes)


def _set(*path, value):
    def mutate(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _rename(section: str, rule: str, old: str, new: str):
    def mutate(d):
        d[section][rule][new] = d[section][rule].pop(old)

    return mutate


# (mutation of the default document, path, message fragment, value as shown after "got"; None: not shown)
BAD_FILES = {
    "channels null": (_set("routing", "channels", value=None), "routing.channels",
                      "must be a mapping of severity to channel", "null"),
    "abuse a list": (_set("abuse", value=[1, 2]), "abuse", "must be a mapping", "[1, 2]"),
    "routing a list": (_set("routing", value=["a"]), "routing", "must be a mapping", '["a"]'),
    "alert rules a mapping": (_set("alerts", value={"rules": {"a": 1}}), "alerts.rules",
                              "must be a list of alert rules", '{"a": 1}'),
    "size .inf": (_set("abuse", "large_object", "object_bytes", value=float("inf")),
                  "abuse.large_object.object_bytes", SIZE, ".inf"),
    "size .nan": (_set("abuse", "large_object", "object_bytes", value=float("nan")),
                  "abuse.large_object.object_bytes", SIZE, ".nan"),
    "size -1": (_set("abuse", "rapid_upload", "bytes_per_hour", value=-1), "abuse.rapid_upload.bytes_per_hour",
                SIZE, "-1"),
    "size true": (_set("abuse", "large_account", "stored_bytes", value=True), "abuse.large_account.stored_bytes",
                  SIZE, "true"),
    "size unknown unit": (_set("abuse", "over_plan_limit", "plan_limits", "family", value="12 XB"),
                          "abuse.over_plan_limit.plan_limits.family", SIZE, '"12 XB"'),
    "unknown alert severity": (_rule(0, severity="urgent"), "alerts.rules[0] (rapid_upload).severity",
                               "must be one of info, warning, critical, from_source", '"urgent"'),
    "unknown threshold severity": (_set("abuse", "monthly_cost", "severity", value="page"),
                                   "abuse.monthly_cost.severity", "must be one of info, warning, critical", '"page"'),
    "for in hours": (_rule(6, **{"for": "36h"}), "alerts.rules[6] (large_object).for",
                     "must be whole days (data is daily)", '"36h"'),
    "bad placeholder": (_rule(4, subject="user {user id}"), "alerts.rules[4] (sharing_abuse).subject",
                        'placeholder "user id" must be a column name', '"user {user id}"'),
    "unclosed placeholder": (_rule(4, summary="{value:int"), "alerts.rules[4] (sharing_abuse).summary",
                             "bad template", '"{value:int"'),
    "bad placeholder format": (_rule(4, summary="{value:weird}"), "alerts.rules[4] (sharing_abuse).summary",
                               "format 'weird' must be one of bytes, usd, pct, int, num", '"{value:weird}"'),
    "label not an identifier": (_rule(0, labels=["user_id; DROP"]), "alerts.rules[0] (rapid_upload).labels[0]",
                                "must be a column name (letters, digits, _)", '"user_id; DROP"'),
    "value not an identifier": (_rule(2, value="user_id; DROP"), "alerts.rules[2] (duplicate_data).value",
                                "must be a column name (letters, digits, _)", '"user_id; DROP"'),
    "table not schema.table": (_rule(5, source="abuse_flags; DROP"), "alerts.rules[5] (failed_access_storm).source",
                               "must be a schema.table name", '"abuse_flags; DROP"'),
    "duplicate rule name": (_rule(7, name="rapid_upload"), "alerts.rules[7] (rapid_upload).name",
                            "duplicate rule name (also alerts.rules[0])", '"rapid_upload"'),
    "critical below warning": (_set("service", "storage_bytes", "critical", value="10 TB"),
                               "service.storage_bytes.critical", "must not be below warning (50 TB)", '"10 TB"'),
    "critical left empty": (_set("service", "storage_bytes", "critical", value=None),
                            "service.storage_bytes.critical", SIZE, "null"),
    "history beyond window": (_set("scores", "min_history_days", value=40), "scores.min_history_days",
                              "must not exceed window_days (28)", "40"),
    "op without threshold": (_rule(1, op=">"), "alerts.rules[1] (daily_upload_volume).op",
                             'op and threshold go together: op ">" has none', None),
    "percent above 100": (_set("abuse", "quota_80_percent", "percent", value=180), "abuse.quota_80_percent.percent",
                          "must be a percentage above 0 and up to 100", "180"),
    "fraction .nan": (_set("service", "error_rate", "critical", value=float("nan")), "service.error_rate.critical",
                      "must be a fraction between 0 and 1", ".nan"),
    "whole number 2.5": (_set("abuse", "sharing_abuse", "max_distinct_ips", value=2.5),
                         "abuse.sharing_abuse.max_distinct_ips", "must be a positive whole number", "2.5"),
    "yes for a boolean": (_rule(22, send_resolved="yes"), "alerts.rules[22] (new_signups).send_resolved",
                          "must be true or false", '"yes"'),
    "duration in words": (_set("routing", "group_interval", value="5 minutes"), "routing.group_interval",
                          'must be a duration like "5m", "4h" or "14d"', '"5 minutes"'),
    "unknown severity channel": (_set("routing", "channels", "urgent", value="#x"), "routing.channels",
                                 "must be one of info, warning, critical", '"urgent"'),
    "fallback channel not text": (_set("routing", "fallback_channel", value=["#ops"]), "routing.fallback_channel",
                                  "must be text", '["#ops"]'),
    "inhibit equal empty": (_set("routing", "inhibit", 0, "equal", value=[]), "routing.inhibit[0].equal",
                            "must be a non-empty list of fields", "[]"),
    "typo in a key": (_rename("service", "cost_spike", "ratio", "ratoi"), "service.cost_spike",
                      "unknown field(s) ratoi (did you mean ratio?)", None),
}  # fmt: skip


def _write(tmp_path, document, name="rules.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _bad(mutate) -> dict:
    document = copy.deepcopy(DEFAULTS)
    mutate(document)
    return document


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_each_mistake_is_one_line_naming_rule_field_and_value(tmp_path, case):
    mutate, where, fragment, got = BAD_FILES[case]
    lines = check_rules_file(_write(tmp_path, _bad(mutate)))
    # A renamed key is also a missing one: that second line names the field the file lacks.
    expected = 2 if case == "typo in a key" else 1
    assert len(lines) == expected, lines
    line = lines[0]
    assert line.startswith(f"error: {where}: "), line
    assert fragment in line, line
    if got is not None:
        assert line.endswith(f", got {got}"), line
    if case == "typo in a key":
        assert lines[1] == "error: service.cost_spike: missing field(s) ratio"


def _three_mistakes(tmp_path):
    document = _bad(_set("abuse", "large_object", "object_bytes", value=float("inf")))
    document["routing"]["channels"] = None
    document["alerts"]["rules"][0]["severity"] = "urgent"
    return _write(tmp_path, document)


THREE_ERRORS = [
    f'error: abuse.large_object.object_bytes: {SIZE} "100 GB" (units B, KB, MB, GB, TB, PB), got .inf',
    'error: alerts.rules[0] (rapid_upload).severity: must be one of info, warning, critical, from_source, got "urgent"',
    "error: routing.channels: must be a mapping of severity to channel, got null",
]


def test_every_error_of_a_file_is_reported_not_only_the_first(tmp_path):
    assert check_rules_file(_three_mistakes(tmp_path)) == THREE_ERRORS


def test_an_empty_file_and_broken_yaml_name_the_file(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert check_rules_file(empty) == ["error: rules: must be a mapping, got null"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("abuse:\n  rapid_upload: [unclosed\n")
    (line,) = check_rules_file(broken)
    assert line.startswith(f"error: {broken}:3:1: not valid YAML: "), line


def test_rules_check_prints_every_error_and_exits_1_without_a_traceback(tmp_path):
    result = subprocess.run(
        [str(BIN), "rules", "check", str(_three_mistakes(tmp_path))],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BUCKETLENS_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == THREE_ERRORS
    assert "Traceback" not in result.stdout + result.stderr


def test_alerts_deliver_with_a_bad_rules_file_says_why_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BUCKETLENS_HOME", str(tmp_path))
    monkeypatch.setenv("BUCKETLENS_SOURCE", str(tmp_path / "source"))
    monkeypatch.setenv(
        "BUCKETLENS_RULES", str(_write(tmp_path, _bad(_set("routing", "channels", value=None))))
    )
    assert main(["alerts", "deliver"]) == 1  # the queue drained, but the operator must fix the file
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (
        f"warning: rules file {tmp_path / 'rules.yaml'} is invalid: routing.channels: must be a mapping of "
        "severity to channel, got null"
    )


def test_the_delivery_sensor_names_the_error_and_still_drains_the_queue(tmp_path):
    """A bad rules file stops planning new notifications, never the delivery of those already queued."""
    bad = _write(tmp_path, _bad(_rule(0, severity="urgent")))
    outbox = AlertOutbox(url=f"sqlite:///{tmp_path / 'outbox.sqlite'}")
    box = outbox.open()
    box.enqueue(notification("queued-before-the-typo"))
    box.dispose()
    resources = {
        "outbox": outbox,
        "slack": SlackResource(preview_path=str(tmp_path / "preview.jsonl"), ui_url="http://ui.test"),
        "rules": RulesFile(path=str(bad)),
    }
    result = alert_delivery_sensor(dg.build_sensor_context(resources=resources))
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message.startswith("released 0; sent 1,")
    assert result.skip_message.endswith(
        f"rules file {bad} is invalid: alerts.rules[0] (rapid_upload).severity: must be one of info, "
        'warning, critical, from_source, got "urgent"'
    )
    assert "queued-before-the-typo" in (tmp_path / "preview.jsonl").read_text()


def test_the_alert_events_asset_fails_with_the_errors_as_its_description(tmp_path):
    bad = _three_mistakes(tmp_path)
    resources = {
        "warehouse": Warehouse(database=str(tmp_path / "warehouse.duckdb")),
        "rules": RulesFile(path=str(bad)),
        "outbox": AlertOutbox(url=f"sqlite:///{tmp_path / 'outbox.sqlite'}"),
        "alert_settings": AlertSettings(ui_url="http://ui.test"),
    }
    day = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    result = dg.materialize(ALERT_ASSETS, partition_key=day, resources=resources, raise_on_error=False)
    assert not result.success
    (failure,) = result.get_step_failure_events()
    description = failure.step_failure_data.user_failure_data.description
    assert description.splitlines() == [f"The rules file {bad} is invalid:"] + [
        line.removeprefix("error: ") for line in THREE_ERRORS
    ]


def test_a_bad_threshold_fails_a_detector_asset_through_the_resource_as_a_dagster_failure(tmp_path):
    bad = _write(tmp_path, _bad(_set("abuse", "large_object", "object_bytes", value=float("inf"))))
    with pytest.raises(dg.Failure) as info:
        RulesFile(path=str(bad)).load()
    assert info.value.description.splitlines()[1] == (
        f'abuse.large_object.object_bytes: {SIZE} "100 GB" (units B, KB, MB, GB, TB, PB), got .inf'
    )
    assert info.value.allow_retries is False  # retrying cannot fix a file
