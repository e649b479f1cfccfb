"""The f-string page helpers as they were before the jinja2 templates (frozen copy, see ``__init__``).

A report is opened from disk, attached to an e-mail or archived for years, so it must not depend on
anything that can move: no fonts, scripts or images from the network. The only link is back to the
asset partition in the Dagster UI. Every value is escaped, because user ids and object keys are
user-controlled text.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.45 -apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}
main{max-width:1260px;margin:0 auto;padding:24px 30px 48px}
header{display:flex;justify-content:space-between;align-items:baseline;border-bottom:2px solid #2f6fde;margin-bottom:18px}
h1{font-size:26px;margin:0 0 6px}
header p{margin:0 0 8px;color:#4b5563}
h2{font-size:18px;margin:28px 0 10px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:12px}
.tile{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.tile .label{color:#6b7280;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:22px;font-weight:600;margin:2px 0}
.tile .change{font-size:12px;color:#6b7280}
.tile.alert{border-left:4px solid #c44e52}
section{background:#fff;border-radius:8px;padding:6px 18px 14px;margin-top:16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
img.chart{display:block;width:100%;max-width:1200px;height:auto;margin:6px 0}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th{text-align:left;color:#374151;border-bottom:2px solid #d1d5db;padding:6px 8px}
td{border-bottom:1px solid #e5e7eb;padding:5px 8px;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#f9fafb}
.note{color:#6b7280;font-size:12px}
.sev-critical{color:#b91c1c;font-weight:600}.sev-warning{color:#b45309}.sev-info{color:#2563eb}
.flag{color:#b91c1c;font-weight:600}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:18px}
"""


@dataclass(frozen=True)
class Tile:
    """A key figure on top of the page: label, value and how it moved."""

    label: str
    value: str
    change: str = ""
    alert: bool = False


@dataclass(frozen=True)
class Cell:
    """A table cell with a CSS class (``num`` right-aligns, ``sev-critical`` colours a severity)."""

    text: str
    css: str = ""


def tiles(items: Iterable[Tile]) -> str:
    parts = [
        f'<div class="tile{" alert" if t.alert else ""}"><div class="label">{escape(t.label)}</div>'
        f'<div class="value">{escape(t.value)}</div><div class="change">{escape(t.change)}</div></div>'
        for t in items
    ]
    return f'<div class="tiles">{"".join(parts)}</div>'


def chart(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    """A table; columns whose index is in ``numeric`` are right-aligned. Cells may be ``Cell``s."""
    head = "".join(
        f'<th class="num">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            cell = value if isinstance(value, Cell) else Cell(str(value), "num" if i in numeric else "")
            css = f' class="{escape(cell.css)}"' if cell.css else ""
            cells.append(f"<td{css}>{escape(cell.text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="note">none</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def section(heading: str, *parts: str) -> str:
    return f"<section><h2>{escape(heading)}</h2>{''.join(parts)}</section>"


def severity(text: str) -> Cell:
    return Cell(text, f"sev-{text}" if text in ("info", "warning", "critical") else "")


def page(
    title: str, subtitle: str, body: Sequence[str], ui_link: str = "", figures: dict | None = None
) -> str:
    """The whole document. ``figures`` are embedded as JSON (``<script type="application/json">``) so a
    script can read the key figures back without scraping the tables."""
    link = f'<p><a href="{escape(ui_link)}">Open in Dagster</a></p>' if ui_link else ""
    data = ""
    if figures is not None:
        payload = json.dumps(figures, sort_keys=True, default=str).replace("</", "<\\/")
        data = f'<script type="application/json" id="figures">{payload}</script>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><div><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></div>{link}</header>"
        f"{''.join(body)}{data}</main></body></html>\n"
    )
