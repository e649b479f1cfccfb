"""The demo month (2,000 users, 35 days, seed 7) with the issue's policies in each mode: the figures the
README quotes. Benchmark-scale, opt in with ``-m slow``.

To reuse a warehouse already built (saves the ~20 minutes of generating and running the month)::

    bucketlens generate --out /tmp/act-src --start 2026-11-01 --days 35 --users 2000 --seed 7
    BUCKETLENS_HOME=/tmp/act-home BUCKETLENS_SOURCE=/tmp/act-src bucketlens run --start 2026-11-01 --end 2026-12-05
    BUCKETLENS_ACTIONS_DEMO=/tmp/act-home:/tmp/act-src pytest -m slow tests/actions/test_demo_month.py -s

``max_data_age`` is 60 days: the month lies up to 35 days before today, and the default (14 days) keeps a
backfill from acting on old data (the last scenario counts what the default does).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.actions import ACTION_ASSETS
from bucketlens.actions.store import ActionStore
from bucketlens.anomaly.rules import DEFAULT_RULES
from bucketlens.settings import Settings
from pipelines.runner import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG
from resources import build_resources, resolved_resources
from sensors.action_delivery import action_tick
from tests.actions.conftest import SECRET
from tests.actions.receiver import WebhookReceiver
from tests.alerts.conftest import Clock
from tests.conftest import bucketlens_env

pytestmark = pytest.mark.slow

START, DAYS, USERS = date(2026, 11, 1), 35, 2000
ISSUE_POLICIES = [  # the issue's example, in the mode of each scenario
    {"rule": "rapid_upload", "action": "block_uploads", "duration": "24h"},
    {"rule": "failed_access_storm", "action": "throttle"},
    {"rule": "quota_80_percent", "action": "notify_user"},
]
INJECTED = ("rapid_upload", "failed_access_storm")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(home, source) of the demo month materialized through alert_events."""
    given = os.environ.get("BUCKETLENS_ACTIONS_DEMO")
    if given:
        home, source = (Path(p) for p in given.split(":"))
        return home, source
    from pipelines.runner import days_between, run_days
    from synthetic import generate

    root = tmp_path_factory.mktemp("demo")
    home, source = root / "home", root / "source"
    generate(source, START, DAYS, USERS, seed=7)
    with bucketlens_env(home, source, f"sqlite:///{source / 'users.sqlite'}"):
        from pipelines.definitions import defs

        with dg.instance_for_test() as instance:
            outcomes = run_days(defs(), instance, days_between(START, START + timedelta(days=DAYS - 1)))
    assert all(o.success for o in outcomes)
    return home, source


@contextmanager
def run_mode(demo, tmp_path, mode: str, max_age: str = "60d"):
    """Fresh action tables, the action assets over the month, a receiver: what to measure."""
    home, source = demo
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    rules["actions"] = {"max_data_age": max_age, "policies": [{**p, "mode": mode} for p in ISSUE_POLICIES]}
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    clock = Clock(datetime.now(UTC))
    receiver = WebhookReceiver(SECRET, clock.epoch)
    extra = {
        "BUCKETLENS_RULES": str(tmp_path / "rules.yaml"),
        "BUCKETLENS_OUTBOX_DB": f"sqlite:///{tmp_path / 'outbox.sqlite'}",
        "BUCKETLENS_ACTIONS_URL": receiver.url,
        "BUCKETLENS_WEBHOOK_SECRET": SECRET,
    }

    def env():
        return bucketlens_env(home, source, f"sqlite:///{source / 'users.sqlite'}", **extra)

    last = START + timedelta(days=DAYS - 1)
    with env():
        defs = dg.Definitions(assets=ACTION_ASSETS, resources=build_resources(Settings.from_env()))
        job = defs.resolve_implicit_global_asset_job_def()
        tags = {RANGE_START_TAG: START.isoformat(), RANGE_END_TAG: last.isoformat()}
        assert job.execute_in_process(tags=tags, run_config=QUIET_CONSOLE).success
    clock.now = datetime.now(UTC)

    def tick():
        with env(), resolved_resources(Settings.from_env()) as r:
            return action_tick(r.actions, r.rules, now=clock())

    store = ActionStore(extra["BUCKETLENS_OUTBOX_DB"])
    with receiver:
        yield store, receiver, clock, tick
    store.dispose()


def labelled(source: Path) -> set[tuple[str, str, str]]:
    records = [json.loads(line) for line in (source / "labels.jsonl").read_text().splitlines()]
    return {(r["pattern"], r["user_id"], r["date"]) for r in records if r["pattern"] in INJECTED}


def test_auto_one_signed_request_per_injected_case_and_each_block_lifted(demo, tmp_path):
    with run_mode(demo, tmp_path, "auto") as (store, receiver, clock, tick):
        measure_auto(demo, store, receiver, clock, tick)


def measure_auto(demo, store, receiver, clock, tick):
    requests = store.requests()
    tick()
    applied = receiver.state.applied
    got = {
        (r.rule, r.user_id, r.usage_date) for r in requests if r.rule in INJECTED and r.state == "requested"
    }
    cases = labelled(demo[1])
    assert got == cases  # every injected case once, nothing else for these rules
    per_case = Counter(
        (b["data"]["rule"], b["data"]["user_id"], b["data"]["usage_date"]) for b in applied.values()
    )
    assert all(per_case[c] == 1 for c in cases)
    quota = [r for r in requests if r.rule == "quota_80_percent"]
    assert {r.state for r in quota} <= {"requested", "skipped"}
    sent_quota = sum(1 for b in applied.values() if b["data"]["rule"] == "quota_80_percent")
    assert sent_quota == sum(r.state == "requested" for r in quota)
    blocks = sum(r.action == "block_uploads" and r.state == "requested" for r in requests)
    clock.advance(hours=25)
    tick()
    lifts = [b for b in receiver.state.applied.values() if b["type"] == "bucketlens.action.lifted"]
    assert len(lifts) == blocks and receiver.state.rejected == []
    print(
        f"\nauto: {len(cases)} injected cases ({Counter(c[0] for c in cases)}) → {len(got)} signed requests, "
        f"each applied once; quota_80_percent: {len(quota)} users-episodes → {sent_quota} notify_user "
        f"({sum(r.state == 'skipped' for r in quota)} skipped by cooldown); {len(lifts)} of {blocks} "
        f"block_uploads lifted after 24 h; {len(receiver.state.applied)} webhooks, 0 refused by the verifier"
    )


def test_approve_sends_nothing_until_approved(demo, tmp_path):
    with run_mode(demo, tmp_path, "approve") as (store, receiver, clock, tick):
        measure_approve(store, receiver, clock, tick)


def measure_approve(store, receiver, clock, tick):
    tick()
    waiting = store.requests(state="awaiting_approval")
    assert len(receiver.state.applied) == 0 and len(waiting) > 0
    for r in waiting:
        store.decide(r.request_id, "approve", "demo", "measured", clock())
    clock.advance(seconds=30)
    tick()
    assert set(receiver.state.applied) == {r.request_id for r in waiting}
    print(
        f"\napprove: {len(waiting)} proposals, 0 webhooks before approval, {len(receiver.state.applied)} after"
    )


def test_dry_run_sends_nothing_and_logs_everything(demo, tmp_path):
    with run_mode(demo, tmp_path, "dry_run") as (store, receiver, _, tick):
        tick()
        requests = store.requests()
        decided = [e for e in store.log_entries() if e.event == "decided"]
        assert len(receiver.state.applied) == 0 and store.outbox.counts()["pending"] == 0
        assert len(decided) == len(requests) and {r.state for r in requests} <= {"dry_run", "skipped"}
        print(
            f"\ndry_run: {len(requests)} requests logged ({Counter(r.state for r in requests)}), 0 webhooks queued"
        )


def test_default_max_data_age_acts_only_on_the_last_14_days(demo, tmp_path):
    with run_mode(demo, tmp_path, "auto", max_age="14d") as (store, receiver, _, tick):
        tick()
        states = Counter((r.rule, r.state) for r in store.requests() if r.rule in INJECTED)
        print(f"\nauto with max_data_age 14d on {datetime.now(UTC).date()}: {dict(states)}; "
              f"{len(receiver.state.applied)} webhooks sent")  # fmt: skip
        assert states[("rapid_upload", "skipped")] + states[("rapid_upload", "requested")] == 3
