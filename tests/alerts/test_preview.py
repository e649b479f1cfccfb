"""The tokenless preview: the exact calls Slack would receive, a page to read, found again on a retry."""

from __future__ import annotations

import json

from bucketlens.alerts.blocks import render
from bucketlens.alerts.delivery import PreviewSender, deliver_once
from tests.alerts.conftest import UI_URL, notification


def drain(outbox, sender, clock, **kw):
    return deliver_once(outbox, sender, now=clock(), **kw)


def test_preview_sender_writes_the_exact_calls_and_a_readable_page(outbox, clock, tmp_path):
    preview = PreviewSender(tmp_path / "slack-preview.jsonl", ui_url=UI_URL)
    n = notification("a1")
    outbox.enqueue(n, clock())
    outbox.enqueue(notification("a1:resolved", kind="resolved", edit_of="a1"), clock())

    assert drain(outbox, preview, clock).sent == 2
    assert drain(outbox, preview, clock).sent == 0

    entries = [json.loads(line) for line in (tmp_path / "slack-preview.jsonl").read_text().splitlines()]
    assert [e["method"] for e in entries] == ["chat.postMessage", "chat.update", "chat.postMessage"]
    stored = outbox.get("a1").notification  # as the outbox holds it (to_json sorts evidence columns)
    assert entries[0]["args"] == {**render(stored, UI_URL), "channel": "alerts-warning"}
    assert entries[1]["args"]["ts"] == entries[0]["ts"]
    assert entries[2]["args"]["thread_ts"] == entries[0]["ts"]
    page = (tmp_path / "slack-preview.md").read_text()
    assert page.count("\n## ") + page.startswith("## ") == 3
    assert "Large upload (a1)" in page and f"edit of {entries[0]['ts']}" in page


def test_preview_sender_records_uploads_as_slack_would_receive_them(outbox, clock, tmp_path):
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"12345")
    preview = PreviewSender(tmp_path / "slack-preview.jsonl")
    outbox.enqueue(
        notification("r1", kind="report", alerts=(), text="weekly", attachment_path=str(chart)), clock()
    )

    assert drain(outbox, preview, clock).sent == 1

    entries = [json.loads(line) for line in (tmp_path / "slack-preview.jsonl").read_text().splitlines()]
    assert [e["method"] for e in entries] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert entries[0]["args"] == {"filename": "chart.png", "length": 5}
    assert entries[1]["args"]["channel_id"] == "alerts-warning"
    assert json.loads(entries[1]["args"]["files"])[0]["title"] == "chart.png"
    assert outbox.message_ref("r1") == ("alerts-warning", entries[1]["ts"])
    assert "file: chart.png" in (tmp_path / "slack-preview.md").read_text()
