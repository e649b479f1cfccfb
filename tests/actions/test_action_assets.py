"""Response actions end to end on the generated month: the injected abuse cases become signed requests
to a verifying receiver, approvals from the command line and the Dagster UI's job, a rejection, an
expiry, lifts after the duration, dry runs that send nothing, and the audit mirrored into the warehouse.

The tiny source (60 users, 2026-10-01 .. 10) injects one case per pattern: rapid upload by user 1018 and
a failed-access storm by 1050 on the 9th, sharing abuse by 1012 on the 8th, a large object by 1017 (in
the inventory of the 9th). ``max_data_age`` is raised because those days are older than the default
14 days before today.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
import yaml

from assets.actions import ACTION_ASSETS
from assets.actions.approval import actions_approve, actions_reject
from assets.alerts import ALERT_ASSETS
from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS
from assets.usage import USAGE_ASSETS
from bucketlens.actions.policies import ActionsSection
from bucketlens.actions.store import ActionStore
from bucketlens.alerts.state import read_alerts
from bucketlens.anomaly.rules import DEFAULT_RULES
from bucketlens.settings import Settings
from pipelines.cli import main as cli
from pipelines.runner import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG
from resources import build_resources, resolved_resources
from sensors.action_delivery import action_tick
from tests.actions.conftest import CHANNELS, SECRET
from tests.actions.receiver import WebhookReceiver
from tests.alerts.conftest import Clock
from tests.assets.raw_helpers import query
from tests.conftest import bucketlens_env

ALL = [*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS, *ANOMALY_ASSETS, *ALERT_ASSETS, *ACTION_ASSETS]
POLICIES = [
    {"rule": "rapid_upload", "action": "block_uploads", "mode": "auto", "duration": "24h"},
    {"rule": "failed_access_storm", "action": "throttle", "mode": "approve", "duration": "24h"},
    {"rule": "sharing_abuse", "action": "review", "mode": "approve"},
    {"rule": "large_object", "action": "review", "mode": "approve"},
    {"rule": "quota_80_percent", "action": "notify_user", "mode": "dry_run"},
]


@pytest.fixture(scope="module")
def clock():
    return Clock(datetime.now(UTC))


@pytest.fixture(scope="module")
def receiver(clock):
    with WebhookReceiver(SECRET, clock.epoch) as r:
        yield r


@pytest.fixture(scope="module")
def env(tiny_source, tmp_path_factory, receiver):
    home = tmp_path_factory.mktemp("actions-home")
    rules = yaml.safe_load(DEFAULT_RULES.read_text())
    rules["actions"] = {"max_data_age": "400d", "approval_timeout": "24h", "policies": POLICIES}
    (home / "rules.yaml").write_text(yaml.safe_dump(rules))
    extra = {
        "BUCKETLENS_RULES": str(home / "rules.yaml"),
        "BUCKETLENS_ACTIONS_URL": receiver.url,
        "BUCKETLENS_WEBHOOK_SECRET": SECRET,
    }
    return home, tiny_source, extra


@pytest.fixture(scope="module")
def month(env):
    """The 10 days through every layer and the action assets in one range run."""
    home, source, extra = env
    days = [source.start + timedelta(days=i) for i in range(source.days)]
    with bucketlens_env(home, source.root, source.users_db, **extra):
        defs = dg.Definitions(assets=ALL, resources=build_resources(Settings.from_env()))
        job = defs.resolve_implicit_global_asset_job_def()
        tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
        result = job.execute_in_process(tags=tags, run_config=QUIET_CONSOLE, raise_on_error=False)
    assert result.success
    return home, days, result


def requests(home) -> dict[tuple[str, str], tuple]:
    rows = query(home, "SELECT rule, user_id, state, mode, action, request_id FROM actions.action_requests")
    return {(rule, user): tuple(rest) for rule, user, *rest in rows}


def tick(env, at):
    home, source, extra = env
    with (
        bucketlens_env(home, source.root, source.users_db, **extra),
        resolved_resources(Settings.from_env()) as r,
    ):
        return action_tick(r.actions, r.rules, now=at)


def test_each_injected_case_is_one_request_in_its_policys_mode(month):
    home, _, result = month
    got = requests(home)
    assert {k: v[:3] for k, v in got.items() if k[0] != "quota_80_percent"} == {
        ("rapid_upload", "1018"): ("requested", "auto", "block_uploads"),
        ("failed_access_storm", "1050"): ("awaiting_approval", "approve", "throttle"),
        ("sharing_abuse", "1012"): ("awaiting_approval", "approve", "review"),
        ("large_object", "1017"): ("awaiting_approval", "approve", "review"),
    }
    quota = {v[0] for k, v in got.items() if k[0] == "quota_80_percent"}
    assert quota == {"dry_run"} and len([k for k in got if k[0] == "quota_80_percent"]) >= 1
    decided = query(home, "SELECT count(*) FROM actions.action_log WHERE event = 'decided'")[0][0]
    assert decided == len(got)  # every request's decision is in the audit
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["one_request_per_episode"] and checks["every_request_decided"]


def test_auto_sends_one_signed_request_and_approve_and_dry_run_send_nothing(month, env, receiver, clock):
    home, *_ = month
    clock.now = datetime.now(UTC)  # the run decided (and queued) in real time; from here the test's clock
    report = tick(env, clock())
    got = requests(home)
    rapid = got[("rapid_upload", "1018")][3]
    assert report.delivery.sent == 1 and list(receiver.state.applied) == [rapid]
    body = receiver.state.applied[rapid]
    assert (body["type"], body["data"]["user_id"], body["data"]["action"]) == (
        "bucketlens.action.requested", "1018", "block_uploads",
    )  # fmt: skip
    assert json.loads(json.dumps(body["data"]["evidence"]))[
        "top_request_ids"
    ]  # the flag's evidence travels along
    assert receiver.state.rejected == []  # every request passed the reference verifier


def test_approving_from_the_command_line_sends_the_throttle(month, env, receiver, clock, capsys):
    home, source, extra = env
    rid = requests(month[0])[("failed_access_storm", "1050")][3]
    with bucketlens_env(home, source.root, source.users_db, **extra):
        assert cli(["actions", "list", "--state", "awaiting_approval"]) == 0
        listed, _ = capsys.readouterr()
        assert rid in listed and "3 waiting: `bucketlens actions approve ID" in listed
        assert cli(["actions", "approve", rid, "--reason", "botnet 185.220.101.0/24", "--by", "alice"]) == 0
        assert cli(["actions", "approve", rid, "--reason", "again", "--by", "bob"]) == 2
    out, err = capsys.readouterr()
    assert f"{rid} approved: throttle user 1050 queued as webhook-id {rid}" in out
    assert f"{rid} is requested by alice" in err and "Traceback" not in err
    clock.advance(seconds=30)
    assert tick(env, clock()).delivery.sent == 1
    assert receiver.state.applied[rid]["data"]["mode"] == "approve"


def test_the_dagster_job_rejects_with_config_and_fails_in_one_line_when_decided(month, env, receiver):
    home, source, extra = env
    rid = requests(month[0])[("sharing_abuse", "1012")][3]
    config = {"request_id": rid, "reason": "a family sharing one account, allowed", "approver": "dana"}
    with bucketlens_env(home, source.root, source.users_db, **extra):
        resources = build_resources(Settings.from_env())
        done = actions_reject.execute_in_process(
            run_config={"ops": {"reject_action": {"config": config}}}, resources=resources
        )
        again = actions_approve.execute_in_process(
            run_config={"ops": {"approve_action": {"config": config}}},
            resources=resources,
            raise_on_error=False,
        )
    assert done.success and not again.success
    (failure,) = [e for e in again.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_failure_data.error.message.strip().endswith(
        f"{rid} is rejected by dana (Dagster run {done.run_id[:8]}) at "
        f"{decided_at(home, rid)} UTC; only a waiting request is decided"
    )
    assert rid not in receiver.state.applied


def decided_at(home, rid) -> str:
    store = ActionStore(f"sqlite:///{home / 'outbox.sqlite'}")
    try:
        return f"{store.get(rid).decided_at:%Y-%m-%d %H:%M}"
    finally:
        store.dispose()


def test_an_undecided_proposal_expires_and_the_lifts_follow_after_the_duration(month, env, receiver, clock):
    home, *_ = month
    got = requests(home)
    clock.advance(hours=25)  # the receiver's clock too: a webhook signed 25 h ahead would be "too new"
    report = tick(env, clock())
    assert report.expired == 1  # the large-object review nobody decided
    applied = receiver.state.applied
    lifts = sorted(
        (b["data"]["action"], b["data"]["lift_reason"])
        for b in applied.values()
        if b["type"].endswith("lifted")
    )
    assert lifts == [("block_uploads", "duration"), ("throttle", "duration")]
    assert got[("large_object", "1017")][3] not in applied
    assert (
        len(applied) == 4 and receiver.state.rejected == [] and sum(receiver.state.redelivered.values()) == 0
    )


def test_the_audit_in_the_warehouse_and_the_slack_proposals(month, env):
    """A rerun of the action assets decides nothing new and mirrors what the CLI, the job and the sensor did."""
    home, source, extra = env
    with bucketlens_env(home, source.root, source.users_db, **extra):
        result = dg.materialize(ACTION_ASSETS, resources=build_resources(Settings.from_env()),
                                partition_key=month[1][8].isoformat(), run_config=QUIET_CONSOLE)  # fmt: skip
    meta = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                if e.asset_key.to_user_string() == "action_requests")  # fmt: skip
    assert meta["decided_now"].value == 0 and "requests_table" in meta
    events = query(home, "SELECT event, actor, status_code FROM actions.action_log WHERE request_id <> '' "
                         "AND event NOT IN ('decided') ORDER BY logged_at, event")  # fmt: skip
    assert sorted(e for e, *_ in events) == [
        "approved",
        "expired",
        "lifted",
        "lifted",
        "rejected",
        "sent",
        "sent",
    ]
    actors = {e: a for e, a, _ in events if e in ("approved", "rejected")}
    assert actors["approved"] == "alice" and actors["rejected"].startswith("dana (Dagster run ")
    assert sorted(s for e, _, s in events if e in ("sent", "lifted")) == [200, 200, 200, 200]
    states = dict(
        query(home, "SELECT rule, lift_state FROM actions.action_requests WHERE lift_state IS NOT NULL")
    )
    assert states == {"rapid_upload": "sent", "failed_access_storm": "sent"}
    engine = sa.create_engine(f"sqlite:///{home / 'outbox.sqlite'}")
    with engine.connect() as conn:
        texts = (
            conn.exec_driver_sql("SELECT payload FROM outbox_notifications WHERE kind = 'action'")
            .scalars()
            .all()
        )
    engine.dispose()
    titles = sorted(json.loads(t)["title"].split(":")[0] for t in texts)
    assert titles == ["Approval needed"] * 3 + ["Approved", "Expired unapproved", "Rejected", "Requested"]


def test_the_daily_report_and_the_statements_show_the_actions(month, env):
    from assets.reports import REPORT_ASSETS

    home, source, extra = env
    day = month[1][8]  # 2026-10-09: the rapid upload and the failed-access storm
    wanted = [a for a in REPORT_ASSETS if a.key.to_user_string() in ("daily_report", "user_statements")]
    with bucketlens_env(home, source.root, source.users_db, **extra):
        assert dg.materialize(wanted, resources=build_resources(Settings.from_env()), partition_key=day.isoformat(),
                              run_config=QUIET_CONSOLE).success  # fmt: skip
    html = (home / "reports" / "daily_report" / f"{day}.html").read_text()
    section = html.split("<h2>Response actions</h2>", 1)[1].split("</section>", 1)[0]
    assert (
        "<td>1018</td><td>rapid_upload</td><td>block_uploads</td><td>auto</td><td>requested</td>" in section
    )
    assert (
        "<td>1050</td><td>failed_access_storm</td><td>throttle</td><td>approve</td><td>requested</td><td>alice</td>"
        in section
    )
    with open(home / "reports" / "user_statements" / f"{day:%Y-%m}.csv", newline="") as fh:
        rows = {r["user_id"]: r for r in csv.DictReader(fh)}
    assert (rows["1018"]["actions_requested"], rows["1018"]["actions"]) == (
        "1", "2026-10-09 rapid_upload → block_uploads: requested by policy, lifted",
    )  # fmt: skip
    assert rows["1050"]["actions"] == "2026-10-09 failed_access_storm → throttle: requested by alice, lifted"
    assert rows["1012"]["actions_requested"] == "0" and "rejected by dana" in rows["1012"]["actions"]


def test_a_range_decides_what_the_days_one_by_one_decide(month, tmp_path):
    """SETBASED: planning the window at once equals planning each day in turn (the same requests, states and
    decisions), since a day's decision reads the earlier days' from the store, as a one-day run does."""
    home, days, _ = month
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        alerts = read_alerts(con, days)
    finally:
        con.close()
    rules = yaml.safe_load((home / "rules.yaml").read_text())
    policies = ActionsSection.model_validate(rules["actions"])
    at = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)
    decided = []
    for name, windows in (("range", [days]), ("days", [[d] for d in days])):
        store = ActionStore(f"sqlite:///{tmp_path / name}.sqlite")
        for window in windows:
            store.plan([a for a in alerts if a.usage_date in window], policies, CHANNELS, at)
        decided.append(sorted((r.request_id, r.state, r.decision_reason) for r in store.requests()))
        store.dispose()
    assert decided[0] == decided[1] and len(decided[0]) >= 5


def test_a_warehouse_whose_alert_layer_never_ran_decides_nothing(env, tmp_path):
    """The action assets alone on a fresh home (no alerts.alert_events yet) succeed with no request:
    no alerts is not an error."""
    _, source, extra = env
    with bucketlens_env(tmp_path, source.root, source.users_db, **extra):
        result = dg.materialize(ACTION_ASSETS, resources=build_resources(Settings.from_env()),
                                partition_key=source.start.isoformat(), run_config=QUIET_CONSOLE)  # fmt: skip
    assert result.success
    meta = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                if e.asset_key.to_user_string() == "action_requests")  # fmt: skip
    assert meta["decided_now"].value == 0 and meta["requests"].value == 0
    assert query(tmp_path, "SELECT count(*) FROM actions.action_requests")[0][0] == 0
