"""Exactly once under crashes, fault storms and concurrent drains: every identity is in Slack once.

A crash is a ``SimulatedCrash`` raised from deliver_once's hook at a named step; the drain dies there
with its row mid-flight, as a killed process would leave it, and a later drain (after the lease) must
finish the job without posting twice.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter

import pytest

from bucketlens.alerts.delivery import CRASH_POINTS, SimulatedCrash, SlackSender, deliver_once
from bucketlens.alerts.outbox import Outbox
from tests.alerts.conftest import CLIENT_TIMEOUT, TOKEN, notification
from tests.alerts.fake_slack import Fault

CRASH_TRIALS = 50
STORM_MESSAGES = 200
STORM_SEED = 20261005
FAULT_MIX = ("429", "500", "slow", "drop", "processed_drop")


def workload(count: int, prefix: str) -> list:
    """Alerts over three channels; in every ten, the first is resolved (an edit plus a thread reply) and
    escalated (a reply in its thread)."""
    channels = ("alerts-critical", "alerts-warning", "alerts-info")
    items = []
    for i in range(count):
        identity = f"{prefix}{i:03d}"
        if i % 10 in (3, 7):
            original = items[i - i % 10]
            ref = {"kind": "resolved", "edit_of": original.identity}
            if i % 10 == 7:
                ref = {"kind": "escalation", "thread_of": original.identity}
            items.append(notification(identity, channel=original.channel, **ref))
        else:
            items.append(notification(identity, channel=channels[i % 3]))
    return items


def posted_counts(slack, identities) -> Counter:
    return Counter({identity: len(slack.state.posted(identity)) for identity in identities})


def tally(stats: dict, counts: Counter) -> None:
    stats["sent"] += sum(1 for c in counts.values() if c >= 1)
    stats["duplicated"] += sum(c - 1 for c in counts.values() if c > 1)
    stats["lost"] += sum(1 for c in counts.values() if c == 0)


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_a_crash_at_any_step_neither_loses_nor_duplicates(step, outbox, sender, slack, clock, delivery_stats):
    items = workload(CRASH_TRIALS, f"{step}-")
    for item in items:
        outbox.enqueue(item, clock())
    crashed: set[str] = set()

    def crash_once(at: str, identity: str) -> None:
        if at == step and identity not in crashed:
            crashed.add(identity)
            raise SimulatedCrash(f"{at} {identity}")

    for _ in range(4 * CRASH_TRIALS):
        with contextlib.suppress(SimulatedCrash):
            deliver_once(outbox, sender, now=clock(), crash=crash_once)
        clock.advance(minutes=3)  # past the 2-minute lease: the next drain takes over the dead claim
        if outbox.pending_count() == 0:
            break

    counts = posted_counts(slack, [i.identity for i in items])
    tally(delivery_stats, counts)
    delivery_stats["crash_points"] += 1
    delivery_stats["crash_trials"] = CRASH_TRIALS
    assert crashed == {i.identity for i in items}  # every notification crashed once at this step
    assert outbox.counts() == {"pending": 0, "sending": 0, "sent": CRASH_TRIALS, "dead": 0}
    assert counts == Counter(dict.fromkeys(counts, 1))
    resolved_edits = [i for i in items if i.kind == "resolved"]
    assert slack.methods().count("chat.update") >= len(resolved_edits)


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


def test_a_storm_of_faults_delivers_every_message_exactly_once(outbox, slack, clock, delivery_stats):
    rng = random.Random(STORM_SEED)
    sender = SlackSender(
        TOKEN, slack.api_url, timeout=0.15
    )  # "slow" answers after 0.3 s: a timeout (a spurious one only adds a retry)
    writes = ("chat.postMessage", "chat.update")
    reads = ("conversations.history", "conversations.replies", "conversations.list")
    injected: Counter = Counter()

    def storm(method: str, args: dict) -> Fault | None:
        fault = None
        if method in writes and rng.random() < 0.3:
            fault = Fault(rng.choice(FAULT_MIX), retry_after=rng.choice((5, 30, 120)), delay=0.3)
        elif method in reads and rng.random() < 0.1:
            fault = Fault(rng.choice(("429", "500")), retry_after=5)
        if fault:
            injected[fault.kind] += 1
        return fault

    slack.state.fault_fn = storm
    items = workload(STORM_MESSAGES, "storm-")
    for item in items:
        outbox.enqueue(item, clock())

    drains = 0
    while outbox.pending_count() and drains < 60:
        deliver_once(outbox, sender, now=clock(), limit=STORM_MESSAGES, rng=rng)
        clock.advance(minutes=11)  # past the backoff cap, the longest Retry-After and the lease
        drains += 1

    counts = posted_counts(slack, [i.identity for i in items])
    tally(delivery_stats, counts)
    delivery_stats["storm_messages"] += STORM_MESSAGES
    assert set(injected) == set(FAULT_MIX) and min(injected.values()) >= 5  # every kind of fault, often
    assert outbox.counts() == {"pending": 0, "sending": 0, "sent": STORM_MESSAGES, "dead": 0}
    assert counts == Counter(dict.fromkeys(counts, 1))


def test_two_concurrent_drains_never_post_one_row_twice(outbox_url, slack, delivery_stats):
    setup = Outbox(outbox_url)
    items = [notification(f"c{i:02d}") for i in range(40)]
    for item in items:
        setup.enqueue(item)  # real time: both drains run on the real clock
    slack.state.fault_fn = lambda method, args: (
        Fault("slow", delay=0.02) if method == "chat.postMessage" else None
    )
    slack.state.clock = time.time
    reports = []

    def drain() -> None:
        box = Outbox(outbox_url)
        reports.append(deliver_once(box, SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT * 2)))
        box.dispose()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    counts = posted_counts(slack, [i.identity for i in items])
    tally(delivery_stats, counts)
    delivery_stats["concurrent"] += len(items)
    assert sum(r.sent for r in reports) == len(items)
    assert all(r.sent > 0 for r in reports)  # both drains did work: they really ran side by side
    assert counts == Counter(dict.fromkeys(counts, 1))
    assert setup.counts()["sent"] == len(items)
