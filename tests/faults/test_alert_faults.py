"""The alert half of the fault suite: Slack misbehaving in every way it does, drains crashing at each
step, two drains and two planners at once — on SQLite and on a real PostgreSQL server.

Each scenario adds a row to the fault table (tests/faults/table.py) and asserts it: every notification
in Slack exactly once (0 duplicated, 0 lost) and none dead, since every channel exists. Time is the
test's clock (backoffs and Retry-After cost nothing), except for the concurrent drains, which run on a
clock 60× faster than real time so that retries fall due while the other drain still works.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
import threading
import time
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bucketlens.alerts.alert_db import groups, notifications
from bucketlens.alerts.delivery import CRASH_POINTS, SimulatedCrash, SlackSender, deliver_once
from bucketlens.alerts.notification import Notification
from bucketlens.alerts.notify_log import NotifyLog
from bucketlens.alerts.outbox import Outbox, utc_naive
from tests.alerts.conftest import CHANNELS, CLIENT_TIMEOUT, START, TOKEN, Clock, notification
from tests.alerts.fake_slack import FakeSlack, Fault, storm
from tests.alerts.planner import plan_turn
from tests.faults.table import FaultRow
from tests.postgres import database_name

pytestmark = pytest.mark.faults

CRASH_TRIALS = 20
STORM_MESSAGES = 40
MIXED_STORM_MESSAGES = 60
DRAIN_TRIALS = 20
DRAIN_TRIAL_MESSAGES = 6
PLANNER_THREAD_TRIALS = 10
PLANNER_PROCESS_TRIALS = 1  # a spawned process takes ~1.5 s to import
MAX_DRAINS = 60
FAST = 60  # the concurrent drains' clock: one real second is a minute


def workload(count: int, prefix: str, attachment: str = "") -> list:
    """Alerts over three channels; in every ten, one resolves (an edit and a thread reply), one escalates
    (a reply in a thread) and, with ``attachment``, one is a report with a file."""
    channels = ("alerts-critical", "alerts-warning", "alerts-info")
    items = []
    for i in range(count):
        identity = f"{prefix}{i:03d}"
        original = items[i - i % 10] if i % 10 else None
        if i % 10 == 3:
            items.append(
                notification(identity, channel=original.channel, kind="resolved", edit_of=original.identity)
            )
        elif i % 10 == 7:
            items.append(
                notification(
                    identity, channel=original.channel, kind="escalation", thread_of=original.identity
                )
            )
        elif i % 10 == 5 and attachment:
            items.append(
                notification(
                    identity,
                    channel=channels[i % 3],
                    kind="report",
                    alerts=(),
                    text=f"report {identity}",
                    attachment_path=attachment,
                )
            )
        else:
            items.append(notification(identity, channel=channels[i % 3]))
    return items  # fmt: skip


def in_slack(slack, items) -> Counter:
    """How often each notification is in Slack (an upload is found by its comment and file)."""
    counts = Counter()
    for item in items:
        if item.attachment_path:
            counts[item.identity] = sum(
                1 for msgs in slack.state.messages.values() for m in msgs
                if m.get("files") and m.get("text", "").startswith(f"[{item.severity}] {item.title}")
            )  # fmt: skip
        else:
            counts[item.identity] = len(slack.state.posted(item.identity))
    return counts


def record(fault_table, case: str, url: str, trials: int, counts: Counter, box: Outbox) -> FaultRow:
    fault_row = FaultRow(
        suite="alerts",
        case=case,
        database=database_name(url),
        trials=trials,
        sent=sum(1 for c in counts.values() if c >= 1),
        duplicated=sum(c - 1 for c in counts.values() if c > 1),
        lost=sum(1 for c in counts.values() if c == 0),
        dead=box.counts()["dead"],
    )
    fault_table(fault_row)
    return fault_row


def assert_exactly_once(fault_row: FaultRow, expected: int) -> None:
    assert (fault_row.sent, fault_row.duplicated, fault_row.lost, fault_row.dead) == (expected, 0, 0, 0)


def drain_until_empty(box: Outbox, sender, clock: Clock, step: timedelta, **kw) -> int:
    drains = 0
    while box.pending_count() and drains < MAX_DRAINS:
        deliver_once(box, sender, now=clock(), limit=500, **kw)
        clock.advance(seconds=step.total_seconds())
        drains += 1
    return drains


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack(clock: Clock):
    with FakeSlack(TOKEN, CHANNELS, clock=clock.epoch) as fake:
        yield fake


@pytest.fixture
def box(alert_db_url):
    outbox = Outbox(alert_db_url)
    yield outbox
    outbox.dispose()


# --- Slack misbehaving ------------------------------------------------------------------------------

# case → (fault kinds, share of calls failing, client timeout). A quarter of every call failing is a
# severe storm; a row still dies after 8 failed sends (each a 5xx or a drop), which it must not here.
STORMS = {
    "5xx storm": (("500",), 0.25, CLIENT_TIMEOUT),
    "dropped connections": (("drop",), 0.25, CLIENT_TIMEOUT),
    "slow answers (timeouts)": (("slow",), 0.25, 0.15),
    "processed, answer dropped": (("processed_drop",), 0.25, CLIENT_TIMEOUT),
}


@pytest.mark.parametrize("case", list(STORMS))
def test_a_fault_storm_delays_every_message_but_loses_and_duplicates_none(case, alert_db_url, box, slack, clock, tmp_path, fault_table):  # fmt: skip
    kinds, rate, timeout = STORMS[case]
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"png")
    slack.state.fault_fn, injected = storm(kinds, rate, seed=len(case))
    items = workload(STORM_MESSAGES, "s-", str(chart))
    for item in items:
        box.enqueue(item, clock())

    drain_until_empty(box, SlackSender(TOKEN, slack.api_url, timeout=timeout), clock, timedelta(minutes=11))

    fault_row = record(fault_table, case, alert_db_url, 1, in_slack(slack, items), box)
    assert sum(injected.values()) >= 10
    assert_exactly_once(fault_row, STORM_MESSAGES)


def test_429_on_the_first_calls_of_every_method(alert_db_url, box, slack, clock, tmp_path, fault_table):
    """The workspace is over its limits: 429 (Retry-After 30 s) to the first three calls of every method
    — listing, history, replies, posting, editing, files — and every first post's answer is lost, so
    history and replies are read too. The old sender let the failed listing kill almost everything."""
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"png")
    lost_once: set[str] = set()

    def lose_first_answers(method: str, args: dict):
        identity = (args.get("metadata") or {}).get("event_payload", {}).get("identity")
        if method == "chat.postMessage" and identity not in lost_once:
            lost_once.add(identity)
            return Fault("processed_drop")
        return None

    slack.state.fault_fn = lose_first_answers
    limited = slack.rate_limit_first(3, retry_after=30)
    items = workload(STORM_MESSAGES, "r-", str(chart))
    for item in items:
        box.enqueue(item, clock())

    drain_until_empty(
        box, SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT), clock, timedelta(seconds=31)
    )

    fault_row = record(
        fault_table, "429 first 3 calls, every method", alert_db_url, 1, in_slack(slack, items), box
    )
    assert {m for m, n in limited.items() if n > 3} >= {
        "conversations.list", "conversations.history", "conversations.replies", "chat.postMessage",
        "chat.update", "files.getUploadURLExternal", "files.completeUploadExternal",
    }  # fmt: skip
    assert_exactly_once(fault_row, STORM_MESSAGES)


def test_a_mixed_storm_of_every_fault(alert_db_url, box, slack, clock, fault_table):
    slack.state.fault_fn, injected = storm(
        ("429", "500", "slow", "drop", "processed_drop"), 0.3, seed=20261005
    )
    items = workload(MIXED_STORM_MESSAGES, "m-")
    for item in items:
        box.enqueue(item, clock())

    rng = random.Random(7)
    drain_until_empty(
        box, SlackSender(TOKEN, slack.api_url, timeout=0.15), clock, timedelta(minutes=11), rng=rng
    )

    fault_row = record(
        fault_table, "mixed storm (429/5xx/slow/drop/lost)", alert_db_url, 1, in_slack(slack, items), box
    )
    assert len(injected) == 5 and min(injected.values()) >= 2 and sum(injected.values()) >= 25  # every kind
    assert_exactly_once(fault_row, MIXED_STORM_MESSAGES)


# --- a drain killed at each step ----------------------------------------------------------------------


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_a_crash_at_each_step(step, alert_db_url, box, slack, clock, fault_table):
    """Each notification's drain dies once at ``step`` (its row left mid-flight, as a killed process
    leaves it); a later drain, after the lease, finishes the job."""
    items = workload(CRASH_TRIALS, f"{step}-")
    for item in items:
        box.enqueue(item, clock())
    crashed: set[str] = set()

    def crash_once(at: str, identity: str) -> None:
        if at == step and identity not in crashed:
            crashed.add(identity)
            raise SimulatedCrash(f"{at} {identity}")

    sender = SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT)
    for _ in range(4 * CRASH_TRIALS):
        with contextlib.suppress(SimulatedCrash):
            deliver_once(box, sender, now=clock(), crash=crash_once)
        clock.advance(minutes=3)  # past the 2-minute lease
        if box.pending_count() == 0:
            break

    fault_row = record(fault_table, f"crash {step}", alert_db_url, CRASH_TRIALS, in_slack(slack, items), box)
    assert crashed == {i.identity for i in items}  # every notification crashed once at this step
    assert_exactly_once(fault_row, CRASH_TRIALS)


# --- two drains at once -------------------------------------------------------------------------------


def test_two_concurrent_drains(alert_db_url, box, slack, fault_table):
    """Two drains (the sensor tick and `alerts deliver`) loop side by side over the same outbox while
    Slack loses answers after posting and answers late: rows go uncertain under one drain and fall due
    under the other. Deciding from a row read before the claim posted such rows twice."""
    t0, base = time.monotonic(), utc_naive(START)

    def fast_clock() -> datetime:
        return base + timedelta(seconds=(time.monotonic() - t0) * FAST)

    slack.state.clock = lambda: fast_clock().timestamp()
    rng = random.Random(11)
    slack.state.fault_fn = lambda method, args: (
        (Fault("processed_drop") if rng.random() < 0.5 else Fault("slow", delay=0.06))
        if method == "chat.postMessage" and rng.random() < 0.5
        else None
    )
    items = []
    both_worked = 0
    for trial in range(DRAIN_TRIALS):
        batch = [notification(f"d{trial:02d}-{i}") for i in range(DRAIN_TRIAL_MESSAGES)]
        items += batch
        for item in batch:
            box.enqueue(item, fast_clock())
        claimed_by: list[int] = []

        def drain_loop(seed: int, claimed_by: list[int] = claimed_by) -> None:
            own = Outbox(alert_db_url)
            sender = SlackSender(TOKEN, slack.api_url, timeout=0.04)
            mine, rounds = 0, 0
            while own.pending_count() and rounds < 400:
                r = deliver_once(own, sender, clock=fast_clock, rng=random.Random(seed + rounds))
                mine += r.sent + r.retried + r.reconciled + r.dead  # rows this drain claimed
                rounds += 1
            claimed_by.append(mine)
            own.dispose()

        threads = [threading.Thread(target=drain_loop, args=(trial * 1000 + k,)) for k in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        both_worked += all(n > 0 for n in claimed_by)

    fault_row = record(
        fault_table, "two concurrent drains", alert_db_url, DRAIN_TRIALS, in_slack(slack, items), box
    )
    assert both_worked >= DRAIN_TRIALS // 2  # in most trials both drains claimed rows: side by side
    assert_exactly_once(fault_row, DRAIN_TRIALS * DRAIN_TRIAL_MESSAGES)


# --- two planners at once -------------------------------------------------------------------------------

NOW = datetime(2026, 10, 3, 8, 0)
DAY = date(2026, 10, 2)


def trial_turn(trial: int, planner: int) -> tuple[list[tuple[str, str, date]], datetime]:
    """A planner's alerts in one trial: a group both planners share (user s<trial>) and one of its own
    (user p<trial>-<planner>), grouped by user; each trial an hour after the last (the hourly limit)."""
    day = DAY + timedelta(days=planner)
    alerts = [("daily_upload_volume", f"s{trial}", day), ("large_object", f"p{trial}-{planner}", day)]
    return alerts, NOW + timedelta(hours=2 * trial)


def planner_outcome(url: str, trials: int) -> tuple[Counter, int]:
    """Messages per group (each trial: its shared group once, each planner's own group once) and how
    many group states are missing."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        payloads = conn.execute(sa.select(notifications.c.payload)).scalars().all()
        states = set(conn.execute(sa.select(groups.c.group_key)).scalars())
    engine.dispose()
    keys = Counter(Notification.from_json(p).group_key for p in payloads)
    expected = {f"user_id={u}" for t in range(trials) for u in (f"s{t}", f"p{t}-0", f"p{t}-1")}
    for key in expected:
        keys.setdefault(key, 0)
    return keys, len(expected - states)


def record_planners(fault_table, case: str, url: str, trials: int) -> FaultRow:
    keys, missing_states = planner_outcome(url, trials)
    fault_row = FaultRow(
        suite="alerts",
        case=case,
        database=database_name(url),
        trials=trials,
        sent=sum(1 for c in keys.values() if c >= 1),
        duplicated=sum(c - 1 for c in keys.values() if c > 1),
        lost=sum(1 for c in keys.values() if c == 0) + missing_states,
    )
    fault_table(fault_row)
    return fault_row


def test_two_concurrent_planner_threads(alert_db_url, fault_table):
    NotifyLog(alert_db_url).dispose()
    for trial in range(PLANNER_THREAD_TRIALS):
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(
                target=plan_turn, args=(alert_db_url, *trial_turn(trial, p), 0.02, barrier, ("user_id",))
            )
            for p in (0, 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    fault_row = record_planners(
        fault_table, "two concurrent planners (threads)", alert_db_url, PLANNER_THREAD_TRIALS
    )
    assert (fault_row.sent, fault_row.duplicated, fault_row.lost) == (3 * PLANNER_THREAD_TRIALS, 0, 0)


def test_two_concurrent_planner_processes(alert_db_url, fault_table):
    NotifyLog(alert_db_url).dispose()
    ctx = multiprocessing.get_context("spawn")
    for trial in range(PLANNER_PROCESS_TRIALS):
        barrier = ctx.Barrier(2)
        procs = [
            ctx.Process(
                target=plan_turn, args=(alert_db_url, *trial_turn(trial, p), 0.3, barrier, ("user_id",))
            )
            for p in (0, 1)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=60)
        assert [p.exitcode for p in procs] == [0, 0]

    fault_row = record_planners(
        fault_table, "two concurrent planners (processes)", alert_db_url, PLANNER_PROCESS_TRIALS
    )
    assert (fault_row.sent, fault_row.duplicated, fault_row.lost) == (3 * PLANNER_PROCESS_TRIALS, 0, 0)


# --- a channel that does not exist yet ---------------------------------------------------------------------


def test_a_missing_channel_holds_its_messages_until_retry_dead(alert_db_url, box, slack, clock, fault_table):
    """Routed to a channel nobody created: held as dead (one meta-alert in the fallback channel), then
    delivered once each after the channel exists and `alerts retry-dead` runs. 0 dead at the end."""
    items = [notification(f"x{i:02d}", channel="#storage-new") for i in range(STORM_MESSAGES // 4)]
    for item in items:
        box.enqueue(item, clock())
    sender = SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT)

    held = deliver_once(box, sender, now=clock(), fallback_channel="#alerts-critical")
    slack.state.channels["C0STORNEW01"] = "storage-new"
    moved = box.retry_dead(channel="storage-new", now=clock())
    deliver_once(box, SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT), now=clock())

    fault_row = record(
        fault_table, "missing channel, then retry-dead", alert_db_url, 1, in_slack(slack, items), box
    )
    assert (held.dead, held.missing_channels, moved) == (len(items), {"#storage-new": len(items)}, len(items))
    assert len(slack.state.messages["C0CRITICAL1"]) == 1  # one meta-alert, in the fallback channel
    assert_exactly_once(fault_row, len(items))
