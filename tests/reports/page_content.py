"""What a reader gets from a report page, independent of how the HTML is formatted.

Two pages with the same ``PageContent`` show the same thing: the same text in the same order, the same
tables cell by cell (with each cell's class: ``num`` aligns it, ``flag``/``sev-*`` colour it), the same
links, the same embedded images byte for byte, the same styled elements (an alerting tile), the same
elements in the same order, the same CSS rules and the same key figures. Whitespace between tags, attribute order and how an entity is spelled
(``&quot;`` or ``&#34;``) do not count: the parser has already undone them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "img", "br", "hr", "link", "input"}


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class PageContent:
    title: str = ""
    text: list[str] = field(default_factory=list)  # the visible text runs, in document order
    tables: list[list[list[tuple[str, str, str, str]]]] = field(
        default_factory=list
    )  # (tag, class, colspan, text)
    links: list[tuple[str, str]] = field(default_factory=list)  # (href, text)
    images: list[tuple[str, str, str]] = field(default_factory=list)  # (class, alt, src)
    styled: list[tuple[str, str]] = field(default_factory=list)  # (tag, class) of each element with a class
    elements: list[tuple[str, tuple[str, ...]]] = field(
        default_factory=list
    )  # (tag, attribute names), in order
    css: list[str] = field(default_factory=list)  # the rules of the inline style sheet, sorted
    figures: dict = field(default_factory=dict)  # the embedded key-figure JSON, parsed


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = PageContent()
        self.stack: list[str] = []
        self.cell: list | None = None  # [tag, class, colspan, text parts] of the open cell
        self.link: list | None = None  # [href, text parts] of the open link
        self.raw: list[str] = []  # the content of the open <style>/<script>/<title>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.page.elements.append((tag, tuple(sorted(a))))
        if a.get("class"):
            self.page.styled.append((tag, a["class"]))
        if tag == "table":
            self.page.tables.append([])
        elif tag == "tr":
            self.page.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = [tag, a.get("class", ""), a.get("colspan", ""), []]
        elif tag == "a":
            self.link = [a.get("href", ""), []]
        elif tag == "img":
            self.page.images.append((a.get("class", ""), a.get("alt", ""), a.get("src", "")))
        if tag not in VOID:
            self.stack.append(tag)
        if tag in ("style", "script", "title"):
            self.raw = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            kind, css, colspan, parts = self.cell
            self.page.tables[-1][-1].append((kind, css, colspan, _squash("".join(parts))))
            self.cell = None
        elif tag == "a" and self.link is not None:
            self.page.links.append((self.link[0], _squash("".join(self.link[1]))))
            self.link = None
        elif tag == "style":
            self.page.css = sorted(r.strip() + "}" for r in "".join(self.raw).split("}") if r.strip())
        elif tag == "script":
            self.page.figures = json.loads("".join(self.raw))
        elif tag == "title":
            self.page.title = _squash("".join(self.raw))
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] in ("style", "script", "title"):
            self.raw.append(data)
            return
        if self.cell is not None:
            self.cell[3].append(data)
        if self.link is not None:
            self.link[1].append(data)
        if _squash(data):
            self.page.text.append(_squash(data))


def page_content(document: str) -> PageContent:
    reader = _Reader()
    reader.feed(document)
    reader.close()
    return reader.page
