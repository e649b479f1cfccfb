"""Markdown for the Dagster UI's metadata, with user-controlled text made inert.

Why: object keys, user ids and user agents are chosen by the service's users. In a metadata table a key
like ``[invoice](https://evil.example)`` or ``![x](https://tracker.example/p.gif)`` would render as a
link or load an image in the operator's browser, and ``**`` or a backtick would garble the layout.
Every markdown control character is backslash-escaped, so the text shows exactly as written.
"""

from __future__ import annotations

import re

# What can start inline markup in a table cell: emphasis, code, links/images, raw HTML, strike-through,
# a new column, an escape. Parentheses, '#', '-' and the like only mean something after these (or at the
# start of a block, which a cell is not), so they stay as they are and the text stays readable.
_CONTROL = re.compile(r"([\\`*\[\]<>|~!])")
_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")  # snake_case never emphasises
_AUTOLINK = re.compile(r"(?i)(://|@|www\.)")  # nor may a URL, an e-mail address or "www." become a link


def escape_markdown(value: object) -> str:
    """``value`` as literal markdown text on one line (newlines become spaces)."""
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    text = _UNDERSCORE.sub(r"\\_", _CONTROL.sub(r"\\\1", text.replace("&", "&amp;")))
    return _AUTOLINK.sub(lambda m: "".join(c if c.isalnum() else "\\" + c for c in m.group(1)), text)
