"""Emails to users and operators through a real SMTP server on 127.0.0.1 (aiosmtpd): the message, the
address lookup, the opt-out list, and what 4xx, 5xx and a lost answer do."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bucketlens.actions.delivery import deliver_actions
from bucketlens.actions.email import Mailer, OptOutList, SmtpServer, SmtpTransport, UserAddresses
from bucketlens.actions.webhooks import PreviewWebhookSender
from bucketlens.alerts.notification import Notification
from bucketlens.settings import default
from tests.actions.conftest import CHANNELS, START, alert, section

NOTICES = section(
    max_data_age="30d", max_attempts=4,
    email={"mode": "auto", "user_notices": {"quota_80_percent": "quota_warning", "rapid_upload": "unusual_activity"},
           "operators": {"critical": ["oncall@example.com", "storage-lead@example.com"]}},
)  # fmt: skip


@pytest.fixture
def users_db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'users.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (user_id TEXT PRIMARY KEY, email TEXT)")
        conn.exec_driver_sql(
            "INSERT INTO users VALUES ('1042', 'ada@example.org'), ('7', 'grace@example.org'), ('8', NULL)"
        )
    engine.dispose()
    return url


@pytest.fixture
def mailer(smtp, users_db, tmp_path):
    addresses = UserAddresses(users_db, default("user_email_query"))
    transport = SmtpTransport(SmtpServer.from_url(smtp.url, "none", timeout=2))
    yield Mailer(
        transport, "bucketlens@example.com", addresses, OptOutList(tmp_path / "opt-out.txt"), "http://ui"
    )
    addresses.dispose()


def drain(store, mailer, clock, tmp_path):
    webhooks = PreviewWebhookSender(tmp_path / "preview.jsonl", None)
    return deliver_actions(
        store, webhooks, mailer, now=clock(), meta_channel="#storage-critical", rng=random.Random(2)
    )


def queue(store, alerts):
    store.outbox.max_attempts = NOTICES.max_attempts
    store.plan(alerts, NOTICES, CHANNELS, START)


def test_a_user_notice_is_text_and_escaped_html_to_the_address_of_the_users_database(store, smtp, mailer, clock, tmp_path):  # fmt: skip
    queue(store, [alert(rule="quota_80_percent", severity="info")])
    assert drain(store, mailer, clock, tmp_path).sent == 1
    (msg,) = smtp.box.messages
    assert (msg["To"], msg["From"], msg["Subject"]) == (
        "ada@example.org", "bucketlens@example.com", "Your photo storage is nearly full",
    )  # fmt: skip
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "on 2026-11-11 your account uploaded 110.0 GB" in text and "<user 1042>" in text
    assert "&lt;user 1042&gt;" in html and "<user 1042>" not in html  # data never becomes markup
    assert msg["Message-ID"].endswith("@bucketlens>") and msg["Auto-Submitted"] == "auto-generated"
    (sent,) = [e for e in store.log_entries() if e.event == "email_sent"]
    assert (sent.user_id, sent.status_code, sent.detail) == (
        "1042",
        250,
        "email.user_notice to ada@example.org",
    )


def test_the_opt_out_list_and_a_missing_address_skip_the_notice(store, smtp, mailer, clock, tmp_path):
    """Written after the notices were queued, the list still counts: it is read when each is sent."""
    queue(store, [alert(user=u, rule="quota_80_percent", severity="info") for u in ("1042", "7", "8")])
    (tmp_path / "opt-out.txt").write_text("# unsubscribed\n1042\nGRACE@example.org  # by address\n")
    report = drain(store, mailer, clock, tmp_path)
    assert (report.sent, report.skipped, smtp.box.messages) == (0, 3, [])
    skipped = sorted(e.detail for e in store.log_entries() if e.event == "email_skipped")
    assert skipped == ["no email address for user 8", "user 1042 opted out of email notices",
                       "user 7 opted out of email notices"]  # fmt: skip
    assert store.outbox.counts()["skipped"] == 3


def test_operators_of_a_severity_get_each_new_alert_besides_slack(store, smtp, mailer, clock, tmp_path):
    queue(store, [alert(user="9", severity="critical"), alert(user="9", severity="critical", day=START.date(),
                                                               first_seen=START.date() - timedelta(days=1))])  # fmt: skip
    report = drain(store, mailer, clock, tmp_path)
    assert (report.sent, report.skipped) == (1, 1)  # the operators' email; user 9 has no address for a notice
    operator = [m for m in smtp.box.messages if "oncall@example.com" in m["To"]]
    assert len(operator) == 1  # one episode, one operator email
    assert operator[0]["To"] == "oncall@example.com, storage-lead@example.com"
    assert operator[0]["Subject"] == "[bucketlens critical] rapid_upload: user 9"


def test_a_4xx_is_retried_and_a_5xx_is_dead_with_a_meta_alert(store, smtp, mailer, clock, tmp_path):
    queue(store, [alert(user="1042", rule="quota_80_percent", severity="info"), alert(user="7", rule="quota_80_percent", severity="info")])  # fmt: skip
    smtp.box.fault_fn = lambda stage, key, n: (
        "451 4.3.0 try again later" if key == "ada@example.org" and n <= 2
        else "550 5.1.1 mailbox unavailable" if key == "grace@example.org" else None
    )  # fmt: skip
    first = drain(store, mailer, clock, tmp_path)
    assert (first.retried, first.dead) == (1, 1)
    for _ in range(3):
        clock.advance(minutes=10)
        drain(store, mailer, clock, tmp_path)
    assert [m["To"] for m in smtp.box.messages] == ["ada@example.org"]
    with store.engine.connect() as conn:
        metas = (
            conn.exec_driver_sql("SELECT payload FROM outbox_notifications WHERE kind = 'meta'")
            .scalars()
            .all()
        )
    assert [Notification.from_json(m).title for m in metas] == [
        "A response-action email could not be delivered"
    ]


def test_an_answer_lost_after_the_server_kept_the_message_resends_it_under_the_same_message_id(store, smtp, mailer, clock, tmp_path):  # fmt: skip
    queue(store, [alert(rule="quota_80_percent", severity="info")])
    smtp.box.fault_fn = lambda stage, key, n: (
        "store+451 4.4.2 connection lost" if stage == "data" and n == 1 else None
    )
    assert drain(store, mailer, clock, tmp_path).retried == 1
    clock.advance(minutes=1)
    assert drain(store, mailer, clock, tmp_path).sent == 1
    assert (
        len(smtp.box.messages) == 2 and len(smtp.box.by_id) == 1
    )  # one Message-ID, shown once by a mail store
