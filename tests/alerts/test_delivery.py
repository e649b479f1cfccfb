"""deliver_once against the fake Slack: one post per notification, failures classified, edits and files."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from bucketlens.alerts.blocks import RESOLVED_COLOR, render
from bucketlens.alerts.delivery import PreviewSender, SlackSender, deliver_once
from bucketlens.alerts.outbox import Outbox, utc_naive
from resources.outbox import AlertOutbox
from resources.slack import SlackResource
from tests.alerts.conftest import CLIENT_TIMEOUT, TOKEN, UI_URL, notification
from tests.alerts.fake_slack import Fault


def drain(outbox, sender, clock, **kw):
    return deliver_once(outbox, sender, now=clock(), **kw)


def test_an_alert_is_posted_once_with_its_identity_in_metadata(outbox, sender, slack, clock):
    outbox.enqueue(notification("a1"), clock())
    report = drain(outbox, sender, clock)
    again = drain(outbox, sender, clock.advance(hours=1) and clock)

    assert (report.sent, again.sent) == (1, 0)
    posts = [args for method, args in slack.calls if method == "chat.postMessage"]
    assert len(posts) == 1
    assert posts[0]["channel"] == "C0WARNING01"  # the name resolved through conversations.list
    assert posts[0]["metadata"] == {
        "event_type": "bucketlens_notification",
        "event_payload": {"identity": "a1", "kind": "alert"},
    }
    row = outbox.get("a1")
    assert (row.state, row.slack_channel_id, row.attempts) == ("sent", "C0WARNING01", 0)
    assert outbox.message_ref("a1") == ("C0WARNING01", slack.state.posted("a1")[0]["ts"])


def test_429_waits_exactly_retry_after_and_is_not_a_failed_attempt(outbox, sender, slack, clock):
    slack.script("chat.postMessage", Fault("429", retry_after=45))
    outbox.enqueue(notification("a1"), clock())
    start = clock()

    report = drain(outbox, sender, clock)
    row = outbox.get("a1")
    assert (report.retried, row.state, row.attempts) == (1, "pending", 0)
    assert row.next_attempt_at == utc_naive(start + timedelta(seconds=45))
    assert "HTTP 429 ratelimited" in row.last_error

    clock.advance(seconds=44)
    assert drain(outbox, sender, clock).sent == 0
    clock.advance(seconds=1)
    assert drain(outbox, sender, clock).sent == 1
    assert len(slack.state.posted("a1")) == 1


def test_a_short_retry_after_is_waited_out_inside_the_call(outbox, slack, clock):
    inline = SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT, max_inline_wait_seconds=0)
    slack.script("chat.postMessage", Fault("429", retry_after=0))
    outbox.enqueue(notification("a1"), clock())

    report = drain(outbox, inline, clock)

    assert (report.sent, report.retried) == (1, 0)
    assert slack.methods().count("chat.postMessage") == 2  # Slack did not process the 429: no duplicate
    assert len(slack.state.posted("a1")) == 1


def test_5xx_backs_off_with_jitter_and_checks_the_channel_before_resending(outbox, sender, slack, clock):
    slack.script("chat.postMessage", Fault("500"), Fault("500"))
    outbox.enqueue(notification("a1"), clock())
    first = clock()

    drain(outbox, sender, clock)
    row = outbox.get("a1")
    assert row.attempts == 1 and row.uncertain_since == utc_naive(first)
    assert (
        utc_naive(first) + timedelta(seconds=1)
        <= row.next_attempt_at
        <= utc_naive(first) + timedelta(seconds=2)
    )

    second = clock.advance(seconds=2)
    drain(outbox, sender, clock)
    row = outbox.get("a1")
    assert row.attempts == 2  # base 2 s doubled: the wait is 2–4 s
    assert (
        utc_naive(second) + timedelta(seconds=2)
        <= row.next_attempt_at
        <= utc_naive(second) + timedelta(seconds=4)
    )

    clock.advance(seconds=4)
    assert drain(outbox, sender, clock).sent == 1
    assert slack.methods().count("conversations.history") == 2  # looked before each resend
    assert len(slack.state.posted("a1")) == 1


def test_after_max_attempts_the_row_is_dead_and_a_meta_notice_goes_to_the_same_channel(
    outbox_url, sender, slack, clock
):
    box = Outbox(outbox_url, max_attempts=3)
    slack.script("chat.postMessage", *[Fault("500")] * 3)
    box.enqueue(notification("a1", channel="alerts-critical", severity="critical"), clock())

    reports = []
    for _ in range(5):
        reports.append(drain(box, sender, clock))
        clock.advance(minutes=11)

    row = box.get("a1")
    assert (row.state, row.attempts) == ("dead", 3)
    assert "HTTP 500 internal_error" in row.last_error
    assert sum(r.dead for r in reports) == 1
    notice = box.get("dead:a1")
    assert (notice.state, notice.kind, notice.severity, notice.channel) == (
        "sent",
        "meta",
        "warning",
        "alerts-critical",
    )
    assert slack.state.posted("a1") == []
    [meta] = slack.state.posted("dead:a1")
    assert "a1" in meta["text"] and "3 attempts" in meta["text"]
    assert box.counts() == {"pending": 0, "sending": 0, "sent": 1, "dead": 1}
    assert [r.identity for r in box.dead()] == ["a1"]


@pytest.mark.parametrize(
    ("channel", "token", "error"),
    [("no-such-channel", TOKEN, "channel_not_found"), ("alerts-info", "xoxb-wrong", "invalid_auth")],
)
def test_slack_refusals_are_dead_at_once(outbox, slack, clock, channel, token, error):
    box_sender = SlackSender(token, slack.api_url, timeout=CLIENT_TIMEOUT)
    outbox.enqueue(notification("a1", channel=channel), clock())

    report = drain(outbox, box_sender, clock)

    row = outbox.get("a1")
    assert (report.dead, row.state, row.attempts) == (1, "dead", 1)
    assert error in row.last_error
    assert outbox.get("dead:a1").state in ("pending", "dead")  # announced (and, here, undeliverable too)
    assert outbox.get("dead:dead:a1") is None  # a dead notice is not announced again


def test_msg_too_long_from_slack_is_permanent(outbox, sender, slack, clock):
    outbox.enqueue(notification("a1"), clock())
    slack.server.m_chat_postMessage = lambda args: {"ok": False, "error": "msg_too_long"}
    drain(outbox, sender, clock)
    assert (outbox.get("a1").state, outbox.get("a1").attempts) == ("dead", 1)


def test_resolution_edits_the_original_and_replies_in_its_thread(outbox, sender, slack, clock):
    outbox.enqueue(notification("a1"), clock())
    drain(outbox, sender, clock)
    original_ts = outbox.get("a1").slack_ts
    resolved = notification("a1:resolved", kind="resolved", edit_of="a1")
    outbox.enqueue(resolved, clock())

    report = drain(outbox, sender, clock.advance(minutes=5) and clock)

    assert report.sent == 1
    update = next(args for method, args in slack.calls if method == "chat.update")
    assert (update["channel"], update["ts"]) == ("C0WARNING01", original_ts)
    [message] = [m for m in slack.state.messages["C0WARNING01"] if m["ts"] == original_ts]
    assert message["attachments"][0]["color"] == RESOLVED_COLOR and "edited" in message
    assert message["metadata"]["event_payload"]["identity"] == "a1"  # the original keeps its identity
    [reply] = slack.state.posted("a1:resolved")
    assert reply["thread_ts"] == original_ts and reply["text"].startswith(":white_check_mark: Resolved:")
    assert outbox.message_ref("a1:resolved") == ("C0WARNING01", reply["ts"])


def test_an_edit_waits_for_its_original_without_spending_attempts(outbox, sender, slack, clock):
    slack.script("chat.postMessage", Fault("429", retry_after=60))
    outbox.enqueue(notification("a1"), clock())
    outbox.enqueue(notification("a1:resolved", kind="resolved", edit_of="a1"), clock())

    first = drain(outbox, sender, clock)
    assert (first.retried, first.waiting) == (1, 1)
    assert outbox.get("a1:resolved").attempts == 0

    second = drain(outbox, sender, clock.advance(seconds=60) and clock)
    assert (second.sent, second.waiting) == (2, 0)  # original first, then its edit in the same drain
    assert slack.methods().count("chat.update") == 1


def test_an_edit_of_a_dead_original_is_posted_as_a_new_message(outbox, sender, slack, clock):
    outbox.enqueue(notification("a1", channel="gone"), clock())
    drain(outbox, sender, clock)
    outbox.enqueue(notification("a1:resolved", kind="resolved", edit_of="a1"), clock())

    drain(outbox, sender, clock)

    assert "chat.update" not in slack.methods()
    [message] = slack.state.posted("a1:resolved")
    assert "thread_ts" not in message and message["attachments"][0]["color"] == RESOLVED_COLOR


def test_thread_of_posts_a_reply_in_the_originals_thread(outbox, sender, slack, clock):
    outbox.enqueue(notification("a1"), clock())
    outbox.enqueue(notification("a1:esc", kind="escalation", thread_of="a1"), clock())
    drain(outbox, sender, clock)

    [reply] = slack.state.posted("a1:esc")
    assert reply["thread_ts"] == outbox.get("a1").slack_ts


def test_attachments_go_through_files_upload_v2_with_the_text_as_comment(
    outbox, sender, slack, clock, tmp_path
):
    chart = tmp_path / "cost.png"
    chart.write_bytes(b"\x89PNG fake chart")
    report_n = notification(
        "r1",
        kind="report",
        severity="info",
        channel="alerts-info",
        alerts=(),
        text="Weekly cost: $812.40",
        attachment_path=str(chart),
    )
    outbox.enqueue(report_n, clock())
    outbox.enqueue(notification("a1", channel="alerts-info", severity="info"), clock())

    drain(outbox, sender, clock)

    methods = slack.methods()
    assert methods.count("conversations.list") == 1  # the channel listing is cached per sender
    assert methods[:4] == [
        "conversations.list",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "chat.postMessage",
    ]
    complete = dict(slack.calls)["files.completeUploadExternal"]
    assert complete["channel_id"] == "C0INFO00001"
    assert complete["initial_comment"] == render(report_n, UI_URL)["text"]
    assert json.loads(complete["files"])[0]["title"] == "cost.png"
    assert list(slack.state.uploads.values()) == [b"\x89PNG fake chart"]
    [shared] = [m for m in slack.state.messages["C0INFO00001"] if m.get("files")]
    assert outbox.message_ref("r1") == ("C0INFO00001", shared["ts"])


@pytest.mark.parametrize("fault", ["processed_drop", "slow"], ids=["answer_lost", "answer_late"])
def test_an_answer_lost_after_slack_posted_is_reconciled_not_resent(outbox, sender, slack, clock, fault):
    slack.script("chat.postMessage", Fault(fault))
    outbox.enqueue(notification("a1"), clock())

    first = drain(outbox, sender, clock)
    assert first.retried == 1 and outbox.get("a1").uncertain_since is not None
    second = drain(outbox, sender, clock.advance(minutes=1) and clock)

    assert second.reconciled == 1
    [message] = slack.state.posted("a1")
    assert outbox.get("a1").slack_ts == message["ts"] and outbox.get("a1").state == "sent"


def test_the_token_never_reaches_logs_reprs_errors_or_the_outbox(outbox, sender, slack, clock, caplog):
    caplog.set_level(logging.DEBUG)
    slack.script("chat.postMessage", Fault("500"), Fault("drop"), Fault("slow"))
    for i in range(4):
        outbox.enqueue(notification(f"a{i}"), clock())
    bad = SlackSender(TOKEN + "-revoked", slack.api_url, timeout=CLIENT_TIMEOUT)
    outbox.enqueue(notification("b1"), clock())

    drain(outbox, sender, clock, limit=4)
    drain(outbox, bad, clock)

    rows = [outbox.get(f"a{i}") for i in range(4)] + [outbox.get("b1")]
    assert {r.last_error.split(":")[0] for r in rows if r.last_error} >= {
        "chat_postMessage",
        "conversations_list",
    }
    assert TOKEN not in caplog.text
    assert "Failed to send a request" in caplog.text  # slack_sdk did log the failures (without the token)
    assert all(TOKEN not in (r.last_error + r.payload) for r in rows)
    assert TOKEN not in repr(sender) and TOKEN not in repr(bad)


def test_the_resources_choose_the_sender_by_token_and_open_the_outbox(outbox_url, slack, tmp_path):
    preview_path = str(tmp_path / "slack-preview.jsonl")
    tokenless = SlackResource(preview_path=preview_path, ui_url=UI_URL)
    with_token = SlackResource(
        bot_token=TOKEN, api_url=slack.api_url, preview_path=preview_path, ui_url=UI_URL
    )

    assert (
        isinstance(tokenless.sender(), PreviewSender)
        and tokenless.sender().path == tmp_path / "slack-preview.jsonl"
    )
    assert isinstance(with_token.sender(), SlackSender) and with_token.sender().ui_url == UI_URL
    assert TOKEN not in repr(with_token) and TOKEN not in str(with_token)
    box = AlertOutbox(url=outbox_url, max_attempts=3).open()
    assert box.max_attempts == 3 and box.counts()["pending"] == 0
