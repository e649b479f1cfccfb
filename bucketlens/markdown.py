"""Markdown for the Dagster UI's metadata, with user-controlled text made inert.

Why: object keys, user ids and user agents are chosen by the service's users. In a metadata table a key
like ``[invoice](https://evil.example)`` or ``![x](https://tracker.example/p.gif)`` would render as a
link or load an image in the operator's browser, and ``**`` or a backtick would garble the layout.
Every markdown control character is backslash-escaped, so the text shows exactly as written.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"([\\`*_{}\[\]()<>#+!|~=:@-])")  # ':' and '@': no autolinked URL or e-mail
_WWW = re.compile(r"(?i)(www)\.")  # nor a "www." autolink


def escape_markdown(value: object) -> str:
    """``value`` as literal markdown text on one line (newlines become spaces)."""
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return _WWW.sub(r"\1\\.", _CONTROL.sub(r"\\\1", text)).replace("&", "&amp;")
