"""The rules file's ``savings`` and ``kpis`` sections: storage-class recommendations, leaks, KPI targets.

Why this module exists: these sections are read by the savings reports (``bucketlens.savings``) and the
daily KPIs, not by the detectors; they are typed and validated like every other section (``rules``
assembles the file from them) but kept apart so the detectors' rules stay one readable page.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from bucketlens.anomaly.rule_types import (
    Fraction,
    NonNegative,
    Positive,
    PositiveInt,
    RulesModel,
    errors_at,
    invalid,
)


def _ages(value: Any) -> tuple[int, ...]:
    ok = (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 3650 for v in value)
    )
    if not ok:
        raise invalid("must be a non-empty list of whole days from 0 to 3650 (lifecycle transition ages)")
    return tuple(sorted(set(value)))


def _statuses(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise invalid("must be a non-empty list of user statuses")
    return tuple(sorted({v.strip().lower() for v in value}))


class Recommendations(RulesModel):
    """How storage-class recommendations are searched and when one is worth making."""

    transition_ages_days: Annotated[tuple[int, ...], BeforeValidator(_ages)]
    history_days: PositiveInt
    min_history_days: PositiveInt
    restore_days: PositiveInt
    max_break_even_months: Positive
    min_monthly_saving_usd: NonNegative

    @model_validator(mode="after")
    def _history_within_window(self) -> Recommendations:
        if self.min_history_days > self.history_days:
            message = f"must not exceed history_days ({self.history_days})"
            raise errors_at("recommendations", (("min_history_days",), message, self.min_history_days))
        return self


class LeakRules(RulesModel):
    """When stored data counts as a leak: whose it is, how old, and how many keys a cleanup lists."""

    orphaned_statuses: Annotated[tuple[str, ...], BeforeValidator(_statuses)]
    noncurrent_version_days: PositiveInt
    delete_marker_days: PositiveInt
    multipart_upload_days: PositiveInt
    max_keys: PositiveInt


class SavingsRules(RulesModel):
    recommendations: Recommendations
    leaks: LeakRules


class KpiTargets(RulesModel):
    """The runbooks' targets each KPI is shown against (not alert lines: those are alert rules)."""

    upload_success_rate: Fraction
    error_rate: Fraction
    cost_per_upload_usd: Positive
    cost_per_gb_month_usd: Positive
    dedup_rate: Fraction
    time_to_first_byte_ms: Positive


class KpiRules(RulesModel):
    targets: KpiTargets
