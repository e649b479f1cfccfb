"""Small builders for the MaterializeResult metadata operators read in the Dagster UI."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg

from bucketlens.markdown import escape_markdown


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> dg.MarkdownMetadataValue:
    """A markdown table whose cells are literal text: keys and user ids are user-controlled, so no cell
    can become a link, an image, emphasis or a new column (``bucketlens.markdown``)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(escape_markdown(v) for v in row) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def human_bytes(n: float | int | None) -> str:
    """Binary units, as AWS bills them (GB = 2^30 bytes)."""
    value = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:,.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:,.1f} PiB"
