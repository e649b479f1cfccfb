"""The savings section of the monthly report and the savings columns of the statements, from a small
warehouse written by hand: what the page shows is the savings tables' figures of the report's day (best
class per user, leaks, the month's KPIs against their targets), a user id that is HTML stays text, and a
warehouse without the savings layer gets no section."""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from assets.usage.service_daily_kpis import TABLE_DDL as KPIS_DDL
from bucketlens.reports.html import render
from bucketlens.reports.monthly import build_monthly_reports
from bucketlens.reports.savings import USER_SAVINGS, savings_figures, savings_section, stage_user_savings
from bucketlens.reports.statements import write_statements
from bucketlens.savings.leaks import TABLE_DDL as LEAKS_DDL
from bucketlens.savings.recommendations import TABLE_DDL as RECOMMENDATIONS_DDL
from tests.reports.helpers import page
from tests.reports.page_content import page_content

DAY = date(2026, 12, 5)
GIB, MIB = 1024**3, 1024**2
BOB = "<b>bob</b>"  # a user id that is HTML


def _insert(con, table: str, rows: list[dict]) -> None:
    for row in rows:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))


def _move(day, user, cls, saving, *, best, recommended=True, **more) -> dict:
    return {"usage_date": day, "bucket": "photos-prod", "user_id": user, "storage_class": cls,
            "monthly_saving_usd": Decimal(saving), "best_for_user": best, "recommended": recommended,
            "observed_days": 30, "price_as_of": "2026-11-01", **more}  # fmt: skip


def _kpi(day, kpi, unit, value, target, direction, meets, display) -> dict:
    return {"usage_date": day, "kpi": kpi, "unit": unit, "value": value, "target": target,
            "direction": direction, "meets_target": meets, "display": display}  # fmt: skip


def write_savings(con, day: date = DAY) -> None:
    """The savings tables of ``day`` (and rows of other days that must not show)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS usage")
    for ddl in (RECOMMENDATIONS_DDL, LEAKS_DDL, KPIS_DDL):
        con.execute(ddl)
    first = day.replace(day=1)
    _insert(con, "savings.storage_recommendations", [
        _move(day, "alice", "STANDARD_IA", "1.5", best=True, transition_cost_usd=Decimal("0.25"), bytes=100 * GIB,
              objects=2000, transition_age_days=30, min_object_bytes=131072, break_even_months=1 / 6),
        _move(day, "alice", "DEEP_ARCHIVE", "1.2", best=False, transition_cost_usd=Decimal("2"), bytes=100 * GIB),
        _move(day, BOB, "GLACIER_IR", "0.75", best=True, transition_cost_usd=Decimal("0.05"), bytes=20 * GIB,
              objects=500, transition_age_days=90, min_object_bytes=131072, max_object_bytes=GIB,
              break_even_months=0.0667),
        _move(day, "carol", "INTELLIGENT_TIERING", "-0.01", best=False, recommended=False, bytes=GIB),
        _move(day - timedelta(days=1), "alice", "STANDARD_IA", "9.99", best=True, bytes=GIB),
    ])  # fmt: skip
    _insert(con, "savings.storage_leaks", [
        {"usage_date": day, "bucket": "photos-prod", "user_id": "dave", "leak_type": "orphaned_data",
         "user_status": "deleted", "objects": 10, "bytes": GIB, "monthly_cost_usd": Decimal("0.023"),
         "cleanup_kind": "key_list"},
        {"usage_date": day, "bucket": "photos-prod", "user_id": "alice", "leak_type": "incomplete_multipart_upload",
         "user_status": "active", "objects": 3, "bytes": 13 * MIB, "monthly_cost_usd": Decimal("0.000292"),
         "cleanup_kind": "lifecycle_rule"},
        {"usage_date": day - timedelta(days=1), "bucket": "photos-prod", "user_id": "erin",
         "leak_type": "orphaned_data", "objects": 1, "bytes": GIB, "monthly_cost_usd": Decimal("5")},
    ])  # fmt: skip
    _insert(con, "usage.service_daily_kpis", [
        _kpi(first - timedelta(days=1), "upload_success_rate", "rate", 0.5, 0.99, "at_least", False, "50.00 %"),
        _kpi(first, "upload_success_rate", "rate", 0.98, 0.99, "at_least", False, "98.00 %"),
        _kpi(day, "upload_success_rate", "rate", 0.995, 0.99, "at_least", True, "99.50 %"),
        _kpi(day, "time_to_first_byte_p95_ms", "ms", 180.0, 200.0, "at_most", True, "180 ms"),
        _kpi(day, "daily_active_uploaders", "count", 42.0, None, None, None, "42"),
    ])  # fmt: skip


@pytest.fixture
def con():
    c = duckdb.connect()
    write_savings(c)
    yield c
    c.close()


def _rows(table) -> list[list[str]]:
    return [[cell[3] for cell in row] for row in table]


def test_the_section_shows_the_days_moves_leaks_and_the_months_kpis(con):
    section = savings_section(con, DAY)
    shown = page_content(render("savings.html", savings=section))
    text = " | ".join(shown.text)
    # tiles: best class per user only (alice's Deep Archive and yesterday's row are not added)
    assert "Storage-class moves | $2.25 a month | 2 users, 120.0 GiB to move" in text
    assert "One-time transition fees | $0.30 | prices as of 2026-11-01" in text
    assert "Leaks | $0.0233 a month | 2 kinds" in text
    assert ("div", "tile alert") in shown.styled  # leaks alert
    top, by_class, leaks, top_leaks, kpis = (_rows(t) for t in shown.tables)
    assert top[1:] == [
        ["alice", "photos-prod", "STANDARD_IA", "30", "≥ 128.0 KiB", "2,000", "100.0 GiB", "$1.5000", "$0.2500",
         "0.2 mo"],
        [BOB, "photos-prod", "GLACIER_IR", "90", "≥ 128.0 KiB, < 1.0 GiB", "500", "20.0 GiB", "$0.7500",
         "$0.0500", "0.1 mo"],
    ]  # fmt: skip
    assert by_class[1:] == [
        ["STANDARD_IA", "1", "$1.5000", "100.0 GiB", "0"],
        ["DEEP_ARCHIVE", "1", "$1.2000", "100.0 GiB", "0"],
        ["GLACIER_IR", "1", "$0.7500", "20.0 GiB", "0"],
        ["INTELLIGENT_TIERING", "0", "$0.0000", "0 B", "1"],
    ]
    assert leaks[1:] == [
        ["orphaned_data", "1", "10", "1.0 GiB", "$0.0230"],
        ["incomplete_multipart_upload", "1", "3", "13.0 MiB", "$0.0003"],
    ]
    assert top_leaks[1:] == [
        ["orphaned_data", "dave", "deleted", "10", "1.0 GiB", "$0.0230", "key_list"],
        ["incomplete_multipart_upload", "alice", "active", "3", "13.0 MiB", "$0.0003", "lifecycle_rule"],
    ]
    # the month to date (the 1st and the 5th, not November's 30th), in the KPI order, with targets
    assert kpis[1:] == [
        ["upload_success_rate", "99.50 %", "98.75 %", "≥ 99 %", "1 of 2"],
        ["time_to_first_byte_p95_ms", "180 ms", "180 ms", "≤ 200 ms", "0 of 1"],
        ["daily_active_uploaders", "42", "42", "—", "0 of 1"],
    ]
    assert [row[4][1] for row in shown.tables[4][1:]] == ["num flag", "num", "num"]  # missed days flagged
    assert savings_figures(section) == {
        "savings_monthly_usd": 2.25,
        "savings_users": 2,
        "leaks_monthly_usd": 0.023292,
        "kpis_missing_target": 1,
    }


def test_the_statements_rows_carry_each_users_best_move_and_leaks(con):
    stage_user_savings(con, DAY)
    got = con.execute(f"SELECT * FROM {USER_SAVINGS} ORDER BY user_id").fetchall()
    assert got == [
        (BOB, "GLACIER_IR", Decimal("0.750000"), None, None),
        ("alice", "STANDARD_IA", Decimal("1.500000"), 13 * MIB, Decimal("0.000292")),
        ("dave", None, None, GIB, Decimal("0.023000")),
    ]


def test_without_the_savings_layer_nothing_is_staged_or_shown():
    c = duckdb.connect()
    assert savings_section(c, DAY)["available"] is False
    stage_user_savings(c, DAY)
    assert c.execute(f"SELECT count(*) FROM {USER_SAVINGS}").fetchall() == [(0,)]


def test_the_monthly_report_and_the_statements_show_the_savings(reported, tmp_path):
    """The tiny month as the pipeline built it, plus the savings tables of its last day."""
    home, days, _ = reported
    day = days[-1]
    assert "<h2>Savings</h2>" not in page(home, "monthly_report", day)  # built before any savings layer
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(home / "warehouse.duckdb", path)
    con = duckdb.connect(str(path))
    try:
        write_savings(con, day)
        (user,) = con.execute(
            "SELECT min(user_id) FROM raw.users WHERE snapshot_date = ? AND user_id <> 'alice'", [day]
        ).fetchall()[0]
        for table in ("savings.storage_recommendations", "savings.storage_leaks"):
            con.execute(f"UPDATE {table} SET user_id = ? WHERE user_id = 'alice'", [user])
        (report,) = build_monthly_reports(con, [day], 0.2)
        statements = write_statements(con, day, tmp_path / "reports")
    finally:
        con.close()
    assert report.figures["savings_monthly_usd"] == 2.25 and report.figures["leaks_monthly_usd"] == 0.023292
    assert (
        "- savings: $2.25 a month from storage-class moves (2 users), leaks $0.0233 a month" in report.preview
    )
    shown = page_content(report.html)
    assert "Savings" in shown.text and "Top opportunities" in shown.text
    assert BOB in shown.text and "<b>bob</b>" not in report.html  # escaped: shown as text, not markup
    assert shown.figures["savings_users"] == 2
    with open(statements.csv, newline="") as fh:
        rows = {r["user_id"]: r for r in csv.DictReader(fh)}
    columns = ("recommended_class", "recommended_saving_usd", "leak_bytes", "leak_monthly_usd")
    # only registered users (and _shared) have statements: the made-up ids have none
    assert {u: tuple(r[c] for c in columns) for u, r in rows.items() if any(r[c] for c in columns)} == {
        user: ("STANDARD_IA", "1.500000", str(13 * MIB), "0.000292")
    }
    assert statements.reconciles
