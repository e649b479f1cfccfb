"""The rules file: every threshold of design §7 in one YAML file, loaded into typed, frozen values.

Thresholds are business decisions that change without a code release, so they live in YAML; a typo in
them must fail loudly at load time, naming the rule and field, never silently disable a detector at
3 a.m. The sections are pydantic models (value types in ``rule_types``; the savings and KPI sections in
``rules_savings``): unknown keys are errors, because a misspelt key is a threshold not applied, and
every error of a file is reported at once.
Sizes may be written as bytes or as "100 GB" (binary units, as the runbook's 2 TB = 2199023255552 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BeforeValidator, ValidationError, model_validator

from bucketlens.anomaly.rule_types import (
    SEVERITIES,
    Extensions,
    Fraction,
    FractionLevel,
    NonNegative,
    NonNegativeInt,
    NumberLevel,
    Percent,
    Positive,
    PositiveInt,
    RulesError,
    RulesModel,
    Severity,
    Size,
    SizeFloat,
    SizeLevel,
    errors_at,
    invalid,
    mapping,
)
from bucketlens.anomaly.rules_savings import KpiRules, SavingsRules

__all__ = ["DEFAULT_RULES", "SCORE_METRICS", "SEVERITIES", "Rules", "RulesError", "load_rules", "parse_rules"]

DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")
ALERTING_SECTIONS = ("alerts", "routing", "actions")  # validated by bucketlens.alerts.rules
LATER_SECTIONS = ("savings", "kpis")  # optional in a file: missing ones come from the packaged defaults


# --- abuse patterns -----------------------------------------------------------------------------------


class RapidUpload(RulesModel):
    bytes_per_hour: Size
    severity: Severity


class DailyUploadVolume(RulesModel):
    bytes_per_day: Size
    severity: Severity


class DuplicateData(RulesModel):
    min_wasted_bytes: Size
    min_copies: PositiveInt
    severity: Severity


class NonPhotoContent(RulesModel):
    media_extensions: Extensions
    photo_extensions: Extensions
    max_photo_bytes: Size
    min_object_bytes: Size
    min_objects: PositiveInt
    min_bytes: Size
    severity: Severity


class SharingAbuse(RulesModel):
    max_distinct_ips: PositiveInt
    max_distinct_user_agents: PositiveInt
    severity: Severity


class FailedAccessStorm(RulesModel):
    max_denied_requests: NonNegativeInt
    severity: Severity


class LargeObject(RulesModel):
    object_bytes: Size
    severity: Severity


PlanName = Annotated[str, BeforeValidator(str)]


class OverPlanLimit(RulesModel):
    plan_limits: Annotated[
        dict[PlanName, Size], BeforeValidator(mapping("must map plan names to sizes", non_empty=True))
    ]
    severity: Severity


class Quota80(RulesModel):
    percent: Percent
    severity: Severity


class LargeAccount(RulesModel):
    stored_bytes: Size
    severity: Severity


class MonthlyCost(RulesModel):
    usd_per_month: Positive
    severity: Severity


class LargeRetrieval(RulesModel):
    bytes_per_day: Size
    severity: Severity


DEFAULT_LARGE_RETRIEVAL = LargeRetrieval(bytes_per_day=10 * 1024**3, severity="info")


class CdnHotlinking(RulesModel):
    """One user's objects pulled through the CDN by many other sites, far above the user's own norm."""

    min_referer_hosts: PositiveInt  # distinct external referer hosts in a day
    min_ratio: Positive  # the day's CDN requests ≥ this × the user's trailing median
    min_requests: NonNegativeInt  # and at least this many (no flag for 3 → 40 requests)
    baseline_days: PositiveInt  # the trailing window of the median (the day excluded)
    min_history_days: PositiveInt  # days of CDN data in that window needed to judge
    severity: Severity

    @model_validator(mode="after")
    def _history_within_baseline(self) -> CdnHotlinking:
        if self.min_history_days > self.baseline_days:
            message = f"must not exceed baseline_days ({self.baseline_days})"
            raise errors_at("cdn_hotlinking", (("min_history_days",), message, self.min_history_days))
        return self


DEFAULT_CDN_HOTLINKING = CdnHotlinking(
    min_referer_hosts=50,
    min_ratio=10,
    min_requests=1000,
    baseline_days=28,
    min_history_days=7,
    severity="warning",
)


class AbuseRules(RulesModel):
    rapid_upload: RapidUpload
    daily_upload_volume: DailyUploadVolume
    duplicate_data: DuplicateData
    non_photo_content: NonPhotoContent
    sharing_abuse: SharingAbuse
    failed_access_storm: FailedAccessStorm
    large_object: LargeObject
    over_plan_limit: OverPlanLimit
    quota_80_percent: Quota80
    large_account: LargeAccount
    monthly_cost: MonthlyCost
    # optional: rules files written before the pattern existed keep loading, with the runbook's default
    large_retrieval: LargeRetrieval = DEFAULT_LARGE_RETRIEVAL
    cdn_hotlinking: CdnHotlinking = DEFAULT_CDN_HOTLINKING


# --- anomaly scores -----------------------------------------------------------------------------------


class MetricFloor(RulesModel):
    floor: float
    min_scale: float


class _SizeFloor(MetricFloor):
    floor: SizeFloat
    min_scale: SizeFloat


class _NumberFloor(MetricFloor):
    floor: Positive
    min_scale: Positive


class ScoreMetrics(RulesModel):
    """Every scored metric must be configured; byte metrics accept sizes ("10 GB")."""

    stored_bytes: _SizeFloor
    growth_bytes: _SizeFloor
    bytes_added: _SizeFloor
    put_requests: _NumberFloor
    get_requests: _NumberFloor
    bytes_downloaded: _SizeFloor
    errors_4xx: _NumberFloor
    cost_usd: _NumberFloor


SCORE_METRICS = tuple(ScoreMetrics.model_fields)


def _metric_floors(node: Any) -> dict[str, MetricFloor]:
    return dict(ScoreMetrics.model_validate(node))


class ScoreRules(RulesModel):
    window_days: PositiveInt
    min_history_days: PositiveInt
    weekday_min_points: PositiveInt
    threshold: Positive
    relative_scale: NonNegative
    metrics: Annotated[dict[str, MetricFloor], BeforeValidator(_metric_floors)]

    @model_validator(mode="after")
    def _history_within_window(self) -> ScoreRules:
        if self.min_history_days > self.window_days:
            message = f"must not exceed window_days ({self.window_days})"
            raise errors_at("scores", (("min_history_days",), message, self.min_history_days))
        return self


# --- service anomalies --------------------------------------------------------------------------------


class Levels(RulesModel):
    """A warning and optionally a critical threshold (value must exceed it)."""

    warning: float | None = None
    critical: float | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _levels(cls, node: Any, handler) -> Levels:
        if not isinstance(node, dict) or not node:
            raise invalid("must be a mapping with warning and/or critical")
        levels = handler(node)
        if None not in (levels.warning, levels.critical) and levels.critical < levels.warning:
            message = f"must not be below warning ({node['warning']})"
            raise errors_at(cls.__name__, (("critical",), message, node["critical"]))
        return levels


class SizeLevels(Levels):
    warning: SizeLevel = None
    critical: SizeLevel = None


class NumberLevels(Levels):
    warning: NumberLevel = None
    critical: NumberLevel = None


class FractionLevels(Levels):
    warning: FractionLevel = None
    critical: FractionLevel = None


class CostSpike(RulesModel):
    ratio: Positive
    baseline_days: PositiveInt
    min_baseline_days: PositiveInt
    min_increase_usd: NonNegative
    severity: Severity

    @model_validator(mode="after")
    def _enough_baseline(self) -> CostSpike:
        if self.min_baseline_days > self.baseline_days:
            message = f"must not exceed baseline_days ({self.baseline_days})"
            raise errors_at("cost_spike", (("min_baseline_days",), message, self.min_baseline_days))
        return self


class MonthOverMonth(RulesModel):
    ratio: Positive
    severity: Severity


class CdnHitRate(RulesModel):
    """A CloudFront distribution's cache hit rate below ``below`` on a day with at least ``min_requests``."""

    below: Fraction
    min_requests: NonNegativeInt
    severity: Severity


# The runbooks' CDN lines (avatar system guide): hit rate < 90 % warning, error rate > 5 %, > 100 GB a day
DEFAULT_CDN_HIT_RATE = CdnHitRate(below=0.90, min_requests=500, severity="warning")
DEFAULT_CDN_ERROR_RATE = FractionLevels(critical=0.05)
DEFAULT_CDN_BANDWIDTH = SizeLevels(warning=100 * 1024**3)


class ServiceRules(RulesModel):
    storage_bytes: SizeLevels
    growth_bytes_per_day: SizeLevels
    daily_cost_usd: NumberLevels
    monthly_cost_usd: NumberLevels
    cost_spike: CostSpike
    month_over_month_cost: MonthOverMonth
    requests_per_hour: NumberLevels
    error_rate: FractionLevels
    latency_ms: NumberLevels
    # CloudFront, per distribution (usage.service_daily_cdn); optional: older files get the runbook's lines
    cdn_hit_rate: CdnHitRate = DEFAULT_CDN_HIT_RATE
    cdn_error_rate: FractionLevels = DEFAULT_CDN_ERROR_RATE
    cdn_bandwidth_per_day: SizeLevels = DEFAULT_CDN_BANDWIDTH


# --- the file -----------------------------------------------------------------------------------------


class RulesDocument(RulesModel):
    """The whole file as the detectors see it; the alerting sections are checked by bucketlens.alerts."""

    abuse: AbuseRules
    scores: ScoreRules
    service: ServiceRules
    savings: SavingsRules
    kpis: KpiRules
    alerts: Any = None
    routing: Any = None
    actions: Any = None


@dataclass(frozen=True)
class Rules:
    abuse: AbuseRules
    scores: ScoreRules
    service: ServiceRules
    source: str = "default"
    savings: SavingsRules | None = None
    kpis: KpiRules | None = None
    # The alerting sections (``alerts``: alert rules, ``routing``: channels, grouping, intervals) as
    # written; ``bucketlens.alerts`` validates them, so the detectors do not depend on alerting.
    alerting: dict = field(default_factory=dict)


def parse_rules(document: Any, source: str = "<memory>") -> Rules:
    """Validate a parsed YAML document (a mapping with abuse, scores and service sections)."""
    document = with_packaged_sections(document)
    try:
        parsed = RulesDocument.model_validate(document)
    except ValidationError as exc:
        raise RulesError.from_validation(exc, document, source) from None
    return Rules(
        parsed.abuse,
        parsed.scores,
        parsed.service,
        source,
        parsed.savings,
        parsed.kpis,
        alerting_sections(document),
    )


def with_packaged_sections(document: Any) -> Any:
    """A file written before a section existed (``savings``, ``kpis``) keeps working: a missing section
    is taken from the packaged defaults, so its values are written once, in the defaults file."""
    if not isinstance(document, dict) or all(s in document for s in LATER_SECTIONS):
        return document
    packaged = yaml.safe_load(DEFAULT_RULES.read_text())
    return {**document, **{s: packaged[s] for s in LATER_SECTIONS if s not in document}}


def alerting_sections(document: Any) -> dict:
    """The alerting sections as written (``bucketlens.alerts.rules`` validates them)."""
    return {k: document[k] for k in ALERTING_SECTIONS if k in document} if isinstance(document, dict) else {}


def read_rules_document(path: str | Path) -> Any:
    """The parsed YAML of a rules file; an unreadable or malformed file names the file (and line)."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file: {exc}", str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise RulesError(f"{where}: not valid YAML: {what}", str(path)) from None


def load_rules(path: str | Path | None = None) -> Rules:
    """Load and validate a rules file; ``None`` loads the packaged defaults (design §7)."""
    path = Path(path) if path is not None else DEFAULT_RULES
    return parse_rules(read_rules_document(path), str(path))
