"""Metadata markdown shows user-controlled text literally (issue 14, defect 10)."""

import pytest
from markdown_it import MarkdownIt

from assets.metadata import markdown_table
from bucketlens.markdown import escape_markdown

RENDER = MarkdownIt("commonmark").enable("table")


def _cell_html(text: str) -> str:
    html = RENDER.render(markdown_table(["key"], [(text,)]).value)
    return html.split("<td>")[1].split("</td>")[0]


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("users/1/[invoice](https://evil.example)", "users/1/[invoice](https://evil.example)"),
        ("users/1/![x](https://t.example/p.gif)", "users/1/![x](https://t.example/p.gif)"),
        ("users/1/<img src=x onerror=alert(1)>", "users/1/&lt;img src=x onerror=alert(1)&gt;"),
        ("users/1/**bold** _it_ `code`", "users/1/**bold** _it_ `code`"),
        ("users/1/a|b", "users/1/a|b"),
        ("users/1/line\nbreak", "users/1/line break"),
        ("users/1/&lt;script&gt;", "users/1/&amp;lt;script&amp;gt;"),
        ("users/1006/../1001/photo_2024-01.jpg", "users/1006/../1001/photo_2024-01.jpg"),
    ],
)
def test_a_key_renders_as_the_text_it_is(key, shown):
    """Before: only '|' and newlines were escaped, so a key rendered as a link, an image or emphasis."""
    html = _cell_html(key)
    assert html == shown
    assert "<a " not in html and "<img" not in html and "<strong>" not in html and "<code>" not in html


def test_urls_and_emails_cannot_autolink():
    escaped = escape_markdown("users/1/https://evil.example/www.evil.example/a@b.example")
    assert "https://" not in escaped and "www." not in escaped and "a@b" not in escaped
