"""`bucketlens rules check`, `bucketlens silence add|list|expire` and `bucketlens alerts deliver`."""

import re

from bucketlens.anomaly.rules import DEFAULT_RULES
from tests.pipelines.test_cli import bucketlens


def test_rules_check_accepts_the_defaults_and_names_the_bad_rule_and_field(tmp_path):
    ok = bucketlens("rules", "check", str(DEFAULT_RULES), home=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "error" not in ok.stdout.lower()
    bad = tmp_path / "rules.yaml"
    bad.write_text(DEFAULT_RULES.read_text().replace("severity: critical", "severity: urgent", 1))
    result = bucketlens("rules", "check", str(bad), home=tmp_path)
    assert result.returncode == 1
    assert "abuse.rapid_upload.severity" in result.stdout and "urgent" in result.stdout


def test_a_silence_is_added_listed_and_expired(tmp_path):
    added = bucketlens(
        "silence",
        "add",
        "rule=rapid_upload",
        "user_id=1042",
        "--reason",
        "known migration",
        "--for",
        "2h",
        home=tmp_path,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    silence_id = re.search(r"silence (\S+) until", added.stdout).group(1)
    listed = bucketlens("silence", "list", home=tmp_path)
    assert silence_id in listed.stdout and "known migration" in listed.stdout and "active" in listed.stdout
    assert bucketlens("silence", "expire", silence_id, home=tmp_path).returncode == 0
    assert "no active silences" in bucketlens("silence", "list", home=tmp_path).stdout
    assert "expired" in bucketlens("silence", "list", "--all", home=tmp_path).stdout
    bad = bucketlens("silence", "add", "no-operator", "--reason", "x", home=tmp_path)
    assert bad.returncode == 2 and "error:" in bad.stdout


def test_alerts_deliver_with_nothing_queued_reports_an_empty_outbox(tmp_path):
    result = bucketlens("alerts", "deliver", home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sent 0" in result.stdout and "slack-preview.jsonl" in result.stdout
