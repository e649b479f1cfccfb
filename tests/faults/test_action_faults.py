"""The response-action half of the fault suite: a service endpoint misbehaving in every way it does, drains
killed at each step, two drains at once, an endpoint withdrawn (410) and one failing until its webhooks
die — on SQLite and on a real PostgreSQL server — and an SMTP server refusing and losing answers.

Each scenario adds a row to the fault table (tests/faults/table.py) and asserts it. The receiver
(tests/actions/receiver.py) verifies every request with the ``standardwebhooks`` reference library and
applies each ``webhook-id`` once; the columns are counted on its side:

* ``sent``: webhooks applied (distinct webhook-ids), or emails received (distinct Message-IDs);
* ``duplicated``: requests applied more than once — under two webhook-ids (what a sender minting a new id
  per retry does) or twice under one (a receiver not deduplicating); must be 0;
* ``lost``: webhooks or emails never applied; ``dead``: outbox rows dead at the end.

A retry after an answer that never came is *redelivered* under the same id and acknowledged without being
applied again: the tests assert how many, and that the receiver refused none of bucketlens's requests.
Time is the test's clock (hours of backoff cost nothing), except for the concurrent drains, which run on a
clock 240× faster than real time, with the backoff doubling instead of quadrupling per attempt, so that retries
fall due while the other drain still works (the lease, two minutes, still outlasts every send: 0.5 s of real
time against the senders' 0.04 s timeout).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from bucketlens.actions import delivery as action_delivery
from bucketlens.actions.delivery import deliver_actions
from bucketlens.actions.email import Mailer, OptOutList, SmtpServer, SmtpTransport, UserAddresses
from bucketlens.actions.signing import parse_secret
from bucketlens.actions.store import ActionStore
from bucketlens.actions.webhooks import HttpWebhookSender, PreviewWebhookSender
from bucketlens.alerts.delivery import CRASH_POINTS, SimulatedCrash
from bucketlens.leased_queue import utc_naive
from bucketlens.settings import default
from tests.actions.conftest import CHANNELS, SECRET, START, alert, section
from tests.actions.receiver import Fault, WebhookReceiver, storm
from tests.actions.smtp_server import SmtpServer as LocalSmtp
from tests.alerts.conftest import Clock
from tests.faults.table import FaultRow

pytestmark = pytest.mark.faults

REQUESTS = 40  # 20 upload blocks (each lifted after a minute) and 20 user notices: 60 webhooks
CRASH_TRIALS = 20
DRAIN_TRIALS = 20
DRAIN_TRIAL_REQUESTS = 6
EMAILS = 20
MAX_DRAINS = 80
FAST = 240  # the concurrent drains' clock: one real second is four minutes
POLICIES = section(
    max_data_age="30d",
    policies=[
        {"rule": "rapid_upload", "action": "block_uploads", "mode": "auto", "duration": "1m"},
        {"rule": "quota_80_percent", "action": "notify_user", "mode": "auto"},
    ],
    email={"mode": "auto", "user_notices": {"over_plan_limit": "quota_exceeded"}},
)  # fmt: skip


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def receiver(clock):
    with WebhookReceiver(SECRET, clock.epoch) as r:
        yield r


@pytest.fixture
def store(alert_db_url):
    s = ActionStore(alert_db_url)
    yield s
    s.dispose()


def workload(store: ActionStore, prefix: str, count: int = REQUESTS, now: datetime = START) -> set[str]:
    """``count`` requests (half upload blocks with a lift, half notices); the webhook-ids expected."""
    alerts = [
        alert(user=f"{prefix}{i:03d}", rule="rapid_upload" if i % 2 == 0 else "quota_80_percent")
        for i in range(count)
    ]
    plan, _ = store.plan(alerts, POLICIES, CHANNELS, now)
    return {o.identity for o in plan.outgoing}


def sender(receiver, timeout: float = 1.0) -> HttpWebhookSender:
    return HttpWebhookSender(receiver.url, parse_secret(SECRET), receiver.url, timeout=timeout)


def drain_until_empty(store, send, clock, step: timedelta, **kw) -> int:
    drains = 0
    while store.outbox.pending_count() and drains < MAX_DRAINS:
        deliver_actions(store, send, now=clock(), limit=500, **kw)
        clock.advance(seconds=step.total_seconds())
        drains += 1
    return drains


def unsent(store: ActionStore, identities: set[str]) -> int:
    """How many of ``identities`` are not sent yet (one query, where a loop over ``outbox.get`` made
    one per row per drain round)."""
    t = store.outbox.table
    query = sa.select(sa.func.count()).where(t.c.identity.in_(identities), t.c.state != "sent")
    with store.outbox.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def record(
    fault_table, case: str, store: ActionStore, receiver, expected: set[str], trials: int = 1
) -> FaultRow:
    state = receiver.state
    applied = set(state.applied) & expected
    twice = sum(n - 1 for n in state.by_request().values() if n > 1)
    row = FaultRow(
        suite="actions",
        case=case,
        database=store.engine.dialect.name,
        trials=trials,
        sent=len(applied),
        duplicated=twice,
        lost=len(expected - applied),
        dead=store.outbox.counts()["dead"],
    )
    fault_table(row)
    return row


def assert_exactly_once(row: FaultRow, expected: int, receiver) -> None:
    assert (row.sent, row.duplicated, row.lost, row.dead) == (expected, 0, 0, 0)
    assert receiver.state.rejected == []  # every request bucketlens sent passed the reference verifier


# --- the endpoint misbehaving -------------------------------------------------------------------------

# case → (fault kinds, share of arrivals failing, client timeout). "slow_after"/"drop_after": the receiver
# applied the webhook, the answer never arrived — the retry is a redelivery under the same id.
STORMS = {
    "5xx storm": (("500",), 0.25, 1.0),
    "dropped connections": (("drop",), 0.25, 1.0),
    "slow answers (timeouts)": (("slow_after",), 0.25, 0.2),
    "processed, answer dropped": (("drop_after",), 0.25, 1.0),
    "429 storm (Retry-After 30 s)": (("429",), 0.4, 1.0),
    "mixed storm (429/5xx/slow/drop/lost)": (("429", "500", "slow_after", "drop", "drop_after"), 0.3, 0.2),
}


@pytest.mark.parametrize("case", list(STORMS))
def test_a_fault_storm_delays_every_webhook_but_loses_and_duplicates_none(case, store, receiver, clock, fault_table):  # fmt: skip
    kinds, rate, timeout = STORMS[case]
    receiver.state.fault_fn = storm(kinds, rate, seed=len(case), delay=timeout + 0.1)
    expected = workload(store, "s")
    drain_until_empty(store, sender(receiver, timeout), clock, timedelta(minutes=30), rng=random.Random(7))
    row = record(fault_table, case, store, receiver, expected)
    assert sum(receiver.state.faults.values()) >= 10
    assert_exactly_once(row, len(expected), receiver)
    assert len(expected) == 60
    if "slow" in case or "lost" in case or "answer dropped" in case:
        assert sum(receiver.state.redelivered.values()) >= 1  # some answers lost: resent, applied once


# --- a drain killed at each step ------------------------------------------------------------------------


@pytest.mark.parametrize("step", CRASH_POINTS)
def test_a_crash_at_each_step(step, store, receiver, clock, fault_table):
    """Each webhook's drain dies once at ``step`` (its row left mid-flight, as a killed process leaves it);
    a later drain, after the 2-minute lease, finishes the job."""
    expected = {i for i in workload(store, f"{step[:2]}", CRASH_TRIALS) if not i.endswith("-lift")}
    crashed: set[str] = set()

    def crash_once(at: str, identity: str) -> None:
        if at == step and identity not in crashed and identity in expected:
            crashed.add(identity)
            raise SimulatedCrash(f"{at} {identity}")

    send = sender(receiver)
    for _ in range(4 * CRASH_TRIALS):
        with contextlib.suppress(SimulatedCrash):
            deliver_actions(store, send, now=clock(), crash=crash_once)
        clock.advance(minutes=3)
        if all(store.outbox.get(i).state == "sent" for i in expected):
            break
    row = record(fault_table, f"crash {step}", store, receiver, expected, CRASH_TRIALS)
    assert crashed == expected
    assert_exactly_once(row, CRASH_TRIALS, receiver)
    # killed after the receiver applied it: sent again under the same id, acknowledged, not applied again
    assert sum(receiver.state.redelivered.values()) == (CRASH_TRIALS if step == "after_send" else 0)


# --- two drains at once -----------------------------------------------------------------------------------


def test_two_concurrent_drains(alert_db_url, store, fault_table, monkeypatch):
    """Two drains (the sensor tick and `actions deliver`) loop side by side over one outbox while the
    receiver applies half the webhooks and loses or delays the answer: rows go uncertain under one drain and
    fall due under the other. Every decision is taken from the row as claimed, so none is applied twice.
    (Backoff doubles per attempt here: with the product's ×4, a row at its fifth attempt waited seconds of
    real time while both drains spun, and the test took 70–90 s for the same faults.)"""
    monkeypatch.setattr(action_delivery, "BACKOFF_FACTOR", 2)
    t0, base = time.monotonic(), utc_naive(START)

    def fast_clock() -> datetime:
        return base + timedelta(seconds=(time.monotonic() - t0) * FAST)

    rng = random.Random(11)
    lock = threading.Lock()

    def faults(wid: str, n: int) -> Fault | None:
        with lock:
            hit = rng.random() < 0.5
            return Fault(rng.choice(["drop_after", "slow_after"]), delay=0.06) if hit else None

    expected: set[str] = set()
    both_worked = 0
    with WebhookReceiver(SECRET, lambda: fast_clock().timestamp()) as receiver:
        receiver.state.fault_fn = faults
        for trial in range(DRAIN_TRIALS):
            batch = {i for i in workload(store, f"d{trial:02d}-", DRAIN_TRIAL_REQUESTS, fast_clock())
                     if not i.endswith("-lift")}  # fmt: skip
            expected |= batch
            claimed_by: list[int] = []

            def drain_loop(seed: int, batch: set[str] = batch, claimed_by: list[int] = claimed_by) -> None:
                own = ActionStore(alert_db_url)
                send = sender(receiver, timeout=0.04)
                mine, rounds = 0, 0
                while unsent(own, batch) and rounds < 400:
                    r = deliver_actions(own, send, clock=fast_clock, rng=random.Random(seed + rounds))
                    mine += r.sent + r.retried + r.dead
                    rounds += 1
                claimed_by.append(mine)
                own.dispose()

            threads = [threading.Thread(target=drain_loop, args=(trial * 1000 + k,)) for k in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            both_worked += all(n > 0 for n in claimed_by)
        row = record(fault_table, "two concurrent drains", store, receiver, expected, DRAIN_TRIALS)
        assert both_worked >= DRAIN_TRIALS // 2
        assert (row.sent, row.duplicated, row.lost) == (DRAIN_TRIALS * DRAIN_TRIAL_REQUESTS, 0, 0)
        assert receiver.state.rejected == []


# --- an endpoint withdrawn, an endpoint failing -------------------------------------------------------------


def test_410_holds_everything_until_enable_endpoint_and_retry_dead(store, receiver, clock, fault_table):
    expected = {i for i in workload(store, "g", 10) if not i.endswith("-lift")}
    receiver.state.fault_fn = lambda wid, n: Fault("410") if n == 1 and not receiver.state.applied else None
    send = sender(receiver)
    held = deliver_actions(store, send, now=clock(), meta_channel="#storage-critical")
    assert (held.dead, held.disabled_endpoints) == (10, [receiver.url])
    store.enable_endpoints()
    assert store.outbox.retry_dead(now=clock()) == 10
    clock.advance(seconds=1)
    deliver_actions(store, send, now=clock())
    row = record(fault_table, "410 Gone, enable-endpoint, retry-dead", store, receiver, expected)
    assert_exactly_once(row, 10, receiver)


def test_failing_until_dead_then_retry_dead(store, receiver, clock, fault_table):
    """The endpoint answers 500 for 12 hours: every webhook dies after its 8 attempts (~8 h of backoff),
    one meta-alert each; fixed, `actions retry-dead` delivers all, under the ids they had."""
    expected = {i for i in workload(store, "f", 10) if not i.endswith("-lift")}
    broken_until = clock() + timedelta(hours=12)
    receiver.state.fault_fn = lambda wid, n: Fault("500") if clock() < broken_until else None
    send = sender(receiver)
    while clock() < broken_until:
        deliver_actions(store, send, now=clock(), meta_channel="#storage-critical", rng=random.Random(3))
        clock.advance(minutes=20)
    dead = store.outbox.counts()["dead"]
    with store.engine.connect() as conn:
        metas = conn.execute(
            sa.text("SELECT count(*) FROM outbox_notifications WHERE kind = 'meta'")
        ).scalar_one()
    assert (dead, metas) == (10, 10) and all(receiver.state.arrivals[i] == 8 for i in expected)
    store.outbox.retry_dead(now=clock())
    deliver_actions(store, send, now=clock())
    row = record(fault_table, "500 until dead, then retry-dead", store, receiver, expected)
    assert_exactly_once(row, 10, receiver)


# --- email ----------------------------------------------------------------------------------------------------


@pytest.fixture
def mail(tmp_path):
    url = f"sqlite:///{tmp_path / 'users.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (user_id TEXT PRIMARY KEY, email TEXT)")
        conn.execute(sa.text("INSERT INTO users VALUES (:u, :e)"),
                     [{"u": f"m{i:03d}", "e": f"user{i}@example.org"} for i in range(EMAILS)])  # fmt: skip
    engine.dispose()
    with LocalSmtp() as smtp:
        addresses = UserAddresses(url, default("user_email_query"))
        transport = SmtpTransport(SmtpServer.from_url(smtp.url, "none", timeout=2))
        yield smtp, Mailer(transport, "bucketlens@example.com", addresses, OptOutList(None))
        addresses.dispose()


def email_workload(store: ActionStore) -> set[str]:
    plan, _ = store.plan([alert(user=f"m{i:03d}", rule="over_plan_limit") for i in range(EMAILS)], POLICIES,
                         CHANNELS, START)  # fmt: skip
    return {f"<{o.identity}@bucketlens>" for o in plan.outgoing}


def record_mail(
    fault_table, case: str, store: ActionStore, smtp, expected: set[str], trials: int = 1
) -> FaultRow:
    got = {k for k in smtp.box.by_id if k in expected}
    ids_per_notice: dict[tuple, set] = {}
    for m in smtp.box.messages:  # one notice (recipient, subject) under two Message-IDs is sent twice
        ids_per_notice.setdefault((m["To"], m["Subject"]), set()).add(str(m["Message-ID"]))
    row = FaultRow(
        suite="actions", case=case, database=store.engine.dialect.name, trials=trials, sent=len(got),
        duplicated=sum(len(ids) - 1 for ids in ids_per_notice.values()), lost=len(expected - got),
        dead=store.outbox.counts()["dead"],
    )  # fmt: skip
    fault_table(row)
    return row


def test_an_smtp_server_refusing_and_losing_answers(store, mail, clock, tmp_path, fault_table):
    """451 at RCPT to a quarter of the tries, and a quarter of the messages kept but answered 451: every
    notice arrives; the kept-but-unacknowledged ones arrive again under the same Message-ID."""
    smtp, mailer = mail
    rng = random.Random(5)
    smtp.box.fault_fn = lambda stage, key, n: (
        None if n > 3 or rng.random() > 0.25 else "451 4.3.0 try later" if stage == "rcpt" else "store+451 4.4.2 lost"
    )  # fmt: skip
    expected = email_workload(store)
    webhooks = PreviewWebhookSender(tmp_path / "preview.jsonl", None)
    drain_until_empty(store, webhooks, clock, timedelta(minutes=30), mailer=mailer)
    row = record_mail(fault_table, "SMTP 451 storm, answers lost (email)", store, smtp, expected)
    assert (row.sent, row.duplicated, row.lost, row.dead) == (EMAILS, 0, 0, 0)
    assert len(smtp.box.messages) >= EMAILS  # the redeliveries, each under its Message-ID


def test_an_email_drain_killed_after_the_server_took_the_message(store, mail, clock, tmp_path, fault_table):
    smtp, mailer = mail
    expected = email_workload(store)
    crashed: set[str] = set()

    def crash_once(at: str, identity: str) -> None:
        if at == "after_send" and identity not in crashed:
            crashed.add(identity)
            raise SimulatedCrash(identity)

    webhooks = PreviewWebhookSender(tmp_path / "preview.jsonl", None)
    for _ in range(3 * EMAILS):
        with contextlib.suppress(SimulatedCrash):
            deliver_actions(store, webhooks, mailer, now=clock(), crash=crash_once)
        clock.advance(minutes=3)
        if not store.outbox.pending_count():
            break
    row = record_mail(fault_table, "crash after_send (email)", store, smtp, expected, EMAILS)
    assert (row.sent, row.duplicated, row.lost, row.dead) == (EMAILS, 0, 0, 0)
    assert sorted(smtp.box.by_id.values()) == [2] * EMAILS  # each resent once under its own Message-ID
