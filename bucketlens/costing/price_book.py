"""The list prices (``price_book.json``) and the unit price of every kind of usage they imply.

Why this module exists: the price book is read by the estimate (``bucketlens.costing.estimate``), the
savings rules and the benchmarks alike; loading it, reading an entry with a useful error, and turning it
into price rows (per usage kind, storage class and usage type, for AWS and for R2) is kept here, apart
from the SQL that multiplies those rows with a day's usage. The pricing rules and simplifications are
written down in ``bucketlens.costing.estimate``.

Prices come from ``price_book.json`` (a copy of shared/formats/price_book.json; its ``_about`` text says
where each figure came from and when — cite :attr:`PriceBook.about` wherever an estimate is shown).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

AWS = "aws_s3_us_east_1"
R2 = "cloudflare_r2"
PROVIDERS = (AWS, R2)
GIB = 2**30
TIB_IN_GB = 1024


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


def aws_prices(book: PriceBook, standard_gb: float, int_gb: float) -> list[PriceRow]:
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


def r2_prices(book: PriceBook) -> list[PriceRow]:
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
