"""``bucketlens alerts list-dead`` and ``retry-dead``: what an operator runs once a missing channel exists."""

from __future__ import annotations

from bucketlens.alerts.outbox import Outbox
from pipelines.cli import main
from tests.alerts.conftest import START, notification
from tests.conftest import bucketlens_env


def dead_outbox(home) -> Outbox:
    """Three notifications dead for a missing #storage-new, one dead for another reason."""
    box = Outbox(f"sqlite:///{home / 'outbox.sqlite'}")
    for identity, channel, error in (
        ("a1", "#storage-new", "channel_not_found: #storage-new"),
        ("a2", "#storage-new", "channel_not_found: #storage-new"),
        ("a3", "storage-new", "not_in_channel"),
        ("b1", "#storage-alerts", "chat_postMessage: HTTP 400 invalid_blocks"),
    ):
        box.enqueue(notification(identity, channel=channel), START)
        box.mark_dead(identity, box.claim(identity, START).claim_token, error)
    return box


def test_list_dead_shows_each_row_and_the_count_per_channel(tmp_path, capsys):
    dead_outbox(tmp_path).dispose()
    with bucketlens_env(tmp_path, tmp_path / "src"):
        code = main(["alerts", "list-dead", "--channel", "storage-new", "--limit", "2"])

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[:2] == [
        "  dead: a3 → storage-new, 1 attempt(s): not_in_channel",
        "  dead: a2 → #storage-new, 1 attempt(s): channel_not_found: #storage-new",
    ]
    assert out[2] == "  … 1 more"
    assert out[3].startswith("dead per channel: #storage-alerts 1, #storage-new 2, storage-new 1.")


def test_retry_dead_needs_a_scope_then_moves_one_channels_rows_back(tmp_path, capsys):
    box = dead_outbox(tmp_path)
    with bucketlens_env(tmp_path, tmp_path / "src"):
        refused = main(["alerts", "retry-dead"])
        moved = main(["alerts", "retry-dead", "--channel", "#storage-new"])
        empty = main(["alerts", "list-dead", "--channel", "storage-new"])

    out = capsys.readouterr().out.splitlines()
    assert (refused, moved, empty) == (2, 0, 0)
    assert out[0] == "error: retry-dead needs --channel C (the channel you fixed) or --all"
    assert out[1].startswith("3 dead notification(s) of #storage-new back to pending")
    assert out[2] == "no dead notifications for storage-new"
    assert [box.get(i).state for i in ("a1", "a2", "a3", "b1")] == ["pending", "pending", "pending", "dead"]
    box.dispose()
