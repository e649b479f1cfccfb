"""The jinja2 pages show what the f-string pages showed, and user text on them stays text.

``tests/reports/legacy`` is a frozen copy of the f-string renderer (reading its figures one query per
figure and day, drawing a new figure per chart, as before set-based ranges). Each report is rendered by
both from the same warehouse and what a reader sees is compared (``page_content``: text, tables cell by
cell with their classes, links, images, CSS, key figures), as are the report's figures, markdown preview
and chart files. Two warehouses: the tiny generated source as the pipeline built it, and a copy varied so the
branches the tiny month never reaches are taken too — a September to compare with (month over month
+100 %, flagged; a previous week), the alert engine's events instead of the detections, a day priced
from the price book, no UI link — and with users whose ids are HTML.
"""

import re

import duckdb
import pytest

from bucketlens.reports import daily, monthly, weekly
from bucketlens.reports.report import Report
from tests.reports.conftest import IMG, SCRIPT, UI
from tests.reports.legacy import daily as legacy_daily
from tests.reports.legacy import monthly as legacy_monthly
from tests.reports.legacy import weekly as legacy_weekly
from tests.reports.page_content import page_content

MOM_RATIO = 0.2  # the default rules file's service.month_over_month_cost.ratio


def _page_of_week(build):
    return lambda con, day, link: build(con, day, link)[0]


def _with_ratio(build):
    return lambda con, day, link: build(con, day, MOM_RATIO, link)


def _one_day(build_window):
    """A window builder run for one day: what a daily run renders."""
    return lambda con, day, link: next(iter(build_window(con, [day], lambda _: link)))


# report -> (asset name, charts on the page, old builder, new builder); builders take (con, day, ui_link).
REPORTS = {
    "daily": (daily.NAME, 2, legacy_daily.build_daily_report, _one_day(daily.build_daily_reports)),
    "weekly": (
        weekly.NAME,
        1,
        _page_of_week(legacy_weekly.build_weekly_report),
        _page_of_week(_one_day(weekly.build_weekly_reports)),
    ),
    "monthly": (
        monthly.NAME,
        1,
        _with_ratio(legacy_monthly.build_monthly_report),
        _one_day(lambda con, days, links: monthly.build_monthly_reports(con, days, MOM_RATIO, links)),
    ),
}


def _build(warehouse, builders, day, link: str) -> list[Report]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [build(con, day, link) for build in builders]
    finally:
        con.close()


def _old_and_new(warehouse, report: str, day, link: str) -> list[Report]:
    return _build(warehouse, REPORTS[report][2:], day, link)


def _new(warehouse, report: str, day, link: str) -> Report:
    return _build(warehouse, REPORTS[report][3:], day, link)[0]


def _link(report: str, day) -> str:
    return f"{UI}/assets/{REPORTS[report][0]}?view=partitions&partition={day.isoformat()}"


def assert_same_page(old: Report, new: Report) -> None:
    assert (new.name, new.day, new.figures, new.preview, new.charts) == (
        old.name,
        old.day,
        old.figures,
        old.preview,
        old.charts,
    )
    before, after = page_content(old.html), page_content(new.html)
    # The one rule that went: .grid2 styled html.side_by_side, which no page called (dead code).
    before.css = [rule for rule in before.css if not rule.startswith(".grid2{")]
    assert after == before
    assert len(after.tables) >= 3 and after.images and after.figures  # not a comparison of two empty pages


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("which", ["first", "sunday", "last"])
def test_templates_match_the_old_pages_on_the_tiny_warehouse(reported, report, which):
    """The first day has no day before it and no growth; the Sunday ends an ISO week."""
    home, days, _ = reported
    day = {"first": days[0], "sunday": next(d for d in days if d.isoweekday() == 7), "last": days[-1]}[which]
    old, new = _old_and_new(home / "warehouse.duckdb", report, day, _link(report, day))
    assert_same_page(old, new)
    assert page_content(new.html).links == [(_link(report, day), "Open in Dagster")]


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("which", ["first", "last"])
def test_templates_match_the_old_pages_on_the_varied_warehouse(reported, varied, report, which):
    _, days, _ = reported
    day = days[0] if which == "first" else days[-1]
    old, new = _old_and_new(varied, report, day, "")
    assert_same_page(old, new)
    content = page_content(new.html)
    assert content.links == []  # no UI link given, none shown
    # The branches this warehouse is for are taken.
    if report == "daily":
        assert "source: alerts.alert_events" in content.text
    if report == "weekly" and which == "last":
        assert new.figures["previous_week_cost_usd"] > 0
    if report == "monthly":
        assert new.figures["month_over_month_flagged"] == 1


def test_the_comparison_sees_a_changed_cell_a_moved_row_a_lost_class_and_another_chart(reported):
    home, days, _ = reported
    html = _new(home / "warehouse.duckdb", "daily", days[-1], _link("daily", days[-1])).html
    original = page_content(html)
    rows = re.search(
        r"Top 10 users by storage</h2>\s*<table>.*?<tbody>\s*(<tr>.*?</tr>)\s*(<tr>.*?</tr>)", html, re.S
    )
    mutations = {
        "a cell": re.sub(r'(<td class="num">[^<]*)(</td>)', r"\g<1>0\g<2>", html, count=1),
        "a row": html.replace(rows[1] + "\n" + rows[2], rows[2] + "\n" + rows[1]),
        "a class": html.replace('<td class="num">', "<td>", 1),
        "a chart": html.replace("base64,iVBOR", "base64,iVBOQ", 1),
        "the link": html.replace("partition=", "partition=x", 1),
    }
    for what, changed in mutations.items():
        assert changed != html, what
        assert page_content(changed) != original, what
    # Formatting is not content: re-indented cells and entities spelled another way compare equal.
    assert page_content(html.replace("<td", "\n    <td").replace("&amp;", "&#38;")) == original


@pytest.mark.parametrize(
    ("report", "shown"),
    [
        ("daily", {f"user {SCRIPT}", f"user {IMG}", f"key {IMG} hot"}),
        ("weekly", {SCRIPT}),
        ("monthly", {IMG}),
    ],
)
def test_user_text_is_escaped_on_every_page(reported, varied, report, shown):
    _, days, _ = reported
    html = _new(varied, report, days[-1], _link(report, days[-1])).html
    content = page_content(html)
    cells = {cell[3] for table in content.tables for row in table for cell in row}
    assert shown <= cells  # shown to the reader literally, as the text it is
    # … and never as markup: one <script> (the figures), no image but the charts, no event handler.
    tags = [tag for tag, _ in content.elements]
    assert tags.count("script") == 1 and html.count("</script>") == 1
    assert tags.count("img") == REPORTS[report][1] and "<img src=x" not in html
    assert all(src.startswith("data:image/png;base64,") for _, _, src in content.images)
    assert [a for _, attrs in content.elements for a in attrs if a.startswith("on")] == []
