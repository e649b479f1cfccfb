"""One day of CUR-shaped S3 line items for the attribution benchmark, priced from the day's inventory.

Why: ``user_daily_cost`` splits a *bill*, and the benchmark must give it one that matches the generated
inventory the way a real export would: a ``TimedStorage-*-ByteHrs`` line per storage class present
(GB-Mo = byte-hours / 2^30 / hours in the month, at the shipped price book's rate; STANDARD and
Intelligent-Tiering at the tiered rate blended at that class's size), the per-object ``*-Staging``
overhead of the archive classes, an ``Inventory-ObjectsListed`` line nobody in particular caused (it
goes to ``_shared``), a Tax line and a Credit, so every path of the split (per class weights, whole to
``_shared``, adjustments, negative amounts) is exercised. Amounts are exact Decimals rounded to the
micro-dollar, as in ``raw.cost_line_items``.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from bucketlens.costing.price_book import ARCHIVE_STAGING, CLASS_NAMES, GIB, PriceBook, tiered_rate
from bucketlens.formats.cur import COLUMNS

MICRO = Decimal("0.000001")
INVENTORY_PER_MILLION_OBJECTS = Decimal("0.0025")
TAX_RATE = Decimal("0.06")
CREDIT_RATE = Decimal("0.05")
ARCHIVE_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
ARCHIVE_CLASS_BYTES = 32 * 1024  # per archived object, at the archive class's rate
ARCHIVE_STANDARD_BYTES = 8 * 1024  # per archived object, at the STANDARD rate

# Byte-hours and object counts per storage class for the day, as AWS bills them (no delete markers).
CLASS_USAGE_SQL = """
SELECT coalesce(storage_class, 'STANDARD') AS storage_class, sum(coalesce(size, 0))::HUGEINT * 24 AS byte_hours,
       count(*) AS objects
FROM raw.inventory_objects
WHERE snapshot_date = $day AND NOT coalesce(is_delete_marker, false)
GROUP BY ALL ORDER BY storage_class
"""


def _rate(book: PriceBook, storage_class: str, gb: Decimal) -> Decimal:
    prices = book.aws["storage_per_gb_month"]
    if storage_class == "STANDARD":
        return Decimal(repr(tiered_rate(prices["STANDARD"], float(gb))))
    if storage_class == "INTELLIGENT_TIERING":
        return Decimal(repr(tiered_rate(prices["INTELLIGENT_TIERING"]["frequent_access"], float(gb))))
    return Decimal(repr(prices.get(storage_class, prices["EXPRESS_ONEZONE"])))


def _micro(amount: Decimal) -> Decimal:
    return amount.quantize(MICRO, rounding=ROUND_HALF_EVEN)


def day_line_items(
    day: date, usage: list[tuple[str, int, int]], book: PriceBook | None = None
) -> list[dict[str, object]]:
    """Line items (``raw.cost_line_items`` columns) for ``day`` from ``(storage_class, byte_hours,
    objects)`` per class."""
    book = book or PriceBook.load()
    hours = Decimal(calendar.monthrange(day.year, day.month)[1] * 24)
    start = datetime(day.year, day.month, day.day)
    lines: list[dict[str, object]] = []

    def add(kind: str, product: str, usage_type: str, operation: str, amount: Decimal, rate: Decimal,
            unit: str, cost: Decimal) -> None:  # fmt: skip
        row: dict[str, object] = dict.fromkeys(name for name, _ in COLUMNS)
        row.update(
            usage_start=start,
            usage_end=start + timedelta(days=1),
            billing_period=day.strftime("%Y-%m"),
            line_item_type=kind,
            product_code=product,
            usage_type=usage_type,
            operation=operation,
            resource_id="photo-backup-prod",
            usage_amount=float(amount),
            unblended_cost=_micro(cost),
            pricing_unit=unit,
            unblended_rate=f"{rate:.10f}",
            region="us-east-1",
            description=f"bench: {usage_type or kind}",
            usage_account_id="111122223333",
            export_name="bench",
            execution_id="bench",
            source_file="bucketlens-bench",
            schema_kind="cur2",
        )
        lines.append(row)

    standard_rate = _rate(book, "STANDARD", Decimal(0))
    objects_total = 0
    for storage_class, byte_hours, objects in usage:
        objects_total += objects
        usage_type, operation, product, _ = CLASS_NAMES.get(storage_class, CLASS_NAMES["STANDARD"])
        gb_month = Decimal(byte_hours) / GIB / hours
        rate = _rate(book, storage_class, Decimal(byte_hours) / 24 / GIB)
        add("Usage", product, usage_type, operation, gb_month, rate, "GB-Mo", gb_month * rate)
        if storage_class in ARCHIVE_CLASSES:
            staging, label = ARCHIVE_STAGING[storage_class]
            class_gb = Decimal(objects * 24 * ARCHIVE_CLASS_BYTES) / GIB / hours
            std_gb = Decimal(objects * 24 * ARCHIVE_STANDARD_BYTES) / GIB / hours
            cost = class_gb * rate + std_gb * standard_rate
            add("Usage", product, staging, f"{label}S3ObjectOverhead", class_gb + std_gb, rate, "GB-Mo", cost)
    listed = Decimal(objects_total)
    add("Usage", "AmazonS3", "Inventory-ObjectsListed", "InventoryObjectsListed", listed,
        INVENTORY_PER_MILLION_OBJECTS / 1_000_000, "Objects", listed * INVENTORY_PER_MILLION_OBJECTS / 1_000_000)  # fmt: skip
    usage_total = sum((Decimal(row["unblended_cost"]) for row in lines), Decimal(0))  # type: ignore[arg-type]
    add("Tax", "AmazonS3", "", "", Decimal(0), Decimal(0), "", usage_total * TAX_RATE)
    add("Credit", "AmazonS3", "", "", Decimal(0), Decimal(0), "", -usage_total * CREDIT_RATE)
    return lines
