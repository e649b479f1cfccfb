"""The value types of the settings: comma lists, AWS account ids, webhook secrets and URLs, checked.

Why this module exists: each type carries its own validation (a bad value fails at start-up with a
message that names what is wrong, never repeating a secret); keeping these checks apart from the
``Settings`` model leaves ``settings`` a readable list of variables.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, SecretStr

from bucketlens.actions.signing import SecretError, parse_secret


def _comma_list(value: Any) -> Any:
    """``a, b`` → ``("a", "b")``; an empty text is no items."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


CommaList = Annotated[tuple[str, ...], BeforeValidator(_comma_list)]


def _account_ids(value: str) -> str:
    """12-digit AWS account ids, comma-separated (kept as written for the resource that reads them)."""
    for part in filter(None, (p.strip() for p in value.split(","))):
        if not re.fullmatch(r"\d{12}", part):
            raise ValueError(f"{part!r} is not a 12-digit AWS account id")
    return value


AccountIds = Annotated[str, AfterValidator(_account_ids)]


def _webhook_secret(value: SecretStr) -> SecretStr:
    """A Standard Webhooks secret (``whsec_`` + base64); the error never repeats the value."""
    if value.get_secret_value():
        try:
            parse_secret(value.get_secret_value())
        except SecretError as exc:
            raise ValueError(str(exc)) from None
    return value


def _url(schemes: tuple[str, ...], example: str):
    def check(value: Any) -> Any:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text and not any(text.startswith(f"{scheme}://") for scheme in schemes):
            raise ValueError(f"must be a URL like {example}")
        return value

    return check


WebhookSecret = Annotated[SecretStr, AfterValidator(_webhook_secret)]
HttpUrl = Annotated[
    str, AfterValidator(_url(("http", "https"), "https://app.example.internal/hooks/bucketlens"))
]
SmtpUrl = Annotated[SecretStr, AfterValidator(_url(("smtp", "smtps"), "smtp://user:password@host:587"))]
