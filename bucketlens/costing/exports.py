"""One bill, counted once: which of the cost exports found for a billing period is the bill.

AWS Data Exports lets an account keep several exports of the same bill — a CUR 2.0 export and a FOCUS
export while a team moves from one to the other, two CUR 2.0 exports with different options, an export
and its legacy CUR copy. Each is the whole bill; summing them charges every user twice. So exports are
grouped by what they bill (they overlap when they share a usage account, or when one does not say which
accounts it covers) and each group contributes exactly one export:

1. the export named by ``BUCKETLENS_COST_EXPORT``, when the group holds it;
2. otherwise the one with the most complete columns (see ``bucketlens.formats.cur.OPTIONAL_COLUMNS``),
   then CUR 2.0 over FOCUS, then the newest export, then the first by name.

Before rule 2 picks silently, the group's exports must agree: if two of them differ by more than a cent
on the days both cover, neither can be trusted to be the bill and the load is refused until an export
is named. (Days only one export covers yet — one is refreshed earlier in the day — are not a
disagreement.) Exports of disjoint accounts (two member accounts exporting their own bills) do not
overlap and are all loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

TOLERANCE = Decimal("0.01")
KIND_NAMES = {"cur2": "CUR 2.0", "focus": "FOCUS"}


class OverlappingExportsError(ValueError):
    """Two exports of the same bill disagree and no export is named: there is no bill to trust."""


@dataclass(frozen=True)
class ExportSummary:
    """What one export of a billing period says, enough to decide whether it is the bill."""

    name: str
    schema_kind: str  # "cur2" or "focus"
    accounts: frozenset[str]  # usage accounts of its S3 line items; empty: the export does not say
    total: Decimal
    day_totals: dict[date, Decimal] = field(default_factory=dict)
    complete_columns: int = 0
    export_time: datetime | None = None


@dataclass(frozen=True)
class ExportChoice:
    name: str
    chosen: bool
    reason: str


def overlaps(a: ExportSummary, b: ExportSummary) -> bool:
    """Same bill: a shared usage account, or an export that does not say which accounts it covers."""
    return not a.accounts or not b.accounts or bool(a.accounts & b.accounts)


def groups(summaries: list[ExportSummary]) -> list[list[ExportSummary]]:
    """Exports joined by overlap (transitively), each group in name order, groups in name order."""
    remaining = sorted(summaries, key=lambda s: s.name)
    out = []
    while remaining:
        group = [remaining.pop(0)]
        grew = True
        while grew:
            joining = [s for s in remaining if any(overlaps(s, g) for g in group)]
            grew = bool(joining)
            group += joining
            remaining = [s for s in remaining if s not in joining]
        out.append(sorted(group, key=lambda s: s.name))
    return out


def _kind(summary: ExportSummary) -> str:
    return KIND_NAMES.get(summary.schema_kind, summary.schema_kind)


def _accounts(group: list[ExportSummary]) -> str:
    accounts = sorted(set().union(*(s.accounts for s in group)))
    return ", ".join(accounts) if accounts else "unnamed accounts"


def disagreement(a: ExportSummary, b: ExportSummary) -> tuple[Decimal, Decimal, int] | None:
    """(a's, b's total) over the days both cover, and how many days, when they differ by more than a cent."""
    common = sorted(set(a.day_totals) & set(b.day_totals))
    total_a = sum((a.day_totals[d] for d in common), Decimal(0))
    total_b = sum((b.day_totals[d] for d in common), Decimal(0))
    return (total_a, total_b, len(common)) if abs(total_a - total_b) > TOLERANCE else None


def _rank(summary: ExportSummary) -> tuple:
    newest = summary.export_time.replace(tzinfo=None) if summary.export_time else datetime.min
    return (summary.complete_columns, summary.schema_kind == "cur2", newest)


def _why(best: ExportSummary, runner_up: ExportSummary, columns: int) -> str:
    if best.complete_columns != runner_up.complete_columns:
        return (
            f"most complete columns ({best.complete_columns} of {columns} vs {runner_up.complete_columns} "
            f"in {runner_up.name})"
        )
    if best.schema_kind != runner_up.schema_kind:
        return f"CUR 2.0 over FOCUS ({runner_up.name}), with as many columns"
    if _rank(best) != _rank(runner_up):
        return f"newer export than {runner_up.name}"
    return f"first by name before {runner_up.name}"


def choose_exports(
    summaries: list[ExportSummary], named: str = "", period: str = "", columns: int = 0
) -> list[ExportChoice]:
    """One choice per export (in name order): which are the bill, and why.

    Raises :class:`OverlappingExportsError` when two exports of one group disagree by more than a cent
    on the days both cover and ``named`` is not among them.
    """
    choices: dict[str, ExportChoice] = {}
    for group in groups(summaries):
        if len(group) == 1:
            (only,) = group
            choices[only.name] = ExportChoice(
                only.name, True, f"the only export billing {_accounts(group)} for {period}"
            )
            continue
        names = ", ".join(s.name for s in group)
        pick = next((s for s in group if s.name == named), None)
        if pick is not None:
            why = f"named by BUCKETLENS_COST_EXPORT among {names}"
        else:
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    differ = disagreement(a, b)
                    if differ:
                        total_a, total_b, days = differ
                        raise OverlappingExportsError(
                            f"Cost exports {a.name} ({_kind(a)}) and {b.name} ({_kind(b)}) both bill "
                            f"{_accounts(group)} for {period} but disagree on the {days} day(s) both cover: "
                            f"${total_a} vs ${total_b}. Set BUCKETLENS_COST_EXPORT to the export that is "
                            "the bill; nothing was replaced."
                        )
            ranked = sorted(group, key=_rank, reverse=True)  # stable: equal ranks keep name order
            pick = ranked[0]
            why = f"{_why(pick, ranked[1], columns)}; the same bill as {names}"
        for s in group:
            if s is pick:
                choices[s.name] = ExportChoice(s.name, True, why)
            else:
                choices[s.name] = ExportChoice(
                    s.name,
                    False,
                    f"the same bill as {pick.name} ({_accounts(group)}, {period}): not loaded, never summed",
                )
    return [choices[name] for name in sorted(choices)]
