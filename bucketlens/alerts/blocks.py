"""A notification rendered as Slack sees it: Block Kit in a coloured attachment plus a plain-text fallback.

Everything that came from data (keys, user ids, user agents, reasons, evidence, titles, free text) passes
through :func:`escape`, so ``<!channel>`` or ``<https://evil|click>`` in a bucket key shows as text instead
of paging a channel or hiding a link. Every size is clipped to Slack's documented limits here, because a
message Slack refuses with ``invalid_blocks`` is an alert nobody sees.
"""

from __future__ import annotations

import re

from bucketlens.alerts.notification import AlertSummary, Notification

COLORS = {"critical": "#E01E5A", "warning": "#ECB22E", "info": "#2EB67D"}
RESOLVED_COLOR = "#2EB67D"
EVENT_TYPE = "bucketlens_notification"

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_TEXT = 40_000
MAX_EVIDENCE_ROWS = 5
MAX_FALLBACK_ALERTS = 20
ELLIPSIS = "…"

_ICONS = {
    "alert": {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"},
    "resolved": ":white_check_mark:",
    "escalation": ":rotating_light:",
    "digest": ":card_index_dividers:",
    "suppressed": ":mute:",
    "meta": ":gear:",
    "report": ":bar_chart:",
    "action": ":raised_hand:",
}
# What a header says before the title, per kind; any of the spellings already in a title counts.
_KIND_PREFIXES = {"resolved": ("Resolved: ",), "escalation": ("Still firing: ", "Escalation: ")}
_COMPACT_KINDS = ("digest", "suppressed")  # many alerts, one line each
_SUBTEAM_ID = re.compile(r"^S[A-Z0-9]{2,30}$")
_SAFE_URL = re.compile(r"^https?://[^\s<>|\"]+$")
_UNIT_WORDS = {
    "bytes": ("bytes", "storage", "upload", "growth", "stored", "size", "bandwidth"),
    "usd": ("cost", "usd", "spend", "dollars"),
    "pct": ("rate", "pct", "percent", "share", "quota_use", "ratio"),
}


def escape(text: object) -> str:
    """Slack's three control characters as entities: nothing user-controlled can mention, link or format."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def color_for(n: Notification) -> str:
    """Resolved is green whatever it was; otherwise the severity's colour."""
    return RESOLVED_COLOR if n.kind == "resolved" else COLORS[n.severity]


def mention_prefix(n: Notification) -> str:
    """``<!subteam^ID> `` for a critical with a configured on-call group; a malformed id is dropped, never
    rendered, so data can never smuggle ``<!channel>`` in through this field."""
    if n.severity == "critical" and n.mention and _SUBTEAM_ID.match(n.mention):
        return f"<!subteam^{n.mention}> "
    return ""


def _unit_of(rule: str) -> str:
    words = rule.lower()
    for unit, hints in _UNIT_WORDS.items():
        if any(h in words for h in hints):
            return unit
    return ""


def format_value(value: float | None, unit: str) -> str:
    """A number as on-call reads it: ``1.4 TB``, ``$212.40``, ``7.5 %``; plain with separators otherwise."""
    if value is None:
        return "–"
    if unit == "bytes":
        size = float(value)
        for suffix in ("B", "KB", "MB", "GB", "TB", "PB"):
            if abs(size) < 1000 or suffix == "PB":
                return f"{size:,.0f} {suffix}" if suffix == "B" else f"{size:,.1f} {suffix}"
            size /= 1000
    if unit == "usd":
        return f"${value:,.2f}"
    if unit == "pct" and abs(value) <= 1.5:
        return f"{value * 100:,.1f} %"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


def headline(n: Notification) -> str:
    """The title as the header says it: prefixed with what happened (``Resolved: …``) unless the title
    already says so — the policy's titles do (``grouping.title``), a sensor's may not."""
    prefixes = _KIND_PREFIXES.get(n.kind, ())
    if not prefixes or n.title.startswith(prefixes):
        return n.title
    return prefixes[0] + n.title


def _header(n: Notification) -> dict:
    icon = _ICONS[n.kind] if n.kind != "alert" else _ICONS["alert"][n.severity]
    text = clip(f"{icon} {escape(headline(n))}", MAX_HEADER_TEXT)
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)}]}


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)}}


def _link_button(url: str, label: str) -> dict | None:
    """A button rather than an inline ``<url|label>``: a URL is never parsed as markup this way."""
    if not _SAFE_URL.match(url) or len(url) > MAX_SECTION_TEXT:
        return None  # not a plain http(s) URL: no button rather than a link someone crafted
    return {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}


def _alert_section(a: AlertSummary) -> dict:
    unit = _unit_of(a.rule)
    text = f"*{escape(a.subject)}* · `{escape(a.rule)}` · {escape(a.state)}\n{escape(a.reason)}"
    fields = [
        f"*Value*\n{format_value(a.value, unit)}",
        f"*Threshold*\n{format_value(a.threshold, unit)}",
        f"*Severity*\n{escape(a.severity)}",
        f"*Data of*\n{escape(a.usage_date)}",
    ]
    block = _section(text)
    block["fields"] = [{"type": "mrkdwn", "text": clip(f, MAX_FIELD_TEXT)} for f in fields[:MAX_FIELDS]]
    button = _link_button(a.link, "Open")
    if button:
        block["accessory"] = button
    return block


def _evidence_section(a: AlertSummary) -> dict | None:
    if not a.evidence and not a.evidence_query:
        return None
    parts = []
    if a.evidence:
        rows = [" · ".join(f"{escape(k)}={escape(v)}" for k, v in row.items()) for row in a.evidence]
        shown = rows[:MAX_EVIDENCE_ROWS]
        more = f"\n… +{len(rows) - len(shown)} more rows" if len(rows) > len(shown) else ""
        parts.append("*Evidence*\n```" + "\n".join(shown) + more + "```")
    if a.evidence_query:
        parts.append(f"*Query*\n```{escape(a.evidence_query)}```")
    return _section("\n".join(parts))


def _compact_lines(alerts: tuple[AlertSummary, ...]) -> list[str]:
    return [
        f"• *{escape(a.subject)}* `{escape(a.rule)}` ({escape(a.usage_date)}): {escape(a.reason)}"
        for a in alerts
    ]


def _chunks(lines: list[str], limit: int) -> list[tuple[str, int]]:
    """Lines packed into texts of at most ``limit`` characters, each with how many lines it holds."""
    chunks: list[tuple[str, int]] = []
    current, count = "", 0
    for line in lines:
        line = clip(line, limit)
        if count and len(current) + 1 + len(line) > limit:
            chunks.append((current, count))
            current, count = line, 1
        else:
            current, count = (f"{current}\n{line}" if count else line), count + 1
    if count:
        chunks.append((current, count))
    return chunks


def _alert_blocks(n: Notification, budget: int) -> list[dict]:
    """As many alerts as fit in ``budget`` blocks, then one line saying how many were left out."""
    if n.kind in _COMPACT_KINDS:
        units = [
            ([_section(text)], count) for text, count in _chunks(_compact_lines(n.alerts), MAX_SECTION_TEXT)
        ]
    else:
        units = [([b for b in (_alert_section(a), _evidence_section(a)) if b], 1) for a in n.alerts]
    blocks: list[dict] = []
    shown = 0
    for unit, count in units:
        room = budget if shown + count == len(n.alerts) else budget - 1  # keep one for "+N more"
        if len(blocks) + len(unit) > room:
            break
        blocks.extend(unit)
        shown += count
    if shown < len(n.alerts):
        blocks.append(_context(f"+{len(n.alerts) - shown} more alerts"))
    return blocks


def _fallback_text(n: Notification) -> str:
    """The plain-text version: notifications, screen readers and clients without Block Kit show this."""
    lines = [f"{mention_prefix(n)}[{n.severity}] {escape(n.title)}"]
    if n.text:
        lines.append(escape(n.text))
    for a in n.alerts[:MAX_FALLBACK_ALERTS]:
        lines.append(f"• {escape(a.subject)} ({escape(a.rule)}): {escape(a.reason)}")
    if len(n.alerts) > MAX_FALLBACK_ALERTS:
        lines.append(f"+{len(n.alerts) - MAX_FALLBACK_ALERTS} more alerts")
    return clip("\n".join(lines), MAX_TEXT)


def render_blocks(n: Notification, ui_url: str) -> list[dict]:
    """The attachment's blocks, never more than Slack's 50."""
    blocks = [_header(n)]
    count = f" · {len(n.alerts)} alert{'s' if len(n.alerts) != 1 else ''}" if n.alerts else ""
    group = f" · group `{escape(n.group_key)}`" if n.group_key else ""
    blocks.append(_context(f"*{n.severity.upper()}* · {n.kind}{count}{group}"))
    if n.text:
        blocks.append(_section(escape(n.text)))
    link = next((a.link for a in n.alerts if a.link), "") or ui_url
    button = _link_button(link, "View in Dagster")
    footer = [{"type": "actions", "elements": [button]}] if button else []
    blocks.extend(_alert_blocks(n, MAX_BLOCKS - len(blocks) - len(footer)))
    return blocks + footer


def metadata(n: Notification) -> dict:
    """Slack message metadata carrying the identity: how a crashed drain later finds what it posted."""
    return {"event_type": EVENT_TYPE, "event_payload": {"identity": n.identity, "kind": n.kind}}


def render(n: Notification, ui_url: str) -> dict:
    """The ``chat.postMessage`` arguments for ``n`` (``channel`` as routed; delivery may swap in its id)."""
    return {
        "channel": n.channel,
        "text": _fallback_text(n),
        "attachments": [{"color": color_for(n), "blocks": render_blocks(n, ui_url)}],
        "metadata": metadata(n),
        "unfurl_links": False,
        "unfurl_media": False,
    }


def render_resolved_reply(n: Notification) -> dict:
    """The thread reply under an edited original, so the channel sees that it resolved (edits are silent)."""
    names = ", ".join(escape(a.subject) for a in n.alerts[:10])
    more = f" and {len(n.alerts) - 10} more" if len(n.alerts) > 10 else ""
    subjects = f" ({names}{more})" if names else ""
    text = clip(f":white_check_mark: {escape(headline(n))}{subjects}", MAX_TEXT)
    return {"channel": n.channel, "text": text, "metadata": metadata(n)}
