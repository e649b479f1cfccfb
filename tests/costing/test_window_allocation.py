"""A window of days split in one pass equals each day split alone, row for row: the largest remainders are
ranked within each day's line item (never across days), billed and estimated days mix in one window, and
the price book prices each day of a window (its size tier, its month's hours) as that day alone."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bucketlens.costing.allocation import allocate_day, allocate_days, reconcile, reconcile_days
from bucketlens.costing.estimate import estimate_days, estimate_line_items
from bucketlens.costing.price_book import AWS, R2
from tests.costing.tables import connect, line_item, make_tables, request_row, storage_row

D1 = date(2025, 9, 29)  # the window D1..D1+3 crosses into October (30 → 31-day month)
DAYS = [D1 + timedelta(days=i) for i in range(4)]
OUT_COLUMNS = "usage_date, user_id, category, storage_class, amount_usd, is_estimate, driver, usage_type"

usage = st.fixed_dictionaries(
    {
        "bh": st.one_of(st.just(0), st.integers(1, 10**6), st.integers(0, 10**18)),
        "puts": st.integers(0, 50),
        "sent": st.integers(0, 10**12),
    }
)
kinds = st.sampled_from(
    [("TimedStorage-ByteHrs", "Usage"), ("Requests-Tier1", "Usage"), ("DataTransfer-Out-Bytes", "Usage"),
     (None, "Tax"), ("Brand-New-Thing", "Usage")]
)  # fmt: skip
items = st.lists(st.tuples(kinds, st.integers(-(10**7), 10**9)), max_size=5)


def _usd(micro: int) -> str:
    return str(Decimal(micro).scaleb(-6).quantize(Decimal("0.000001")))


def _build(con, per_day_users, per_day_items) -> None:
    lines, storage, requests = [], [], []
    for day, users, day_items in zip(DAYS, per_day_users, per_day_items, strict=True):
        for uid, u in users.items():
            storage.append(storage_row(day, uid, "STANDARD", u["bh"], object_count=1))
            requests.append(request_row(day, uid, "REST.PUT.OBJECT", count=u["puts"]))
            requests.append(request_row(day, uid, "REST.GET.OBJECT", count=1, sent=u["sent"]))
        for (usage_type, line_type), micro in day_items:
            lines.append(line_item(day, usage_type, _usd(micro), line_item_type=line_type))
    make_tables(con, line_items=lines, storage=storage, requests=requests)


def _day_by_day(con, estimated) -> tuple[list[tuple], dict]:
    rows, summaries = [], {}
    for day in DAYS:
        summaries[day] = allocate_day(
            con, day, "line_items", "storage", "requests", "one_day", is_estimate=day in estimated
        )
        rows += con.execute(f"SELECT {OUT_COLUMNS} FROM one_day").fetchall()
    return sorted(rows, key=repr), summaries


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    per_day_users=st.lists(
        st.dictionaries(st.sampled_from(["1001", "1002", "1003", "1004", "_shared"]), usage, max_size=5),
        min_size=4,
        max_size=4,
    ),
    per_day_items=st.lists(items, min_size=4, max_size=4),
    estimated=st.sets(st.sampled_from(DAYS)),
)
def test_a_window_is_split_exactly_as_its_days_one_by_one(per_day_users, per_day_items, estimated):
    con = connect()
    _build(con, per_day_users, per_day_items)
    summaries = allocate_days(
        con, DAYS[0], DAYS[-1], "line_items", "storage", "requests", "ranged", estimated_days=estimated
    )
    ranged = sorted(con.execute(f"SELECT {OUT_COLUMNS} FROM ranged").fetchall(), key=repr)
    daily_rows, daily_summaries = _day_by_day(con, estimated)
    assert ranged == daily_rows
    assert summaries == daily_summaries
    for day, day_items in zip(DAYS, per_day_items, strict=True):
        # each day adds up to its own bill to the micro-dollar, whatever the other days hold
        assert summaries[day].allocated_total == Decimal(sum(m for _, m in day_items)).scaleb(-6)


def test_equal_remainders_on_two_days_are_ranked_within_each_day():
    # Same users, same weights, same cost on both days: 1 µ$ left over each day. Ranked across the
    # window, both leftovers would go to user 1001 (smallest id) on one day only; per day each day's goes
    # to 1001 — and with 1001 absent on the second day, to 1002.
    con = connect()
    make_tables(
        con,
        line_items=[line_item(DAYS[0], "TimedStorage-ByteHrs", "0.000010"),
                    line_item(DAYS[1], "TimedStorage-ByteHrs", "0.000010")],
        storage=[storage_row(DAYS[0], u, "STANDARD", 3) for u in ("1001", "1002", "1003")]
        + [storage_row(DAYS[1], u, "STANDARD", 3) for u in ("1002", "1003", "1004")],
    )  # fmt: skip
    allocate_days(con, DAYS[0], DAYS[1], "line_items", "storage", "requests", "ranged")
    rows = con.execute("SELECT usage_date, user_id, amount_usd FROM ranged ORDER BY 1, 2").fetchall()
    assert rows == [
        (DAYS[0], "1001", Decimal("0.000004")),  # 10 µ$ over 3 equal weights: 3 each, the 1 left to 1001
        (DAYS[0], "1002", Decimal("0.000003")),
        (DAYS[0], "1003", Decimal("0.000003")),
        (DAYS[1], "1002", Decimal("0.000004")),  # the next day's leftover goes to that day's smallest id
        (DAYS[1], "1003", Decimal("0.000003")),
        (DAYS[1], "1004", Decimal("0.000003")),
    ]
    assert reconcile_days(con, "ranged", "line_items", DAYS[0], DAYS[2]) == {
        DAYS[0]: reconcile(con, "ranged", "line_items", DAYS[0]),
        DAYS[1]: reconcile(con, "ranged", "line_items", DAYS[1]),
        DAYS[2]: reconcile(con, "ranged", "line_items", DAYS[2]),  # no line items, no rows: 0 vs 0
    }
    assert reconcile(con, "ranged", "line_items", DAYS[1]).ok


def _estimate_rows(con, table) -> list[tuple]:
    return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def test_estimating_several_days_at_once_prices_each_day_as_alone():
    # Sept 30 (720 h month) and Oct 1 (744 h), and a day two weeks later (not consecutive): a bucket above
    # 50 TB on Oct 1 only, so that day's blended STANDARD rate differs from the others'.
    days = [date(2025, 9, 30), date(2025, 10, 1), date(2025, 10, 15)]
    tib = 2**40
    con = connect()
    make_tables(
        con,
        storage=[
            storage_row(days[0], "1001", "STANDARD", 24 * tib, object_count=10),
            storage_row(days[1], "1001", "STANDARD", 24 * 60 * tib, object_count=10),
            storage_row(days[1], "1002", "INTELLIGENT_TIERING", 24 * tib, object_count=3),
            storage_row(days[2], "1001", "GLACIER", 24 * tib, object_count=4),
        ],
        requests=[
            request_row(days[0], "1001", "REST.PUT.OBJECT", count=1000),
            request_row(days[1], "1001", "REST.GET.OBJECT", count=10, sent=5 * 2**30),
            request_row(days[2], "1001", "S3.TRANSITION_SIA.OBJECT", count=7),
        ],
    )
    rates = {}
    for provider in (AWS, R2):
        summaries = estimate_days(con, days, "storage", "requests", provider, "many")
        rates[provider] = {
            day: (amount, cost)
            for day, amount, cost in con.execute(
                "SELECT CAST(usage_start AS DATE), usage_amount, unblended_cost FROM many "
                "WHERE usage_type = 'TimedStorage-ByteHrs'"
            ).fetchall()
        }
        one_by_one = []
        for day in days:
            single = estimate_line_items(con, day, "storage", "requests", provider, "one")
            assert summaries[day] == single
            one_by_one += _estimate_rows(con, "one")
        assert _estimate_rows(con, "many") == sorted(one_by_one, key=repr)
    # Sept 30: 1 TiB·day = 1024 GB / 720 h·24 h = 34.13 GB-Mo at $0.023; Oct 1: 60 TiB·day over 744 h at
    # the 60 TB blend (50 TB at $0.023 + 10 TB at $0.022) = 1981.94 GB-Mo × $0.022833
    amount, cost = rates[AWS][days[0]]
    assert (round(amount, 6), cost) == (34.133333, Decimal("0.785067"))
    amount, cost = rates[AWS][days[1]]
    assert (round(amount, 6), cost) == (
        1981.935484,
        Decimal(str(round(amount * (50 * 0.023 + 10 * 0.022) / 60, 6))),
    )
    # R2 prices every day's GB-month over 30 days at its one rate
    assert rates[R2][days[1]][0] == 60 * 1024 / 30
