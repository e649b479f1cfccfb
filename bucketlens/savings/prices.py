"""The billing rules a storage-class move is priced by, read from the dated price book.

Why a table of rules and not the estimator's price rows: a recommendation asks "what would these objects
cost in that class", which needs the rules AWS bills by beyond the unit prices — the minimum billable
object size (128 KB in Standard-IA and Glacier Instant Retrieval), the minimum storage duration (30 / 90
/ 180 days) that an early delete still pays, the 8 KB + 32 KB each archived object carries, the
lifecycle transition request, Intelligent-Tiering's monitoring fee and the objects it does not monitor
(< 128 KB), and the retrieval a read costs. Each becomes a column of ``candidate_classes`` (one row per
class a user's Standard objects could move to) and ``storage_prices`` (every class, for pricing what is
already stored), which the SQL joins; every figure carries the date of its source (``PriceBook.as_of``).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from bucketlens.costing.price_book import AWS, GIB, R2, PriceBook, PriceBookError
from bucketlens.savings import sql

KIB = 1024
TIERS = "sv_tiers"
BUCKET_RATES = "sv_bucket_rates"
BUCKET_RATES_SQL = sql("bucket_rates")
AWS_CANDIDATES = ("STANDARD_IA", "GLACIER_IR", "DEEP_ARCHIVE", "INTELLIGENT_TIERING")
R2_INFREQUENT_ACCESS = "R2_INFREQUENT_ACCESS"
# R2's S3 API names its Infrequent Access class STANDARD_IA in listings and lifecycle rules
R2_LIFECYCLE_CLASS = "STANDARD_IA"


@dataclass(frozen=True)
class CandidateClass:
    """What moving one Standard object into ``storage_class`` costs and saves, per the price book."""

    storage_class: str  # as bucketlens names it (R2_INFREQUENT_ACCESS for R2's class)
    lifecycle_class: str  # as the lifecycle rule's StorageClass names it
    storage_per_gb_month: float  # the class's rate (Intelligent-Tiering: its Infrequent Access tier)
    min_days: int  # minimum storage duration; deleting sooner pays the remaining days
    min_billable_bytes: int  # smaller objects are billed as this size (0: none)
    overhead_class_bytes: int  # per object, billed at the class rate (archive index)
    overhead_standard_bytes: int  # per object, billed at the STANDARD rate (archive metadata)
    monitoring_per_object_month: float  # Intelligent-Tiering's automation fee
    monitored_min_bytes: int  # smaller objects are neither monitored nor tiered (0: all are)
    transition_per_object: float  # one lifecycle transition request
    get_per_request: float  # a GET of an object in the class
    retrieval_per_gb: float  # per GB read (archive: restored), per the class
    restore_per_request: float  # archive classes: a GET needs a restore first
    min_transition_age_days: int  # the least lifecycle "Days" allowed for the class
    size_filter: bool  # whether the provider's lifecycle rules can filter by object size
    price_as_of: str  # the date of the prices used (the oldest source involved)


@dataclass(frozen=True)
class StoragePrice:
    """How one storage class bills what is stored (for pricing leaks and the baseline)."""

    storage_class: str
    storage_per_gb_month: float  # STANDARD: the first tier (the tier table refines it per bucket)
    min_billable_bytes: int
    overhead_class_bytes: int
    overhead_standard_bytes: int


@dataclass(frozen=True)
class Baseline:
    """What the objects cost where they are (Standard): tiered storage and the GET price."""

    tiers: list[tuple[float, float | None, float]]  # (from GB, up to GB or None, $/GB-month)
    get_per_request: float
    price_as_of: str


def _kb(book: PriceBook, path: str, default: float | None = None) -> int:
    return int(book.number(path, default) * KIB)


def _boundary(book: PriceBook, path: str, size: int) -> int:
    """Sizes the SQL groups objects by are 0 or powers of two from 2 KiB; a rule's size limit must be one
    of them for the grouped figures to be exact (128 KB is)."""
    if size and (size < 2 * KIB or size & (size - 1)):
        raise PriceBookError(
            f"price book {book.source}: {path} must be 0 or a power of two from 2 KB, got {size}"
        )
    return size


def _oldest(book: PriceBook, *paths: str) -> str:
    dates = [d for d in (book.as_of(p) for p in paths) if d]
    return min(dates) if dates else ""


def aws_candidates(book: PriceBook) -> list[CandidateClass]:
    """STANDARD_IA, GLACIER_IR, DEEP_ARCHIVE and INTELLIGENT_TIERING under AWS's rules."""
    a = AWS
    out = []
    for c in AWS_CANDIDATES:
        minimums = f"{a}.minimums.{c}"
        requests = f"{a}.requests_per_1000.{c}"
        if c == "INTELLIGENT_TIERING":
            tier = f"{a}.storage_per_gb_month.INTELLIGENT_TIERING"
            rate = book.number(f"{tier}.infrequent_access")
            monitoring = book.number(f"{tier}.monitoring_automation_per_1000_objects_month") / 1000
            monitored = _boundary(
                book, f"{tier}.monitored_min_object_kb", _kb(book, f"{tier}.monitored_min_object_kb")
            )
            retrieval = 0.0  # no retrieval fee: a read moves the object back to Frequent Access
            prices = (tier, requests)
        else:
            rate = book.number(f"{a}.storage_per_gb_month.{c}")
            monitoring, monitored = 0.0, 0
            retrieval_path = f"{a}.retrieval_per_gb.{c}"
            retrieval = book.number(retrieval_path + (".standard" if c == "DEEP_ARCHIVE" else ""))
            prices = (f"{a}.storage_per_gb_month.{c}", requests, retrieval_path)
        min_billable = _kb(book, f"{minimums}.min_billable_object_kb", 0)
        out.append(
            CandidateClass(
                storage_class=c,
                lifecycle_class=c,
                storage_per_gb_month=rate,
                min_days=int(book.number(f"{minimums}.min_days")),
                min_billable_bytes=_boundary(book, f"{minimums}.min_billable_object_kb", min_billable),
                overhead_class_bytes=_kb(book, f"{minimums}.per_object_overhead_kb.at_class_rate", 0),
                overhead_standard_bytes=_kb(book, f"{minimums}.per_object_overhead_kb.at_standard_rate", 0),
                monitoring_per_object_month=monitoring,
                monitored_min_bytes=monitored,
                transition_per_object=book.number(f"{requests}.lifecycle_transition_in") / 1000,
                get_per_request=book.number(f"{requests}.get_select_other") / 1000,
                retrieval_per_gb=retrieval,
                restore_per_request=book.number(f"{requests}.restore_standard", 0) / 1000,
                min_transition_age_days=int(book.number(f"{minimums}.min_transition_age_days", 0)),
                size_filter=True,
                price_as_of=_oldest(book, *prices, minimums),
            )
        )
    return out


def r2_candidates(book: PriceBook) -> list[CandidateClass]:
    """R2 Infrequent Access: cheaper storage, dearer operations, a retrieval fee, 30 days minimum; R2's
    lifecycle rules filter by prefix only, so a recommendation always covers the whole prefix."""
    ia = f"{R2}.infrequent_access"
    filters = book.value(f"{ia}.lifecycle_filters")
    return [
        CandidateClass(
            storage_class=R2_INFREQUENT_ACCESS,
            lifecycle_class=R2_LIFECYCLE_CLASS,
            storage_per_gb_month=book.number(f"{ia}.storage_per_gb_month"),
            min_days=int(book.number(f"{ia}.min_days")),
            min_billable_bytes=_boundary(
                book, f"{ia}.min_billable_object_kb", _kb(book, f"{ia}.min_billable_object_kb", 0)
            ),
            overhead_class_bytes=0,
            overhead_standard_bytes=0,
            monitoring_per_object_month=0.0,
            monitored_min_bytes=0,
            transition_per_object=book.number(f"{ia}.lifecycle_transition_per_million") / 1e6,
            get_per_request=book.number(f"{ia}.class_b_per_million") / 1e6,
            retrieval_per_gb=book.number(f"{ia}.retrieval_per_gb"),
            restore_per_request=0.0,
            min_transition_age_days=0,
            size_filter=isinstance(filters, list) and "object_size" in filters,
            price_as_of=_oldest(book, ia),
        )
    ]


def candidate_classes(book: PriceBook, provider: str) -> list[CandidateClass]:
    if provider == AWS:
        return aws_candidates(book)
    if provider == R2:
        return r2_candidates(book)
    raise PriceBookError(f"no storage-class candidates for provider {provider!r} (expected {AWS} or {R2})")


def baseline(book: PriceBook, provider: str) -> Baseline:
    """Standard's tiers ($/GB-month by the bucket's size, TB = 1024 GB) and its GET price."""
    if provider == R2:
        std = f"{R2}.standard"
        return Baseline(
            [(0.0, None, book.number(f"{std}.storage_per_gb_month"))],
            book.number(f"{std}.class_b_per_million") / 1e6,
            _oldest(book, std),
        )
    path = f"{AWS}.storage_per_gb_month.STANDARD"
    tiers, lower = [], 0.0
    for i, tier in enumerate(book.value(path)):
        upper = tier.get("up_to_tb")
        tiers.append(
            (lower, None if upper is None else float(upper) * 1024, _tier_price(book, path, i, tier))
        )
        lower = float(upper or 0) * 1024
    get = book.number(f"{AWS}.requests_per_1000.STANDARD.get_select_other") / 1000
    return Baseline(tiers, get, _oldest(book, path, f"{AWS}.requests_per_1000.STANDARD"))


def _tier_price(book: PriceBook, path: str, i: int, tier: object) -> float:
    price = tier.get("price") if isinstance(tier, dict) else None
    if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
        raise PriceBookError(f"price book {book.source}: {path}[{i}].price must be a non-negative number")
    return float(price)


def storage_prices(book: PriceBook, provider: str) -> list[StoragePrice]:
    """Every storage class the inventory may name, with how it bills stored bytes."""
    if provider == R2:
        standard = book.number(f"{R2}.standard.storage_per_gb_month")
        ia = book.number(f"{R2}.infrequent_access.storage_per_gb_month")
        return [StoragePrice("STANDARD", standard, 0, 0, 0), StoragePrice(R2_LIFECYCLE_CLASS, ia, 0, 0, 0)]
    storage = f"{AWS}.storage_per_gb_month"
    rates = {
        c: book.number(f"{storage}.{c}")
        for c, v in book.value(storage).items()
        if not isinstance(v, list | dict)
    }
    rates["STANDARD"] = _tier_price(book, f"{storage}.STANDARD", 0, book.value(f"{storage}.STANDARD")[0])
    # objects in Intelligent-Tiering are priced at its Frequent Access tier: the inventory does not say
    # which access tier holds them (the cost estimate makes the same choice)
    rates["INTELLIGENT_TIERING"] = _tier_price(
        book,
        f"{storage}.INTELLIGENT_TIERING.frequent_access",
        0,
        book.value(f"{storage}.INTELLIGENT_TIERING.frequent_access")[0],
    )
    out = []
    for c, rate in sorted(rates.items()):
        m = f"{AWS}.minimums.{c}"
        out.append(
            StoragePrice(
                c,
                rate,
                _kb(book, f"{m}.min_billable_object_kb", 0),
                _kb(book, f"{m}.per_object_overhead_kb.at_class_rate", 0),
                _kb(book, f"{m}.per_object_overhead_kb.at_standard_rate", 0),
            )
        )
    return out


def load_tiers(con, book: PriceBook, provider: str) -> None:
    """TEMP table ``sv_tiers``: Standard's price tiers from the price book. Why here: the leaks and the
    recommendations both price Standard storage by these tiers."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TIERS} (from_gb DOUBLE, up_to_gb DOUBLE, price DOUBLE)")
    con.executemany(f"INSERT INTO {TIERS} VALUES (?, ?, ?)", baseline(book, provider).tiers)


def stage_with_bucket_rates(con, out: str, sql_text: str, params: dict[str, object]) -> None:
    """TEMP table ``out`` from a savings query over the days ``$start`` .. ``$end`` of ``params``, after
    TEMP table ``sv_bucket_rates`` (``bucket_rates.sql``, over ``sv_tiers``): each bucket's Standard rate
    per day, which the query joins. Why: ``storage_leaks.sql`` and ``storage_recommendations.sql`` price
    Standard storage by the same rate, so it is written once and staged the same way for both."""
    window = {"start": params["start"], "end": params["end"]}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {BUCKET_RATES} AS {BUCKET_RATES_SQL}", window)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out} AS {sql_text}", params)


def load_table(con, table: str, rows: list, row_type: type) -> None:
    """A TEMP table holding ``rows`` (dataclasses of ``row_type``): the SQL joins prices, never formats them in."""
    sql_types = {float: "DOUBLE", int: "BIGINT", str: "VARCHAR", bool: "BOOLEAN"}
    cols = ", ".join(f"{f.name} {sql_types[_type(f.type)]}" for f in fields(row_type))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({cols})")
    if rows:
        marks = ", ".join("?" * len(fields(row_type)))
        con.executemany(f"INSERT INTO {table} VALUES ({marks})", [astuple(r) for r in rows])


def _type(annotation: object) -> type:
    names = {"float": float, "int": int, "str": str, "bool": bool}
    return names[annotation] if isinstance(annotation, str) else annotation  # type: ignore[return-value]


GB = float(GIB)
