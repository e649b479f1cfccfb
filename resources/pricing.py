"""The price book and the service's plan price list.

The price book (list prices with their source date) estimates days the cost export does not cover yet;
the plan prices turn users into revenue for the margin table.
"""

from __future__ import annotations

import re
from decimal import Decimal

import dagster as dg

from bucketlens.costing.price_book import PriceBook
from bucketlens.settings import default

PROVIDERS = ("aws_s3_us_east_1", "cloudflare_r2")


class PlanPriceError(ValueError):
    """BUCKETLENS_PLAN_PRICES cannot be read."""


def parse_plan_prices(text: str) -> dict[str, Decimal]:
    """``personal=9.99,family=29.99`` → monthly USD per plan (plan names lower-cased)."""
    prices: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        plan, sep, amount = part.partition("=")
        try:
            value = Decimal(amount.strip())
        except ArithmeticError:
            value = Decimal(-1)
        if not sep or not plan.strip() or value < 0:
            raise PlanPriceError(
                f"BUCKETLENS_PLAN_PRICES entry {part!r} must look like 'plan=9.99' (USD per month)"
            )
        prices[plan.strip().lower()] = value
    return prices


def parse_account_ids(text: str) -> list[str]:
    """``123456789012,210987654321`` → the bucket owner's AWS account ids (12 digits each)."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    for account in ids:
        if not re.fullmatch(r"\d{12}", account):
            raise ValueError(f"BUCKETLENS_ACCOUNT_IDS entry {account!r} is not a 12-digit AWS account id")
    return ids


class Pricing(dg.ConfigurableResource):
    """How the bill is read: the price book for estimates, plan prices for revenue, which cost export is
    the bill when several overlap (``cost_export``), and whose requests the owner pays for
    (``account_ids``: the bucket owner's accounts; empty: the usage accounts of the cost export)."""

    provider: str = default("provider")
    price_book_path: str = ""  # empty: the copy shipped with bucketlens
    plan_prices: str = default("plan_prices")
    cost_export: str = ""  # BUCKETLENS_COST_EXPORT; empty: the documented default rule
    account_ids: str = ""  # BUCKETLENS_ACCOUNT_IDS, comma-separated

    def owner_account_ids(self) -> list[str]:
        return parse_account_ids(self.account_ids)

    def price_book(self) -> PriceBook:
        if self.provider not in PROVIDERS:
            raise ValueError(
                f"BUCKETLENS_PROVIDER must be one of {', '.join(PROVIDERS)}, not {self.provider!r}"
            )
        return PriceBook.load(self.price_book_path or None)

    def monthly_plan_prices(self) -> dict[str, Decimal]:
        return parse_plan_prices(self.plan_prices)
