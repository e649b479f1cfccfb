"""deliver_once against the fake Slack: one post per notification, failures classified, edits and files."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from bucketlens.alerts.blocks import RESOLVED_COLOR, render
from bucketlens.alerts.delivery import PreviewSender, SimulatedCrash, SlackSender, deliver_once
from bucketlens.alerts.outbox import Outbox, utc_naive
from resources.outbox import AlertOutbox
from resources.slack import SlackResource
from sensors.alert_delivery import TickReport
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


def test_slack_refusals_are_dead_at_once(outbox, slack, clock):
    box_sender = SlackSender("xoxb-wrong", slack.api_url, timeout=CLIENT_TIMEOUT)
    outbox.enqueue(notification("a1", channel="C0INFO00001"), clock())  # an id: no listing needed

    report = drain(outbox, box_sender, clock)

    row = outbox.get("a1")
    assert (report.dead, row.state, row.attempts) == (1, "dead", 1)
    assert "invalid_auth" in row.last_error
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
    outbox.enqueue(notification("a1", channel="C0NOSUCH001"), clock())  # Slack: channel_not_found
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


# --- a rate-limited or failed channel listing (issue 14, defect 2) -----------------------------------


def test_a_rate_limited_channel_listing_delays_messages_and_kills_none(outbox, sender, slack, clock):
    """Slack rate-limited the first three conversations.list calls: the old sender kept the empty channel
    map it had started, and 35 of 36 notifications died as channel_not_found. Now the rows wait for the
    Retry-After (not an attempt), and the drain asks Slack once, not once per row."""
    slack.script("conversations.list", *[Fault("429", retry_after=30)] * 3)
    items = [notification(f"n{i:02d}", channel=("alerts-warning", "alerts-info")[i % 2]) for i in range(36)]
    for item in items:
        outbox.enqueue(item, clock())

    first = drain(outbox, sender, clock)
    assert (first.sent, first.dead, first.retried) == (0, 0, 36)
    assert slack.methods().count("conversations.list") == 1  # one failed listing, not 36
    assert {(r.state, r.attempts) for r in (outbox.get(i.identity) for i in items)} == {("pending", 0)}

    reports = [drain(outbox, sender, clock.advance(seconds=30) and clock) for _ in range(3)]

    assert [r.sent for r in reports] == [0, 0, 36] and sum(r.dead for r in reports) == 0
    assert outbox.counts() == {"pending": 0, "sending": 0, "sent": 36, "dead": 0}
    assert all(len(slack.state.posted(i.identity)) == 1 for i in items)


@pytest.mark.parametrize("fault", ["500", "drop"])
def test_a_listing_that_fails_on_a_later_page_caches_nothing(outbox, slack, clock, fault):
    """150 channels: the second page fails. A partial map would make the channel on page two look
    missing (permanently dead); the row must be retried and find it."""
    for i in range(147):
        slack.state.channels[f"C0EXTRA{i:04d}"] = f"extra-{i:03d}"
    page_two = next(n for n in list(slack.state.channels.values())[100:] if n.startswith("extra"))
    sender = SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT)
    tries = 3 if fault == "drop" else 1  # slack_sdk retries a dropped read twice itself
    slack.script("conversations.list", Fault("ok"), *[Fault(fault)] * tries)  # page 1 fine, page 2 fails
    outbox.enqueue(notification("a1", channel=f"#{page_two}"), clock())

    first = drain(outbox, sender, clock)
    second = drain(outbox, sender, clock.advance(minutes=1) and clock)

    assert (first.dead, first.retried, second.sent) == (0, 1, 1)
    assert outbox.get("a1").slack_channel_id == slack.state.channel_id(page_two)


def test_a_channel_missing_from_a_complete_listing_is_announced_and_recoverable(outbox, sender, slack, clock):
    """An operator error: the rows wait as dead (none lost), one meta-alert per channel goes to the
    fallback channel saying what to do, and once the channel exists retry-dead delivers each once."""
    for i in range(3):
        outbox.enqueue(notification(f"g{i}", channel="#storage-new"), clock())
    outbox.enqueue(notification("ok"), clock())

    report = deliver_once(outbox, sender, now=clock(), fallback_channel="#alerts-critical")

    assert (report.sent, report.dead, report.missing_channels) == (2, 3, {"#storage-new": 3})
    assert [r.identity for r in outbox.dead(channel="storage-new")] == ["g2", "g1", "g0"]
    [notice] = [m for m in slack.state.messages["C0CRITICAL1"]]
    assert notice["metadata"]["event_payload"]["identity"].startswith("channel_missing:#storage-new:")
    assert "3 notification(s)" in notice["text"]
    assert "bucketlens alerts retry-dead --channel storage-new" in notice["text"]
    assert outbox.get("dead:g0") is None  # one notice for the channel, not one per message

    slack.state.channels["C0STORNEW01"] = "storage-new"  # the operator creates it and invites the bot
    assert outbox.retry_dead(channel="storage-new", now=clock()) == 3
    again = deliver_once(outbox, SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT), now=clock())

    assert (again.sent, again.dead) == (3, 0)
    assert [len(slack.state.posted(f"g{i}")) for i in range(3)] == [1, 1, 1]
    assert outbox.counts()["dead"] == 0


def test_not_in_channel_from_slack_is_a_channel_problem_too(outbox, sender, slack, clock):
    slack.server.m_chat_postMessage = lambda args: {"ok": False, "error": "not_in_channel"}
    outbox.enqueue(notification("a1", channel="alerts-info"), clock())

    report = deliver_once(outbox, sender, now=clock(), fallback_channel="alerts-critical")

    # the notice dies too (this Slack refuses every post) and is not announced again
    assert (report.dead, report.missing_channels) == (2, {"alerts-info": 1})
    [notice] = [r for r in outbox.dead() if r.identity.startswith("channel_missing:")]
    assert notice.channel == "alerts-critical" and outbox.get("dead:a1") is None
    assert [r.identity for r in outbox.dead()] == [notice.identity, "a1"]


def test_429_on_the_first_calls_of_every_method_delays_but_never_loses_or_duplicates(
    outbox, sender, slack, clock, tmp_path
):
    """Every Web API method delivery uses answers 429 (Retry-After 30) to its first three calls; lost
    answers make some rows uncertain so history and replies are read too. Enough drains later every
    notification is in Slack exactly once and nothing is dead."""
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"png")
    items = [notification(f"a{i}", channel=("alerts-warning", "alerts-info")[i % 2]) for i in range(8)]
    items += [
        notification("a0:resolved", kind="resolved", edit_of="a0"),
        notification("a2:esc", kind="escalation", thread_of="a2"),
        notification("r1", kind="report", alerts=(), text="weekly", attachment_path=str(chart)),
    ]
    for item in items:
        outbox.enqueue(item, clock())
    lost_once: set[str] = set()

    def lose_each_first_answer(method: str, args: dict) -> Fault | None:
        identity = (args.get("metadata") or {}).get("event_payload", {}).get("identity")
        if method != "chat.postMessage" or identity in lost_once:
            return None
        lost_once.add(identity)
        return Fault("processed_drop")

    slack.state.fault_fn = lose_each_first_answer
    counts = slack.rate_limit_first(3, retry_after=30)

    reports = []
    while outbox.pending_count() and len(reports) < 40:
        reports.append(drain(outbox, sender, clock))
        clock.advance(seconds=31)

    used = {"conversations.list", "conversations.history", "conversations.replies", "chat.postMessage",
            "chat.update", "files.getUploadURLExternal", "files.completeUploadExternal"}  # fmt: skip
    assert used <= {m for m, c in counts.items() if c > 3}  # each was limited, then answered
    assert outbox.counts() == {"pending": 0, "sending": 0, "sent": len(items), "dead": 0}
    assert [len(slack.state.posted(i.identity)) for i in items if i.kind != "report"] == [1] * 10
    assert len([m for m in slack.state.messages["C0WARNING01"] if m.get("files")]) == 1
    assert sum(r.reconciled for r in reports) == 10  # every post's answer was lost once: found, not resent


# --- two drains at once (issue 14, defect 3) --------------------------------------------------------


def test_a_drain_decides_from_the_row_as_claimed_not_from_its_stale_read(outbox, sender, slack, clock):
    """Drain A reads the due rows [w, x]. While A sends w, drain B (the other of sensor tick and
    `alerts deliver`) posts x, Slack posts it but the answer is lost: x is uncertain, due again soon.
    A then claims x: deciding from its stale read (not uncertain) it would post x a second time."""
    for identity in ("w", "x"):
        outbox.enqueue(notification(identity), clock() - timedelta(hours=1))
    slack.script("chat.postMessage", Fault("processed_drop"))
    interleaved = []

    def other_drain_runs_meanwhile(step: str, identity: str) -> None:
        if (step, identity) == ("before_send", "w") and not interleaved:
            other = SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT)
            interleaved.append(deliver_once(outbox, other, now=clock() - timedelta(minutes=1)))

    report = drain(outbox, sender, clock, crash=other_drain_runs_meanwhile)

    [b] = interleaved
    assert (b.sent, b.retried) == (0, 1)  # w was A's (sending); x posted, its answer lost
    assert (report.sent, report.reconciled) == (1, 1)  # A found x in Slack instead of posting it again
    assert [len(slack.state.posted(i)) for i in ("w", "x")] == [1, 1]
    assert outbox.counts()["sent"] == 2


def test_a_drain_stops_claiming_at_its_deadline_and_says_how_many_remain(outbox, slack, clock):
    slack.state.fault_fn = lambda method, args: (
        Fault("slow", delay=0.2) if method == "chat.postMessage" else None
    )
    patient = SlackSender(TOKEN, slack.api_url, timeout=2)
    for i in range(10):
        outbox.enqueue(notification(f"a{i}"), clock())

    report = drain(outbox, patient, clock, deadline=timedelta(seconds=0.5))

    assert 1 <= report.sent <= 3  # 0.2 s a post: only rows started before 0.5 s (at most 3), each finished
    assert report.deferred == 10 - report.sent
    assert outbox.counts() == {"pending": report.deferred, "sending": 0, "sent": report.sent, "dead": 0}
    line = TickReport(delivery=report).line()  # what the sensor's tick says
    assert f"{report.deferred} left for the next tick (time limit)" in line


def test_an_upload_interrupted_after_slack_answered_is_found_again(outbox, sender, slack, clock, tmp_path):
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"png")
    outbox.enqueue(
        notification("r1", kind="report", alerts=(), text="weekly", attachment_path=str(chart)), clock()
    )

    def crash(at: str, identity: str) -> None:
        if at == "after_send":
            raise SimulatedCrash(at)

    with pytest.raises(SimulatedCrash):
        deliver_once(outbox, sender, now=clock(), crash=crash)
    report = deliver_once(outbox, sender, now=clock.advance(minutes=3))

    assert report.reconciled == 1
    assert slack.methods().count("files.completeUploadExternal") == 1
    assert outbox.get("r1").state == "sent"
