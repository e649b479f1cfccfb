"""Rendering: the exact Slack payload, escaping of everything user-controlled, and Slack's size limits."""

from __future__ import annotations

import json

import pytest

from bucketlens.alerts.blocks import (
    MAX_BLOCKS,
    MAX_FIELD_TEXT,
    MAX_FIELDS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_TEXT,
    escape,
    format_value,
    render,
)
from bucketlens.alerts.notification import KINDS, AlertSummary, Notification
from tests.alerts.conftest import UI_URL, alert_summary, notification

LINK = "http://127.0.0.1:3000/assets/abuse_flags?partition=2026-10-04"
INJECTIONS = ("<!channel>", "<!here>", "<@U123>", "<#C1>", "<https://evil|click>", "<!subteam^S0EVIL>")


def one_alert() -> Notification:
    alert = AlertSummary(
        alert_key="k1",
        rule="user_daily_upload_bytes",
        severity="critical",
        subject="user 1042",
        state="firing",
        usage_date="2026-10-04",
        value=412e9,
        threshold=100e9,
        reason="uploaded 412 GB, 38× the usual 11 GB/day",
        evidence=({"key": "users/1042/a.jpg", "bytes": "2000000000"},),
        evidence_query="SELECT key FROM raw.access_log_requests WHERE user_id = '1042' AND bytes_sent > 0",
        link=LINK,
    )
    return Notification(
        identity="alert:g1:2026-10-04",
        kind="alert",
        channel="alerts-critical",
        severity="critical",
        title="Rapid upload by user 1042",
        group_key="g1",
        alerts=(alert,),
        mention="S0ONCALL",
        created_at="2026-10-05T12:00:00+00:00",
    )


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def button(label: str, url: str) -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}


def test_one_critical_alert_renders_exactly_this_payload():
    expected = {
        "channel": "alerts-critical",
        "text": "<!subteam^S0ONCALL> [critical] Rapid upload by user 1042\n"
        "• user 1042 (user_daily_upload_bytes): uploaded 412 GB, 38× the usual 11 GB/day",
        "attachments": [
            {
                "color": "#E01E5A",
                "blocks": [
                    {
                        "type": "header",
                        "text": {
                            "type": "plain_text",
                            "text": ":rotating_light: Rapid upload by user 1042",
                            "emoji": True,
                        },
                    },
                    {"type": "context", "elements": [mrkdwn("*CRITICAL* · alert · 1 alert · group `g1`")]},
                    {
                        "type": "section",
                        "text": mrkdwn(
                            "*user 1042* · `user_daily_upload_bytes` · firing\nuploaded 412 GB, 38× the usual 11 GB/day"
                        ),
                        "fields": [
                            mrkdwn("*Value*\n412.0 GB"),
                            mrkdwn("*Threshold*\n100.0 GB"),
                            mrkdwn("*Severity*\ncritical"),
                            mrkdwn("*Data of*\n2026-10-04"),
                        ],
                        "accessory": button("Open", LINK),
                    },
                    {
                        "type": "section",
                        "text": mrkdwn(
                            "*Evidence*\n```key=users/1042/a.jpg · bytes=2000000000```\n*Query*\n"
                            "```SELECT key FROM raw.access_log_requests WHERE user_id = '1042' AND bytes_sent &gt; 0```"
                        ),
                    },
                    {"type": "actions", "elements": [button("View in Dagster", LINK)]},
                ],
            }
        ],
        "metadata": {
            "event_type": "bucketlens_notification",
            "event_payload": {"identity": "alert:g1:2026-10-04", "kind": "alert"},
        },
        "unfurl_links": False,
        "unfurl_media": False,
    }
    assert json.dumps(render(one_alert(), UI_URL), sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_injection_attempts_in_every_user_field_render_as_text():
    evil = " ".join(INJECTIONS) + " & more"
    alert = alert_summary(
        subject=f"user {evil}",
        rule=f"rule {evil}",
        reason=f"user agent {evil}",
        labels={"user_agent": evil},
        evidence=({f"key {evil}": f"users/{evil}/x.jpg", "user_agent": evil},),
        evidence_query=f"SELECT '{evil}'",
        link=f"https://evil|click>{evil}",
    )
    n = notification("i1", title=f"title {evil}", text=f"free text {evil}", group_key=evil, alerts=(alert,))

    payload = json.dumps(render(n, UI_URL), ensure_ascii=False)

    for attempt in INJECTIONS:
        assert attempt not in payload
    assert (
        "&lt;!channel&gt;" in payload and "&lt;https://evil|click&gt;" in payload and "&amp; more" in payload
    )
    assert "evil|click" not in json.dumps(
        [b.get("accessory") for b in render(n, UI_URL)["attachments"][0]["blocks"]]
    )


def test_a_mention_is_rendered_only_for_critical_and_only_as_a_user_group_id():
    critical = render(notification("m1", severity="critical", mention="S0ONCALL"), UI_URL)["text"]
    warning = render(notification("m2", severity="warning", mention="S0ONCALL"), UI_URL)["text"]
    forged = render(notification("m3", severity="critical", mention="S1> <!channel"), UI_URL)["text"]
    assert critical.startswith("<!subteam^S0ONCALL> ")
    assert "subteam" not in warning
    assert forged.startswith("[critical]") and "<!channel" not in forged


@pytest.mark.parametrize("kind", ["alert", "digest"])
def test_500_alerts_stay_within_every_slack_limit(kind):
    alerts = tuple(
        alert_summary(
            subject=f"user {i}", reason="r" * 5000 if i == 0 else f"reason {i}", evidence=({"k": "v"},) * 9
        )
        for i in range(500)
    )
    n = notification("big", kind=kind, title="T" * 500, text="x" * 50_000, alerts=alerts)

    payload = render(n, UI_URL)
    blocks = payload["attachments"][0]["blocks"]

    assert len(blocks) <= MAX_BLOCKS and len(payload["text"]) <= MAX_TEXT
    assert len(blocks[0]["text"]["text"]) == MAX_HEADER_TEXT and blocks[0]["text"]["text"].endswith("…")
    for block in blocks:
        assert len(block.get("text", {}).get("text", "")) <= MAX_SECTION_TEXT
        assert len(block.get("fields", [])) <= MAX_FIELDS
        assert all(len(f["text"]) <= MAX_FIELD_TEXT for f in block.get("fields", []))
    more = [b for b in blocks if b["type"] == "context" and "more alerts" in b["elements"][0]["text"]]
    assert len(more) == (1 if kind == "alert" else 0)  # a digest lists 500 one-line alerts in 45 blocks
    shown = int(more[0]["elements"][0]["text"].split()[0].lstrip("+")) if more else 0
    listed = sum(b["text"]["text"].count("*user ") for b in blocks if b["type"] == "section")
    assert listed + shown == 500  # nothing silently dropped: shown or counted


def test_the_oversized_message_is_accepted_by_slack(outbox, sender, slack, clock):
    from bucketlens.alerts.delivery import deliver_once

    alerts = tuple(alert_summary(subject=f"user {i}") for i in range(500))
    outbox.enqueue(notification("big", alerts=alerts, title="T" * 400), clock())
    assert deliver_once(outbox, sender, now=clock()).sent == 1  # the fake applies Slack's limits


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_its_own_header_and_colour(kind):
    n = notification(f"{kind}1", kind=kind, text="Weekly cost $812.40" if kind in ("report", "meta") else "")
    payload = render(n, UI_URL)
    header = payload["attachments"][0]["blocks"][0]["text"]["text"]
    expected_icon = {
        "alert": ":warning:",
        "resolved": ":white_check_mark: Resolved:",
        "escalation": ":rotating_light: Still firing:",
        "digest": ":card_index_dividers:",
        "suppressed": ":mute:",
        "meta": ":gear:",
        "report": ":bar_chart:",
        "action": ":raised_hand:",
    }[kind]
    assert header.startswith(expected_icon)
    assert payload["attachments"][0]["color"] == ("#2EB67D" if kind == "resolved" else "#ECB22E")
    assert "user 1042" in json.dumps(payload)


def test_values_carry_units_where_the_rule_makes_them_obvious():
    assert format_value(2.5e12, "bytes") == "2.5 TB"
    assert format_value(212.4, "usd") == "$212.40"
    assert format_value(0.075, "pct") == "7.5 %"
    assert format_value(1_200_000, "") == "1,200,000"
    assert format_value(None, "usd") == "–"
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_a_resolved_notification_says_resolved_once_in_header_fallback_and_thread_reply():
    """The policy's title already reads "Resolved: rule: subject" (grouping.title); the header and the
    thread reply used to prefix it again ("Resolved: Resolved: …")."""
    from bucketlens.alerts.blocks import render_resolved_reply
    from bucketlens.alerts.grouping import title

    alerts = (alert_summary(state="resolved"),)
    n = notification("r1", kind="resolved", title=title("resolved", alerts, "rule=user_daily_upload_bytes"), alerts=alerts)  # fmt: skip
    payload = render(n, UI_URL)
    header = payload["attachments"][0]["blocks"][0]["text"]["text"]
    reply = render_resolved_reply(n)["text"]

    assert n.title == "Resolved: user_daily_upload_bytes: user 1042"
    assert header == ":white_check_mark: Resolved: user_daily_upload_bytes: user 1042"
    assert reply == ":white_check_mark: Resolved: user_daily_upload_bytes: user 1042 (user 1042)"
    assert payload["text"].splitlines()[0] == "[warning] Resolved: user_daily_upload_bytes: user 1042"
    assert all(text.count("Resolved") == 1 for text in (header, reply, payload["text"].splitlines()[0]))


def test_a_title_without_the_prefix_still_gets_it_once():
    """A sensor's resolution ("S3 Inventory reports are arriving again") is prefixed by the header."""
    from bucketlens.alerts.blocks import render_resolved_reply

    n = notification("s1", kind="resolved", title="S3 Inventory reports are arriving again", alerts=())
    header = render(n, UI_URL)["attachments"][0]["blocks"][0]["text"]["text"]
    assert header == ":white_check_mark: Resolved: S3 Inventory reports are arriving again"
    assert (
        render_resolved_reply(n)["text"]
        == ":white_check_mark: Resolved: S3 Inventory reports are arriving again"
    )
