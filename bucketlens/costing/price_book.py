"""Estimate a day's bill from usage and list prices, before the cost export covers that day.

Why: the cost export lags by a day or more, and the R2 what-if has no bill at all. The estimate is written
as CUR-shaped line items with the usage-type names AWS uses (``TimedStorage-ByteHrs``, ``Requests-Tier1``,
…) so the very same classifier and :func:`bucketlens.costing.allocation.allocate_day` split it over users
(with ``is_estimate=True``); a later export replaces it through a partition rerun.

Prices come from ``price_book.json`` (a copy of shared/formats/price_book.json; its ``_about`` text says
where each figure came from and when — cite :attr:`PriceBook.about` wherever an estimate is shown).

Rules and simplifications (documented, deliberate):
- AWS storage: GB-Mo = byte-hours / 2^30 / hours in that month. STANDARD (and Intelligent-Tiering, all
  priced at its Frequent Access rate since the inventory does not tell the access tier) use the tiered
  price blended at the bucket's size that day, as if the bucket stayed that size all month. Unknown
  classes and REDUCED_REDUNDANCY are priced as STANDARD.
- GLACIER / DEEP_ARCHIVE: per object 32 KiB at the class rate + 8 KiB at the STANDARD rate, both emitted
  under the class's ``*-Staging`` usage type so they are split by object count. Small-object minimums of
  the IA classes and minimum-duration (early delete) fees are not estimated (sizes of small objects and
  object ages are not in the daily usage tables).
- Intelligent-Tiering monitoring: objects ≥ 128 KiB × the per-1,000-objects-month fee, pro rata per day.
- Requests per 1,000 by tier and class; lifecycle transitions at the destination class's transition price
  (read from the operation, e.g. ``S3.TRANSITION_SIA.OBJECT``), all under ``Requests-Tier4``; restores at
  the *standard* restore price (the log does not say which retrieval tier was asked for).
- Retrieval per GB: IA classes by bytes sent by GETs, Glacier/Deep Archive by restored bytes at the
  standard retrieval rate.
- Transfer out: all bytes sent at the first paid internet tier; the 100 GB/month free tier (shared by the
  whole account) and same-region/CloudFront free transfer are ignored, so this over-estimates.
- R2: every class is priced as R2 Standard (storage per 30-day GB-month, Class A = Tier-1, Class B = Tier-2,
  lifecycle = Class A, no restores, egress free); the free tier is ignored; a GB is taken as 2^30 bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import astuple, dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from bucketlens.costing.allocation import REQUEST_CLASS_SQL
from bucketlens.costing.operations import request_tier_sql

AWS = "aws_s3_us_east_1"
R2 = "cloudflare_r2"
PROVIDERS = (AWS, R2)
GIB = 2**30
TIB_IN_GB = 1024

_PRICES = "__bucketlens_estimate_prices"


class PriceBookError(ValueError):
    """A price book entry that is missing or not usable; the message names the file and the entry."""


@dataclass(frozen=True)
class PriceBook:
    """The list prices and their provenance (``about``; per entry ``as_of``)."""

    data: dict[str, Any]
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceBook:
        if path is None:
            text = (
                resources.files("bucketlens.costing").joinpath("price_book.json").read_text(encoding="utf-8")
            )
            return cls(json.loads(text), "bucketlens/costing/price_book.json")
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PriceBookError(f"price book {path}: cannot be read ({exc.strerror or exc})") from None
        except json.JSONDecodeError as exc:
            raise PriceBookError(
                f"price book {path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise PriceBookError(f"price book {path}: must be a JSON object")
        return cls(data, str(path))

    @property
    def about(self) -> str:
        """Where and when the prices were taken from (the JSON's ``_about``)."""
        return str(self.data["_about"])

    def value(self, path: str) -> Any:
        """The entry at a dotted ``path`` (``aws_s3_us_east_1.minimums.GLACIER_IR.min_days``); a missing
        one raises ``PriceBookError`` naming the file and the path, never a bare ``KeyError``."""
        node: Any = self.data
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise PriceBookError(f"price book {self.source}: {path} is missing")
            node = node[part]
        return node

    def number(self, path: str, default: float | None = None) -> float:
        """A finite, non-negative number at ``path`` (``default`` when the entry is absent, if given)."""
        try:
            value = self.value(path)
        except PriceBookError:
            if default is None:
                raise
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise PriceBookError(
                f"price book {self.source}: {path} must be a non-negative number, got {value!r}"
            )
        return float(value)

    def as_of(self, path: str) -> str:
        """The date of the source the entry at ``path`` was taken from: the ``_sources`` item naming the
        longest prefix of ``path`` (``""`` when none does). Cited next to every figure computed from it."""
        best, found = -1, ""
        for item in self.data.get("_sources", []):
            for entry in item.get("entries", []):
                if (path == entry or path.startswith(entry + ".")) and len(entry) > best:
                    best, found = len(entry), str(item.get("as_of", ""))
        return found

    @property
    def aws(self) -> dict[str, Any]:
        return self.data[AWS]

    @property
    def r2(self) -> dict[str, Any]:
        return self.data[R2]


@dataclass(frozen=True)
class EstimateSummary:
    day: date
    provider: str
    line_items: int
    total: Decimal
    price_source: str  # PriceBook.about: cite it with the estimate


@dataclass(frozen=True)
class PriceRow:
    """Unit price of one kind of usage quantity in one storage class ('*' = any)."""

    kind: str
    storage_class: str
    usage_type: str
    product_code: str
    operation: str
    pricing_unit: str
    unit_price: float


def tiered_rate(tiers: list[dict[str, Any]], size_gb: float) -> float:
    """Average $/GB-month of ``size_gb`` under marginal tiers ``[{up_to_tb, price}, …]`` (TB = 1024 GB)."""
    if size_gb <= 0:
        return float(tiers[0]["price"])
    cost, lower = 0.0, 0.0
    for tier in tiers:
        upper = float("inf") if tier["up_to_tb"] is None else tier["up_to_tb"] * TIB_IN_GB
        if size_gb > lower:
            cost += (min(size_gb, upper) - lower) * tier["price"]
        lower = upper
    return cost / size_gb


# (storage class, usage-type infix for storage, CloudWatch-style operation, product code, request prefix)
CLASS_NAMES: dict[str, tuple[str, str, str, str]] = {
    "STANDARD": ("TimedStorage-ByteHrs", "StandardStorage", "AmazonS3", ""),
    "INTELLIGENT_TIERING": ("TimedStorage-INT-FA-ByteHrs", "IntelligentTieringFAStorage", "AmazonS3", "INT-"),
    "STANDARD_IA": ("TimedStorage-SIA-ByteHrs", "StandardIAStorage", "AmazonS3", "SIA-"),
    "ONEZONE_IA": ("TimedStorage-ZIA-ByteHrs", "OneZoneIAStorage", "AmazonS3", "ZIA-"),
    "GLACIER_IR": ("TimedStorage-GIR-ByteHrs", "GlacierInstantRetrievalStorage", "AmazonS3", "GIR-"),
    "GLACIER": ("TimedStorage-GlacierByteHrs", "GlacierStorage", "AmazonS3", "GLACIER-"),
    "DEEP_ARCHIVE": ("TimedStorage-GDA-ByteHrs", "DeepArchiveStorage", "AmazonS3GlacierDeepArchive", "GDA-"),
    "REDUCED_REDUNDANCY": ("TimedStorage-RRS-ByteHrs", "ReducedRedundancyStorage", "AmazonS3", ""),
    "EXPRESS_ONEZONE": ("TimedStorage-XZ-ByteHrs", "ExpressOneZoneStorage", "AmazonS3", ""),
}
REQUEST_CLASSES = (
    "STANDARD",
    "INTELLIGENT_TIERING",
    "STANDARD_IA",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)
ARCHIVE_STAGING = {
    "GLACIER": ("TimedStorage-GlacierStaging", "Glacier"),
    "DEEP_ARCHIVE": ("TimedStorage-GDA-Staging", "DeepArchive"),
}
IA_RETRIEVAL = {"STANDARD_IA": "Retrieval-SIA", "ONEZONE_IA": "Retrieval-ZIA", "GLACIER_IR": "Retrieval-GIR"}
RESTORE_USAGE_TYPES = {"GLACIER": "Requests-Tier3", "DEEP_ARCHIVE": "Requests-GDA-Tier3"}

# Usage quantities per (day, kind, storage class); storage in GB-Mo (÷ the month's hours), bytes in GB.
# Each quantity is an exact integer sum divided once (a sum of doubles depends on DuckDB's summation order,
# and a window of days must price each day exactly as that day alone). $days: the days to estimate.
QUANTITIES_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
WITH s AS (
    SELECT usage_date,
           CASE WHEN upper(trim(storage_class)) IN ({storage_classes}) THEN upper(trim(storage_class))
                ELSE 'STANDARD' END AS sc,
           sum(CAST(byte_hours AS HUGEINT)) AS byte_hours, sum(object_count) AS objects,
           sum(object_count - coalesce(small_object_count, 0)) AS large_objects
    FROM {storage} WHERE list_contains(CAST($days AS DATE[]), usage_date) GROUP BY ALL
), r AS (  -- summed per operation first, so each distinct operation is classified once
    SELECT usage_date, {tier} AS tier, {request_class} AS sc,
           CASE regexp_extract(upper(operation), '^S3\\.TRANSITION_?([A-Z]*)\\.', 1)
               WHEN 'SIA' THEN 'STANDARD_IA' WHEN 'ZIA' THEN 'ONEZONE_IA' WHEN 'INT' THEN 'INTELLIGENT_TIERING'
               WHEN 'GIR' THEN 'GLACIER_IR' WHEN 'GDA' THEN 'DEEP_ARCHIVE' ELSE 'GLACIER' END AS transition_to,
           billable_count, bytes_sent, restored_bytes
    FROM (SELECT usage_date, operation, storage_class, sum(billable_count) AS billable_count,
                 sum(bytes_sent) AS bytes_sent, sum(restored_bytes) AS restored_bytes
          FROM {requests} WHERE list_contains(CAST($days AS DATE[]), usage_date) GROUP BY ALL)
), quantities(usage_date, kind, sc, amount, per_gib, per_hour) AS (
    SELECT usage_date, 'storage', sc, byte_hours, true, true FROM s
    UNION ALL SELECT usage_date, 'overhead_class', sc, objects * 24 * 32768, true, true FROM s
    UNION ALL SELECT usage_date, 'overhead_standard', sc, objects * 24 * 8192, true, true FROM s
    UNION ALL SELECT usage_date, 'monitoring', sc, large_objects * 24, false, true FROM s
    UNION ALL SELECT usage_date, tier, CASE WHEN tier = 'lifecycle' THEN transition_to ELSE sc END,
                     billable_count, false, false FROM r
    UNION ALL SELECT usage_date, 'retrieval_get', sc, bytes_sent, true, false FROM r WHERE tier = 'tier2'
    UNION ALL SELECT usage_date, 'retrieval_restore', sc, restored_bytes, true, false FROM r
    UNION ALL SELECT usage_date, 'transfer_out', '*', bytes_sent, true, false FROM r
), summed AS (
    SELECT usage_date, kind, sc, CAST(sum(CAST(amount AS HUGEINT)) AS DOUBLE) AS amount,
           bool_or(per_gib) AS per_gib, bool_or(per_hour) AS per_hour
    FROM quantities GROUP BY ALL
), priced AS (
    SELECT q.usage_date, p.*,
           q.amount / CASE WHEN q.per_gib THEN {gib} ELSE 1.0 END / CASE WHEN q.per_hour THEN p.hours ELSE 1.0 END
               AS quantity
    FROM summed q JOIN {prices} p ON p.usage_date = q.usage_date AND p.kind = q.kind AND p.storage_class = q.sc
)
SELECT CAST(usage_date AS TIMESTAMP) AS usage_start, CAST(usage_date AS TIMESTAMP) + INTERVAL 1 DAY AS usage_end,
       strftime(usage_date, '%Y-%m') AS billing_period, 'Usage' AS line_item_type,
       product_code, usage_type, operation, CAST(NULL AS VARCHAR) AS resource_id,
       quantity AS usage_amount,
       CAST(round(quantity * unit_price, 6) AS DECIMAL(18, 6)) AS unblended_cost, pricing_unit
FROM priced
WHERE quantity > 0
ORDER BY usage_start, usage_type, operation
"""

# Σ byte-hours per day and class, exact (the tiered STANDARD and Intelligent-Tiering rates depend on it).
CLASS_BYTE_HOURS_SQL = """
SELECT usage_date, upper(trim(storage_class)) AS sc, CAST(sum(CAST(byte_hours AS HUGEINT)) AS DOUBLE)
FROM {storage}
WHERE list_contains(CAST($days AS DATE[]), usage_date) AND upper(trim(storage_class)) IN ('STANDARD', 'INTELLIGENT_TIERING')
GROUP BY ALL
"""


class _Prices(list[PriceRow]):
    """A list of price rows with a terse ``add`` (most rows are AmazonS3)."""

    def add(
        self,
        kind: str,
        storage_class: str,
        usage_type: str,
        operation: str,
        unit: str,
        price: float,
        product: str = "AmazonS3",
    ) -> None:
        self.append(PriceRow(kind, storage_class, usage_type, product, operation, unit, float(price)))


def _aws_prices(book: PriceBook, standard_gb: float, int_gb: float) -> list[PriceRow]:
    aws = book.aws
    storage = aws["storage_per_gb_month"]
    standard_rate = tiered_rate(storage["STANDARD"], standard_gb)
    int_prices = storage["INTELLIGENT_TIERING"]
    class_rate = {c: storage[c] for c in CLASS_NAMES if isinstance(storage.get(c), int | float)}
    class_rate |= {
        "STANDARD": standard_rate,
        "REDUCED_REDUNDANCY": standard_rate,
        "INTELLIGENT_TIERING": tiered_rate(int_prices["frequent_access"], int_gb),
    }
    rows = _Prices()
    for c, (usage_type, op, product, _) in CLASS_NAMES.items():
        rows.add("storage", c, usage_type, op, "GB-Mo", class_rate[c], product)
    for c, (usage_type, op) in ARCHIVE_STAGING.items():
        rows.add(
            "overhead_class", c, usage_type, f"{op}ObjectOverhead", "GB-Mo", class_rate[c], CLASS_NAMES[c][2]
        )
        rows.add("overhead_standard", c, usage_type, f"{op}S3ObjectOverhead", "GB-Mo", standard_rate)
    monitoring = int_prices["monitoring_automation_per_1000_objects_month"] / 1000
    rows.add(
        "monitoring", "INTELLIGENT_TIERING", "Monitoring-Automation-INT", "Monitoring", "Objects", monitoring
    )
    per_1000 = aws["requests_per_1000"]
    for c in REQUEST_CLASSES:
        prefix, prices = CLASS_NAMES[c][3], per_1000[c]
        rows.add(
            "tier1",
            c,
            f"Requests-{prefix}Tier1",
            "PutObject",
            "Requests",
            prices["put_copy_post_list"] / 1000,
        )
        rows.add(
            "tier2", c, f"Requests-{prefix}Tier2", "GetObject", "Requests", prices["get_select_other"] / 1000
        )
        if "lifecycle_transition_in" in prices:
            transition = prices["lifecycle_transition_in"] / 1000
            rows.add("lifecycle", c, "Requests-Tier4", "S3-TransitionObject", "Requests", transition)
    for c, usage_type in RESTORE_USAGE_TYPES.items():
        restore = per_1000[c]["restore_standard"] / 1000
        rows.add("restore", c, usage_type, "RestoreObject", "Requests", restore, CLASS_NAMES[c][2])
    retrieval = aws["retrieval_per_gb"]
    for c, usage_type in IA_RETRIEVAL.items():
        rows.add("retrieval_get", c, usage_type, "GetObject", "GB", retrieval[c])
    for c in ("GLACIER", "DEEP_ARCHIVE"):
        standard = retrieval[c]["standard"]
        rows.add(
            "retrieval_restore",
            c,
            "Standard-Retrieval-Bytes",
            "RestoreObject",
            "GB",
            standard,
            CLASS_NAMES[c][2],
        )
    first_paid = next(t for t in aws["data_transfer_out_internet_per_gb"] if "price" in t)
    rows.add("transfer_out", "*", "DataTransfer-Out-Bytes", "GetObject", "GB", first_paid["price"])
    return rows


def _r2_prices(book: PriceBook) -> list[PriceRow]:
    standard = book.r2["standard"]
    product = "CloudflareR2"
    rows = _Prices()
    for c, (usage_type, op, _, _) in CLASS_NAMES.items():
        rows.add("storage", c, usage_type, op, "GB-Mo", standard["storage_per_gb_month"], product)
    class_a, class_b = standard["class_a_per_million"] / 1e6, standard["class_b_per_million"] / 1e6
    for c in REQUEST_CLASSES:
        prefix = CLASS_NAMES[c][3]
        rows.add("tier1", c, f"Requests-{prefix}Tier1", "PutObject", "Requests", class_a, product)
        rows.add("tier2", c, f"Requests-{prefix}Tier2", "GetObject", "Requests", class_b, product)
        rows.add(
            "lifecycle", c, "Requests-Tier4", "LifecycleStorageTierTransition", "Requests", class_a, product
        )
    rows.add("transfer_out", "*", "DataTransfer-Out-Bytes", "GetObject", "GB", standard["egress"], product)
    return rows


def hours_in_month(day: date) -> int:
    next_month = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return (next_month - date(day.year, day.month, 1)).days * 24


def _class_gb(
    con: duckdb.DuckDBPyConnection, storage: str, days: list[date]
) -> dict[tuple[date, str], float]:
    """GB stored per (day, class) for the tiered classes: Σ byte-hours / 24 / 2^30."""
    rows = con.execute(CLASS_BYTE_HOURS_SQL.format(storage=storage), {"days": days}).fetchall()
    return {(day, sc): byte_hours / 24 / GIB for day, sc, byte_hours in rows}


def _day_prices(book: PriceBook, provider: str, days: list[date], class_gb) -> list[tuple]:
    """(day, hours, price row) for every day: AWS's tiered rates depend on the day's size and its month's
    hours; R2's prices are the same every day and its GB-month is 30 days."""
    out = []
    r2 = _r2_prices(book) if provider == R2 else []
    for day in days:
        if provider == AWS:
            standard = class_gb.get((day, "STANDARD"), 0.0)
            prices = _aws_prices(book, standard, class_gb.get((day, "INTELLIGENT_TIERING"), 0.0))
            hours = hours_in_month(day)
        else:
            prices, hours = r2, 30 * 24
        out.extend((day, float(hours), *astuple(p)) for p in prices)
    return out


def estimate_days(
    con: duckdb.DuckDBPyConnection,
    days: list[date],
    storage: str,
    requests: str,
    provider: str,
    out: str,
    price_book: PriceBook | None = None,
) -> dict[date, EstimateSummary]:
    """Write TEMP table ``out`` with CUR-shaped estimated line items for each of ``days`` (any days, not
    necessarily consecutive; same columns as ``raw.cost_line_items``; ``line_item_type = 'Usage'``,
    ``unblended_cost`` DECIMAL(18,6) rounded to the micro-dollar per line), each day priced as if alone.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")
    book = price_book or PriceBook.load()
    days = sorted(days)
    class_gb = _class_gb(con, storage, days) if provider == AWS and days else {}
    columns = list(zip(*_day_prices(book, provider, days, class_gb), strict=True)) or [[]] * 9
    try:
        # one statement for every day's price rows: the columns as lists, zipped back by unnest
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_PRICES} AS SELECT "
            "unnest(CAST($d AS DATE[])) AS usage_date, unnest(CAST($h AS DOUBLE[])) AS hours, "
            "unnest(CAST($k AS VARCHAR[])) AS kind, unnest(CAST($c AS VARCHAR[])) AS storage_class, "
            "unnest(CAST($u AS VARCHAR[])) AS usage_type, unnest(CAST($p AS VARCHAR[])) AS product_code, "
            "unnest(CAST($o AS VARCHAR[])) AS operation, unnest(CAST($n AS VARCHAR[])) AS pricing_unit, "
            "unnest(CAST($r AS DOUBLE[])) AS unit_price",
            dict(zip("dhkcupon" + "r", map(list, columns), strict=True)),
        )
        sql = QUANTITIES_SQL.format(
            out=out,
            storage=storage,
            requests=requests,
            prices=_PRICES,
            gib=float(GIB),
            tier=request_tier_sql("operation"),
            request_class=REQUEST_CLASS_SQL,
            storage_classes=", ".join(f"'{c}'" for c in CLASS_NAMES),
        )
        con.execute(sql, {"days": days})
        totals = con.execute(
            f"SELECT CAST(usage_start AS DATE), count(*), sum(unblended_cost) FROM {out} GROUP BY ALL"
        ).fetchall()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_PRICES}")
    found = {day: (int(count), Decimal(total)) for day, count, total in totals}
    return {
        day: EstimateSummary(day, provider, *found.get(day, (0, Decimal("0.000000"))), book.about)
        for day in days
    }


def estimate_line_items(
    con: duckdb.DuckDBPyConnection,
    day: date,
    storage: str,
    requests: str,
    provider: str,
    out: str,
    price_book: PriceBook | None = None,
) -> EstimateSummary:
    """:func:`estimate_days` for the one day ``day``."""
    return estimate_days(con, [day], storage, requests, provider, out, price_book)[day]
