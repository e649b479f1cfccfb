"""The settings shown to people: the README's configuration table and ``bucketlens config``'s rows.

Why this module exists: rendering the variables (defaults written the README's way, secrets redacted
down to a host or to nothing) is presentation, read from the ``Settings`` model's fields; the model
itself stays about reading and resolving the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bucketlens.settings import OPAQUE_SECRETS, SECRET_VARIABLES, Settings


def _shown_default(name: str) -> str:
    field = next(f for f in Settings.model_fields.values() if f.validation_alias == name)
    extra = field.json_schema_extra or {}
    if "shown_default" in extra:
        return str(extra["shown_default"])
    default = field.default
    if isinstance(default, Path):
        return f"./{default}"
    return f"`{default}`"


def configuration_table() -> str:
    """The README's configuration table, rendered from the model (``tests/test_settings.py`` keeps them equal)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for field in Settings.model_fields.values():
        default = _shown_default(field.validation_alias)
        if not default.startswith("`") and ("$" in default or "/" in default):
            default = f"`{default}`"
        lines.append(f"| `{field.validation_alias}` | {default} | {field.description} |")
    return "\n".join(lines)


def describe(settings: Settings, env: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(variable, value, where it came from) for ``bucketlens config``; secrets are never shown."""
    env = os.environ if env is None else env
    rows = []
    for attr, field in Settings.model_fields.items():
        name = field.validation_alias
        value = getattr(settings, attr)
        if name in SECRET_VARIABLES:
            shown = _redact(name, value)
        elif isinstance(value, tuple):
            shown = ", ".join(value) or "(all)"
        elif name == "DAGSTER_HOME":
            shown = str(settings.dagster_home)
        else:
            shown = str(value) if value != "" else "(unset)"
        rows.append((name, shown, "environment" if env.get(name, "") != "" else "default"))
    return rows


def _redact(name: str, value: Any) -> str:
    text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    if not text:
        return "(unset)"
    if name in OPAQUE_SECRETS:
        return "(set, withheld)"
    from sqlalchemy.engine import make_url

    try:
        return make_url(text).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: show nothing of it
        return "(set, withheld)"
