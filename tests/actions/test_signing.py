"""Standard Webhooks signing, checked against the spec's reference implementation (``standardwebhooks``)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from bucketlens.actions.model import ActionRequest, request_id, webhook_body
from bucketlens.actions.outbox import LIFTED, REQUESTED
from bucketlens.actions.signing import SECRET_HINT, SecretError, parse_secret, signed_headers
from bucketlens.settings import Settings, SettingsError
from bucketlens.settings_table import describe
from tests.actions.conftest import SECRET

NOW = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)


def request(**overrides) -> ActionRequest:
    values = dict(
        request_id=request_id("rapid_upload", "block_uploads", "1042", "k1", "2026-11-11"), rule="rapid_upload",
        action="block_uploads", mode="auto", user_id="1042", alert_key="k1", episode="2026-11-11",
        usage_date="2026-11-11", severity="critical", reason="uploaded 110 GB within one hour",
        evidence='{"bytes_in_hour": 118111600640, "top_request_ids": ["R1"]}', duration_seconds=86400,
        lift_on_resolve=False, state="requested", created_at=NOW.replace(tzinfo=None),
    )  # fmt: skip
    values.update(overrides)
    return ActionRequest(**values)


def test_every_signature_verifies_with_the_reference_library():
    """The reference verifier accepts our headers for a requested and a lifted body, now; a body changed by
    one character or a wrong secret is refused."""
    r = request()
    now = datetime.now(UTC)
    key = parse_secret(SECRET)
    for event, expires in ((REQUESTED, NOW + timedelta(days=1)), (LIFTED, NOW + timedelta(days=1))):
        body = webhook_body(r, event, NOW, expires, "duration" if event == LIFTED else "")
        headers = signed_headers(key, r.request_id, int(now.timestamp()), body)
        assert Webhook(SECRET).verify(body, headers)["type"] == event
        with pytest.raises(WebhookVerificationError):
            Webhook(SECRET).verify(body.replace("1042", "1043"), headers)
        other = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
        with pytest.raises(WebhookVerificationError):
            Webhook(other).verify(body, headers)
    assert headers["webhook-id"] == r.request_id and headers["webhook-signature"].startswith("v1,")


def test_the_body_is_the_documented_contract():
    r = request()
    body = json.loads(webhook_body(r, REQUESTED, NOW, NOW + timedelta(days=1)))
    assert body == {
        "type": "bucketlens.action.requested",
        "timestamp": "2026-11-12T09:00:00Z",
        "data": {
            "action": "block_uploads", "user_id": "1042", "rule": "rapid_upload", "alert_id": "k1",
            "reason": "uploaded 110 GB within one hour", "expires_at": "2026-11-13T09:00:00Z",
            "evidence": {"bytes_in_hour": 118111600640, "top_request_ids": ["R1"]},
            "request_id": r.request_id, "mode": "auto", "usage_date": "2026-11-11",
        },
    }  # fmt: skip
    lifted = json.loads(webhook_body(r, LIFTED, NOW, None, "resolved"))
    assert (lifted["type"], lifted["data"]["lift_reason"], lifted["data"]["expires_at"]) == (
        "bucketlens.action.lifted", "resolved", None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "secret",
    ["secret", "whsec_", "whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode(),
     "whsec_" + base64.b64encode(bytes(65)).decode()],
)  # fmt: skip
def test_a_bad_secret_is_refused_without_repeating_it(secret):
    with pytest.raises(SecretError) as caught:
        parse_secret(secret)
    assert "whsec_ followed by the base64 of 24 to 64 random bytes" in str(caught.value)
    with pytest.raises(SettingsError) as bad:
        Settings.from_env({"BUCKETLENS_WEBHOOK_SECRET": secret})
    # exactly the hint: nothing of the value is in the message
    assert str(bad.value) == f"BUCKETLENS_WEBHOOK_SECRET: Value error, {SECRET_HINT} (got <withheld>)"


def test_the_secret_is_never_shown_by_the_settings():
    s = Settings.from_env(
        {"BUCKETLENS_WEBHOOK_SECRET": SECRET, "BUCKETLENS_SMTP_URL": "smtp://mailer:pa55word@mx:587"}
    )
    shown = {name: value for name, value, _ in describe(s, {})}
    assert shown["BUCKETLENS_WEBHOOK_SECRET"] == "(set, withheld)"
    assert shown["BUCKETLENS_SMTP_URL"] == "smtp://mailer:***@mx:587"
    assert SECRET[6:] not in repr(s) and "pa55word" not in repr(s)
