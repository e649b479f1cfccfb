"""One bill, counted once (issue 22): a CUR 2.0 and a FOCUS export of the same account and month under
``cur/`` are one bill. Only the chosen export is loaded, the choice is recorded and shown, exports that
disagree are refused, and the reconciliation holds the split to the chosen export — not to itself."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest

from assets.cost import COST_ASSETS
from assets.cost.user_daily_cost import user_daily_cost
from assets.raw import RAW_ASSETS, cost_line_items
from assets.raw.cost_line_items import one_export_checks
from assets.usage import USAGE_ASSETS
from tests.assets.cost_exports import write_copy
from tests.assets.raw_helpers import (
    check_results,
    materialize_day,
    materialize_range,
    query,
    step_failures,
)

ALL = [*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS]
DAYS = [date(2026, 10, 5), date(2026, 10, 6)]
# The tiny source's bill (its CUR 2.0 export, seed 11, with the leak cases' multipart uploads), per day:
# what every user's share adds up to.
# Each day's bill: S3 ($0.199277, $0.193883) plus CloudFront ($0.214347, $0.216730), which the export carries too.
BILLED_S3 = {date(2026, 10, 5): Decimal("0.199277"), date(2026, 10, 6): Decimal("0.193883")}
BILLED = {date(2026, 10, 5): Decimal("0.413624"), date(2026, 10, 6): Decimal("0.410613")}
PERIOD_TOTAL = Decimal("12.554276")  # 2026-10-01 .. 2026-10-09, credit included (S3 $10.216536)


def day_totals(home, table: str, column: str, date_column: str) -> dict[date, Decimal]:
    rows = query(
        home,
        f"SELECT {date_column}::DATE, sum({column}) FROM {table} WHERE {date_column}::DATE BETWEEN ? AND ? "
        "GROUP BY 1 ORDER BY 1",
        [DAYS[0], DAYS[-1]],
    )
    return dict(rows)


def per_user(home) -> dict[tuple, Decimal]:
    return {
        (d, u): c
        for d, u, c in query(
            home, "SELECT usage_date, user_id, sum(amount_usd) FROM cost.user_daily_cost GROUP BY ALL"
        )
    }


@pytest.fixture(scope="module")
def two_exports(tiny_source, tmp_path_factory):
    """The tiny source with a FOCUS export of the same bill beside its CUR 2.0 export (like AWS's FOCUS
    export it has no usage-type column: 9 of the 10 optional columns), days 5-6 run end to end."""
    root = tmp_path_factory.mktemp("two-exports") / "source"
    shutil.copytree(tiny_source.root, root)
    write_copy(root, "s3-focus", focus=True, drop=("x_UsageType",))
    home = root.parent / "home"
    result = materialize_range(home, root, f"sqlite:///{root / 'users.sqlite'}", DAYS, ALL)
    assert result.success, step_failures(result)
    return root, home, result


def test_a_cur2_and_a_focus_export_bill_each_user_exactly_once(tiny_source, two_exports, tmp_path):
    root, home, result = two_exports
    # The bill of each day, once: the old loader summed both exports ($0.398554 on 2026-10-05).
    assert day_totals(home, "raw.cost_line_items", "unblended_cost", "usage_start") == BILLED
    assert day_totals(home, "cost.user_daily_cost", "amount_usd", "usage_date") == BILLED
    s3_only = "(SELECT * FROM raw.cost_line_items WHERE product_code LIKE 'AmazonS3%')"
    assert day_totals(home, s3_only, "unblended_cost", "usage_start") == BILLED_S3
    assert query(home, "SELECT sum(unblended_cost) FROM raw.cost_line_items")[0][0] == PERIOD_TOTAL
    assert query(home, "SELECT DISTINCT export_name, schema_kind FROM raw.cost_line_items") == [
        ("s3-cur", "cur2")
    ]
    # Each user's share is what the CUR 2.0 export alone gives them.
    alone = tmp_path / "cur2-only"
    assert materialize_range(alone, tiny_source.root, tiny_source.users_db, DAYS, ALL).success
    assert per_user(home) == per_user(alone) and len(per_user(home)) > 60
    # The choice is recorded, with the reason, and shown in the asset's metadata (the Dagster UI).
    exports = query(
        home,
        "SELECT export_name, schema_kind, usage_accounts, total_cost, complete_columns, chosen, reason "
        "FROM raw.cost_exports ORDER BY export_name",
    )
    assert exports == [
        ("s3-cur", "cur2", "123456789012", PERIOD_TOTAL, 10, True,
         "most complete columns (10 of 10 vs 9 in s3-focus); the same bill as s3-cur, s3-focus"),
        ("s3-focus", "focus", "123456789012", PERIOD_TOTAL, 9, False,
         "the same bill as s3-cur (123456789012, 2026-10): not loaded, never summed"),
    ]  # fmt: skip
    checks = check_results(result)
    assert checks["cost_line_items:one_export_per_bill"].passed
    assert checks["user_daily_cost:matches_the_chosen_export"].passed


def test_the_choice_is_in_each_days_metadata(two_exports, tmp_path):
    root, home, _ = two_exports
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    result = materialize_day(copy, root, f"sqlite:///{root / 'users.sqlite'}", DAYS[0], [cost_line_items])
    (mat,) = [e.materialization for e in result.get_asset_materialization_events()]
    execution = query(copy, "SELECT execution_id FROM raw.cost_exports WHERE chosen")[0][0]
    assert mat.metadata["chosen_export"].value == f"s3-cur@{execution}"
    assert mat.metadata["exports_not_chosen"].value == "s3-focus"
    table = mat.metadata["cost_exports"].value
    assert (
        f"| s3-cur | cur2 | {execution} | 123456789012 | 12.554276 | 10 | yes | most complete columns"
        in table
    )
    assert (
        "| s3-focus | focus | exec-copy | 123456789012 | 12.554276 | 9 | no | the same bill as s3-cur"
        in table
    )


def test_the_reconciliation_fails_when_another_export_of_the_bill_is_added(two_exports, tmp_path):
    root, home, _ = two_exports
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    con = duckdb.connect(str(copy / "warehouse.duckdb"))
    con.execute(  # what the old loader did: the FOCUS export's line items added beside the chosen ones
        "INSERT INTO raw.cost_line_items SELECT * REPLACE ('s3-focus' AS export_name, 'focus' AS schema_kind) "
        "FROM raw.cost_line_items WHERE usage_start::DATE = ?",
        [DAYS[0]],
    )
    raw_check = one_export_checks(con, [DAYS[0]])[DAYS[0]]
    con.close()
    assert not raw_check.passed
    assert raw_check.description == (
        "2026-10-05: loaded $0.827248 vs $0.413624 in the chosen export; 73 line items from other exports"
    )
    result = materialize_day(copy, root, f"sqlite:///{root / 'users.sqlite'}", DAYS[0], [user_daily_cost])
    checks = check_results(result)
    assert checks["user_daily_cost:reconciles_to_the_bill"].passed  # the split adds up to what was loaded...
    bill_check = checks["user_daily_cost:matches_the_chosen_export"]  # ...which is not the bill
    assert not bill_check.passed and bill_check.blocking
    assert bill_check.description == (
        "2026-10-05: allocated $0.827248 vs $0.413624 in the chosen export; 73 line items of other exports"
    )


def test_a_named_export_is_the_bill(tiny_source, tmp_path):
    root = tmp_path / "source"
    shutil.copytree(tiny_source.root, root)
    write_copy(root, "s3-focus", focus=True, drop=("x_UsageType",))
    result = materialize_day(
        tmp_path / "home",
        root,
        f"sqlite:///{root / 'users.sqlite'}",
        DAYS[0],
        [cost_line_items],
        BUCKETLENS_COST_EXPORT="s3-focus",
    )
    assert result.success, step_failures(result)
    home = tmp_path / "home"
    assert query(home, "SELECT DISTINCT export_name, schema_kind FROM raw.cost_line_items") == [
        ("s3-focus", "focus")
    ]
    assert day_totals(home, "raw.cost_line_items", "unblended_cost", "usage_start") == BILLED
    assert query(home, "SELECT export_name, chosen, reason FROM raw.cost_exports ORDER BY 1") == [
        ("s3-cur", False, "the same bill as s3-focus (123456789012, 2026-10): not loaded, never summed"),
        ("s3-focus", True, "named by BUCKETLENS_COST_EXPORT among s3-cur, s3-focus"),
    ]


def test_exports_that_disagree_are_refused_and_the_loaded_bill_kept(tiny_source, tmp_path):
    root = tmp_path / "source"
    shutil.copytree(tiny_source.root, root)
    home, users_db = tmp_path / "home", f"sqlite:///{root / 'users.sqlite'}"
    assert materialize_day(home, root, users_db, DAYS[0], [cost_line_items]).success
    before = query(home, "SELECT count(*), sum(unblended_cost) FROM raw.cost_line_items")
    write_copy(root, "s3-focus", focus=True, cost_change=("2026-10-03", "+ 0.05"))
    result = materialize_day(home, root, users_db, DAYS[0] + timedelta(days=1), [cost_line_items])
    assert step_failures(result) == {
        "cost_line_items": "Cost exports s3-cur (CUR 2.0) and s3-focus (FOCUS) both bill 123456789012 for "
        "2026-10 but disagree on the 9 day(s) both cover: $12.554276 vs $12.604276. Set "
        "BUCKETLENS_COST_EXPORT to the export that is the bill; nothing was replaced."
    }
    assert query(home, "SELECT count(*), sum(unblended_cost) FROM raw.cost_line_items") == before
    assert query(home, "SELECT export_name, chosen FROM raw.cost_exports") == [("s3-cur", True)]


def test_exports_of_two_accounts_are_two_bills(tiny_source, tmp_path):
    root = tmp_path / "source"
    shutil.copytree(tiny_source.root, root)
    write_copy(root, "member-account", focus=False, account="210987654321")
    home = tmp_path / "home"
    assert materialize_day(
        home, root, f"sqlite:///{root / 'users.sqlite'}", DAYS[0], [cost_line_items]
    ).success
    assert query(home, "SELECT export_name, usage_accounts, chosen FROM raw.cost_exports ORDER BY 1") == [
        ("member-account", "210987654321", True),
        ("s3-cur", "123456789012", True),
    ]
    assert (
        day_totals(home, "raw.cost_line_items", "unblended_cost", "usage_start")[DAYS[0]]
        == 2 * BILLED[DAYS[0]]
    )
