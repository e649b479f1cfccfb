"""Standard Webhooks signing (https://www.standardwebhooks.com): what the receiving service verifies.

Every request carries three headers: ``webhook-id`` (the idempotency key: the same for every retry of
one message, so the receiver applies it once), ``webhook-timestamp`` (seconds since the epoch, set per
attempt, so a receiver can refuse replays of old requests) and ``webhook-signature``: ``v1,`` followed by
the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under the secret. The secret is written
``whsec_`` + base64 of 24 to 64 random bytes (the spec's form, which its libraries parse).

The key never leaves this module's callers: error messages name the variable, never the value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
SIGNATURE_VERSION = "v1"
SECRET_HINT = (
    "must be whsec_ followed by the base64 of 24 to 64 random bytes (e.g. "
    "`python -c 'import base64, os; print(\"whsec_\" + base64.b64encode(os.urandom(32)).decode())'`)"
)


class SecretError(ValueError):
    """A webhook secret that cannot be used; the message never contains the secret."""


def parse_secret(text: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret."""
    if not text.startswith(SECRET_PREFIX):
        raise SecretError(SECRET_HINT)
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SecretError(SECRET_HINT) from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise SecretError(SECRET_HINT)
    return key


def signature(key: bytes, webhook_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(key: bytes, webhook_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The headers of one attempt (``content-type`` included)."""
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, webhook_id, timestamp, body),
        "user-agent": "bucketlens-actions/1",
    }
