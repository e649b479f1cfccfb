"""Self-contained HTML report pages, rendered from the jinja2 templates in ``templates/``.

A report is opened from disk, attached to an e-mail or archived for years, so it must not depend on
anything that can move: the CSS is inline, charts are base64 PNG, and the only link is back to the asset
partition in the Dagster UI. User ids, object keys and alert reasons are user-controlled text, so
autoescape is on for every template: a value can only reach the page as text, never as markup. Undefined
names raise (``StrictUndefined``) instead of rendering as an empty cell that looks like "no data".

Python computes the figures; the templates choose the headings, the columns, the order and the format of
each figure through the filters below (``fmt``'s formatters, so a table and a tile say the same thing).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import partial
from html.parser import HTMLParser

import jinja2

from bucketlens.reports import fmt


def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bucketlens.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        size=fmt.size,
        usd=fmt.usd,
        count=fmt.count,
        percent=fmt.percent,
        points=fmt.points,
        number=fmt.number,
        change_text=fmt.change_text,
        png=_png,
    )
    # ``|tojson`` escapes <, >, & and ' as \u003c…, so the figures cannot close their <script> element.
    env.policies["json.dumps_function"] = partial(json.dumps, default=str)
    return env


ENV = _environment()


def render(template: str, **context: object) -> str:
    """The page ``template`` (a file in ``templates/``) filled with ``context``."""
    return ENV.get_template(template).render(**context)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href", "srcset", "data", "poster") and v]


def external_urls(document: str, allowed: Sequence[str] = ()) -> list[str]:
    """Attribute URLs (``src``, ``href``, …) that would load something from outside the file — anything
    but inline ``data:`` and fragment links — except the ``allowed`` ones (the UI link). Parsed, not
    pattern-matched, so escaped user text that looks like a tag is not mistaken for one."""
    parser = _Links()
    parser.feed(document)
    return [u for u in parser.urls if not u.startswith(("data:", "#")) and u not in allowed]
