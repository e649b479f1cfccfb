"""Which cost export is the bill when several are found for one billing period (bucketlens.costing.exports)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bucketlens.costing.exports import ExportSummary, OverlappingExportsError, choose_exports, groups

D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
ACCOUNT, OTHER = frozenset({"123456789012"}), frozenset({"210987654321"})


def export(name, kind="cur2", accounts=ACCOUNT, days=None, columns=10, time=None) -> ExportSummary:
    days = days or {D1: Decimal("7.300000"), D2: Decimal("7.290000")}
    return ExportSummary(name, kind, accounts, sum(days.values()), days, columns, time)


def chosen(choices) -> dict[str, bool]:
    return {c.name: c.chosen for c in choices}


def test_a_cur2_and_a_focus_export_of_one_bill_load_once_the_more_complete_one():
    # AWS's FOCUS export has no usage-type column: 9 of the 10 optional columns.
    choices = choose_exports(
        [export("s3-focus", "focus", columns=9), export("s3-cur")], period="2026-10", columns=10
    )
    assert chosen(choices) == {"s3-cur": True, "s3-focus": False}
    by_name = {c.name: c.reason for c in choices}
    assert by_name["s3-cur"] == (
        "most complete columns (10 of 10 vs 9 in s3-focus); the same bill as s3-cur, s3-focus"
    )
    assert by_name["s3-focus"] == "the same bill as s3-cur (123456789012, 2026-10): not loaded, never summed"


def test_equal_columns_prefer_cur2_then_the_newest_then_the_name():
    assert chosen(choose_exports([export("a-focus", "focus"), export("b-cur")])) == {
        "a-focus": False,
        "b-cur": True,
    }
    older, newer = datetime(2026, 10, 3, 6, tzinfo=UTC), datetime(2026, 10, 4, 6, tzinfo=UTC)
    assert chosen(choose_exports([export("copy", time=newer), export("main", time=older)])) == {
        "copy": True,
        "main": False,
    }
    (first, second) = choose_exports([export("zeta"), export("alpha")])
    assert (first.name, first.chosen, second.chosen) == ("alpha", True, False)
    assert first.reason.startswith("first by name before zeta")


def test_the_named_export_wins_its_group_even_when_they_disagree():
    focus = export("s3-focus", "focus", columns=8, days={D1: Decimal("7.35"), D2: Decimal("7.29")})
    choices = choose_exports([export("s3-cur"), focus], named="s3-focus")
    assert chosen(choices) == {"s3-cur": False, "s3-focus": True}
    assert choices[1].reason == "named by BUCKETLENS_COST_EXPORT among s3-cur, s3-focus"


def test_exports_that_disagree_by_more_than_a_cent_are_refused_unless_one_is_named():
    focus = export("s3-focus", "focus", days={D1: Decimal("7.311"), D2: Decimal("7.290000")})
    with pytest.raises(OverlappingExportsError) as refused:
        choose_exports([export("s3-cur"), focus], period="2026-10")
    assert str(refused.value) == (
        "Cost exports s3-cur (CUR 2.0) and s3-focus (FOCUS) both bill 123456789012 for 2026-10 but disagree on "
        "the 2 day(s) both cover: $14.590000 vs $14.601000. Set BUCKETLENS_COST_EXPORT to the export that is "
        "the bill; nothing was replaced."
    )
    # a cent apart is the same bill (rounding of a different vocabulary)
    close = export("s3-focus", "focus", days={D1: Decimal("7.31"), D2: Decimal("7.290000")})
    assert chosen(choose_exports([export("s3-cur"), close])) == {"s3-cur": True, "s3-focus": False}


def test_a_day_only_one_export_covers_yet_is_not_a_disagreement():
    # The FOCUS export was refreshed later today and already holds day 3; on days 1-2 they agree.
    focus = export("s3-focus", "focus", days={D1: Decimal("7.3"), D2: Decimal("7.29"), D3: Decimal("7.5")})
    assert chosen(choose_exports([export("s3-cur"), focus])) == {"s3-cur": True, "s3-focus": False}


def test_exports_of_different_accounts_are_different_bills_and_both_load():
    choices = choose_exports([export("member-a"), export("member-b", accounts=OTHER)], period="2026-10")
    assert chosen(choices) == {"member-a": True, "member-b": True}
    assert choices[0].reason == "the only export billing 123456789012 for 2026-10"


def test_an_export_without_account_ids_overlaps_every_other():
    unknown = export("legacy", accounts=frozenset())
    found = groups([export("member-a"), export("member-b", accounts=OTHER), unknown])
    assert [[s.name for s in g] for g in found] == [["legacy", "member-a", "member-b"]]
