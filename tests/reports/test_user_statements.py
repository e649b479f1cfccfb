"""Per-user statements: every user once, exact decimals that add up to the month's bill, both files
saying the same, and a rerun that replaces the month's files."""

import csv
import json
from decimal import Decimal

import dagster as dg

from assets.reports import REPORT_ASSETS
from tests.conftest import bucketlens_env
from tests.reports.conftest import report_resources
from tests.reports.helpers import check_passed, materialization, query


def _month(home, day):
    folder = home / "reports" / "user_statements"
    stem = f"{day:%Y-%m}"
    with open(folder / f"{stem}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    document = json.loads((folder / f"{stem}.json").read_text(), parse_float=Decimal)
    return folder, rows, document


def test_statements_add_up_to_the_billed_total_to_the_cent(reported):
    home, days, result = reported
    day = days[-1]
    # The generator's export stops the day before its last day: that day is the price book's estimate.
    (exported,) = query(
        home,
        "SELECT sum(unblended_cost) FROM raw.cost_line_items WHERE CAST(usage_start AS DATE) BETWEEN ? AND ?",
        [days[0], day],
    )[0]
    estimated = query(
        home,
        "SELECT usage_date, sum(amount_usd) FROM cost.user_daily_cost WHERE is_estimate GROUP BY ALL",
    )
    assert [d for d, _ in estimated] == [day]
    billed = exported + estimated[0][1]
    _, rows, document = _month(home, day)
    from_csv = sum(Decimal(r["cost_total_usd"]) for r in rows)
    from_json = sum(u["cost_total_usd"] for u in document["users"])
    assert billed > 0 and from_csv == from_json == billed  # exact, not merely to the cent
    assert document["billed_total_usd"] == billed and document["month"] == f"{day:%Y-%m}"
    for r in rows:  # each user's categories add up to their total
        parts = [
            Decimal(r[f"cost_{c}_usd"])
            for c in ("storage", "requests", "transfer", "retrieval", "adjustment", "other", "cdn")
        ]
        assert sum(parts) == Decimal(r["cost_total_usd"])
    assert check_passed(result, "statements_reconcile_to_bill")


def test_every_user_has_one_statement_with_their_usage(reported, tiny_s3_source):
    home, days, _ = reported
    day = days[-1]
    _, rows, document = _month(home, day)
    ids = [r["user_id"] for r in rows]
    assert len(ids) == len(set(ids)) == len(document["users"])
    registered = {u for (u,) in query(home, "SELECT user_id FROM raw.users WHERE snapshot_date = ?", [day])}
    assert registered <= set(ids) and "_shared" in ids
    busiest, requests, tier1 = query(
        home,
        "SELECT user_id, sum(request_count), sum(request_count) FILTER (WHERE request_tier = 'tier1') "
        "FROM usage.user_daily_requests WHERE usage_date <= ? AND user_id <> '_shared' "
        "GROUP BY ALL ORDER BY 2 DESC, 1 LIMIT 1",
        [day],
    )[0]
    end_bytes, added = query(
        home,
        "SELECT sum(bytes) FILTER (WHERE usage_date = ?), sum(bytes_added) FROM usage.user_daily_storage "
        "WHERE user_id = ? AND usage_date <= ?",
        [day, busiest, day],
    )[0]
    row = next(r for r in rows if r["user_id"] == busiest)
    assert int(row["requests_total"]) == requests and int(row["requests_tier1"]) == (tier1 or 0)
    assert int(row["end_bytes_stored"]) == end_bytes and int(row["bytes_added"]) == added
    assert row["as_of"] == day.isoformat()


def test_a_rerun_replaces_the_months_files(reported, tiny_s3_source):
    home, days, _ = reported
    day = days[-1]
    folder, rows, _ = _month(home, day)
    before = sorted(p.name for p in folder.iterdir())
    with bucketlens_env(home, tiny_s3_source.root, tiny_s3_source.users_db):
        result = dg.materialize(
            [a for a in REPORT_ASSETS if a.key.to_user_string() == "user_statements"],
            partition_key=day.isoformat(),
            resources=report_resources(home),
        )
    assert result.success
    _, again, _ = _month(home, day)
    assert sorted(p.name for p in folder.iterdir()) == before == [f"{day:%Y-%m}.csv", f"{day:%Y-%m}.json"]
    assert again == rows
    assert materialization(result, "user_statements")["users"] == len(rows)
