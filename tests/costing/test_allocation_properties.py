"""Property: for any line items and usage, the day's allocation sums to the bill exactly and every share is
within one micro-dollar of the exact proportional share."""

from collections import defaultdict
from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bucketlens.costing.allocation import allocate_day
from tests.costing.tables import connect, line_item, make_tables, request_row, storage_row

DAY = date(2025, 10, 3)

# usage type -> (product code, line item type, driver key in the weight model; None = adjustment/unknown)
KINDS = {
    "USE1-TimedStorage-ByteHrs": ("AmazonS3", "Usage", "std_bh"),
    "TimedStorage-GDA-ByteHrs": ("AmazonS3GlacierDeepArchive", "Usage", "gda_bh"),
    "Requests-Tier1": ("AmazonS3", "Usage", "puts"),
    "EU-Requests-Tier2": ("AmazonS3", "Usage", "gets"),
    "DataTransfer-Out-Bytes": ("AmazonS3", "Usage", "sent"),
    "Brand-New-Thing": ("AmazonS3", "Usage", "unknown"),
    "Tax": ("AmazonS3", "Tax", "adjustment"),
    "Credit": ("AmazonS3", "Credit", "adjustment"),
}

weight = st.one_of(st.just(0), st.integers(0, 1000), st.integers(0, 10**20))
count = st.one_of(st.just(0), st.integers(0, 10**6))
# bytes_sent is a BIGINT column (byte-hours are HUGEINT): its weights stop at 2^63 - 1.
bigint_weight = st.one_of(st.just(0), st.integers(0, 1000), st.integers(0, 2**63 - 1))
user = st.fixed_dictionaries(
    {"std_bh": weight, "gda_bh": weight, "puts": count, "gets": count, "sent": bigint_weight}
)
cost_micro = st.one_of(st.integers(-(10**6), 10**6), st.integers(-(10**13), 10**13))
item = st.tuples(st.sampled_from(sorted(KINDS)), cost_micro)


def usd(micro: int) -> str:
    return str(Decimal(micro).scaleb(-6).quantize(Decimal("0.000001")))


def build(con, users: dict[str, dict], items: list[tuple[str, int]]) -> None:
    storage, requests = [], []
    for uid, u in users.items():
        storage.append(storage_row(DAY, uid, "STANDARD", u["std_bh"]))
        storage.append(storage_row(DAY, uid, "DEEP_ARCHIVE", u["gda_bh"], object_count=1))
        requests.append(request_row(DAY, uid, "REST.PUT.OBJECT", count=u["puts"]))
        requests.append(request_row(DAY, uid, "REST.GET.OBJECT", count=u["gets"], sent=u["sent"]))
        requests.append(request_row(DAY, uid, "REST.GET.OBJECT", status="5xx", count=3, billable=0, errors=3))
    lines = []
    for usage_type, micro in items:
        product, line_type, _ = KINDS[usage_type]
        ut = None if line_type != "Usage" else usage_type
        lines.append(line_item(DAY, ut, usd(micro), line_item_type=line_type, product_code=product))
    make_tables(con, line_items=lines, storage=storage, requests=requests)


def exact_shares(weights: dict[str, int], cost: int) -> dict[str, Fraction]:
    total = sum(w for w in weights.values() if w > 0)
    if total == 0:
        return {"_shared": Fraction(cost)}
    return {u: Fraction(cost * w, total) for u, w in weights.items() if w > 0}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(
    users=st.dictionaries(
        st.sampled_from([f"{1000 + i}" for i in range(200)] + ["_shared"]), user, max_size=200
    ),
    items=st.lists(item, min_size=1, max_size=10),
)
def test_allocation_is_exact_and_within_one_micro_dollar(users, items):
    con = connect()
    build(con, users, items)
    summary = allocate_day(con, DAY, "line_items", "storage", "requests", "cost")

    billed = sum(micro for _, micro in items)
    got = {
        (u, ut): int(amount.scaleb(6))
        for u, ut, amount in con.execute("SELECT user_id, usage_type, amount_usd FROM cost").fetchall()
    }
    # 1. the day sums to the bill exactly
    assert sum(got.values()) == billed
    assert summary.billed_total == summary.allocated_total == Decimal(billed).scaleb(-6)

    # 2. each usage line item is within 1 µ$ of its exact proportional share (zero weight -> all to _shared)
    cost_by_type: dict[str, int] = defaultdict(int)
    for usage_type, micro in items:
        cost_by_type[usage_type] += micro
    usage_by_user: dict[str, int] = defaultdict(int)
    for usage_type, cost in cost_by_type.items():
        driver = KINDS[usage_type][2]
        if driver == "adjustment":
            continue
        weights = {} if driver == "unknown" else {u: v[driver] for u, v in users.items()}
        for u, share in exact_shares(weights, cost).items():
            allocated = got.get((u, usage_type), 0)
            assert abs(allocated - share) < 1, (usage_type, u, allocated, share)
            usage_by_user[u] += allocated
        owners = {u for (u, ut) in got if ut == usage_type}
        assert owners <= set(exact_shares(weights, cost))  # nobody without weight gets a row

    # 3. adjustments split pro rata over each user's allocated usage (negative nets weigh nothing)
    for usage_type in ("Tax", "Credit"):
        if usage_type not in cost_by_type:
            continue
        weights = {u: v for u, v in usage_by_user.items() if v > 0}
        for u, share in exact_shares(weights, cost_by_type[usage_type]).items():
            assert abs(got.get((u, usage_type), 0) - share) < 1

    # 4. no zero rows, no phantom users
    assert 0 not in got.values()
    assert {u for u, _ in got} <= set(users) | {"_shared"}
