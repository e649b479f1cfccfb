"""How numbers read in a report: one formatter per unit, so every page and table says the same thing."""

from __future__ import annotations

from decimal import Decimal

Number = int | float | Decimal | None


def size(n: Number) -> str:
    """Binary units, as AWS bills them (GB = 2^30 bytes); a missing figure is an em dash, never 0."""
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.2f} PiB"


def usd(n: Number, places: int = 2) -> str:
    if n is None:
        return "—"
    value = Decimal(str(n)) if not isinstance(n, Decimal) else n
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.{places}f}"


def count(n: Number) -> str:
    return "—" if n is None else f"{int(n):,}"


def percent(fraction: Number, places: int = 2) -> str:
    """A fraction (0.05) as a percentage (5.00 %)."""
    return "—" if fraction is None else f"{100 * float(fraction):.{places}f} %"


def points(pct: Number, places: int = 1) -> str:
    """A figure that is already a percentage (quota use 85.3) as "85.3 %"."""
    return "—" if pct is None else f"{pct:.{places}f} %"


def number(n: Number, places: int = 0) -> str:
    """A plain quantity (milliseconds, requests per second), rounded, with thousands separators."""
    return "—" if n is None else f"{n:,.{places}f}"


def change(now: Number, before: Number) -> float | None:
    """Relative change now vs before; None when there is nothing to compare with."""
    if now is None or before is None or float(before) == 0:
        return None
    return float(now) / float(before) - 1


def change_text(now: Number, before: Number) -> str:
    ratio = change(now, before)
    if ratio is None:
        return "no previous figure"
    arrow = "▲" if ratio > 0 else "▼" if ratio < 0 else "="
    return f"{arrow} {100 * ratio:+.1f} %"
