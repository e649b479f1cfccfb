"""The rules file: every threshold of design §7 in one YAML file, loaded into typed, frozen values.

Thresholds are business decisions that change without a code release, so they live in YAML; a typo in
them must fail loudly at load time (naming the rule and field), never silently disable a detector at
3 a.m. Sizes may be written as bytes or as "100 GB" (binary units, as the runbook's 2 TB =
2199023255552 bytes); unknown keys are errors too, because a misspelt key is a threshold not applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")
SEVERITIES = ("info", "warning", "critical")
UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}
UNITS.update({"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4, "PIB": 1024**5})
SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
SCORE_METRICS = (
    "stored_bytes",
    "growth_bytes",
    "bytes_added",
    "put_requests",
    "get_requests",
    "bytes_downloaded",
    "errors_4xx",
    "cost_usd",
)


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the rule and field."""


@dataclass(frozen=True)
class RapidUpload:
    bytes_per_hour: int
    severity: str


@dataclass(frozen=True)
class DailyUploadVolume:
    bytes_per_day: int
    severity: str


@dataclass(frozen=True)
class DuplicateData:
    min_wasted_bytes: int
    min_copies: int
    severity: str


@dataclass(frozen=True)
class NonPhotoContent:
    media_extensions: tuple[str, ...]
    photo_extensions: tuple[str, ...]
    max_photo_bytes: int
    min_object_bytes: int
    min_objects: int
    min_bytes: int
    severity: str


@dataclass(frozen=True)
class SharingAbuse:
    max_distinct_ips: int
    max_distinct_user_agents: int
    severity: str


@dataclass(frozen=True)
class FailedAccessStorm:
    max_denied_requests: int
    severity: str


@dataclass(frozen=True)
class LargeObject:
    object_bytes: int
    severity: str


@dataclass(frozen=True)
class OverPlanLimit:
    plan_limits: dict[str, int]
    severity: str


@dataclass(frozen=True)
class Quota80:
    percent: float
    severity: str


@dataclass(frozen=True)
class LargeAccount:
    stored_bytes: int
    severity: str


@dataclass(frozen=True)
class MonthlyCost:
    usd_per_month: float
    severity: str


@dataclass(frozen=True)
class AbuseRules:
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


@dataclass(frozen=True)
class MetricFloor:
    floor: float
    min_scale: float


@dataclass(frozen=True)
class ScoreRules:
    window_days: int
    min_history_days: int
    weekday_min_points: int
    threshold: float
    relative_scale: float
    metrics: dict[str, MetricFloor]


@dataclass(frozen=True)
class Levels:
    """A warning and optionally a critical threshold (value must exceed it)."""

    warning: float | None
    critical: float | None


@dataclass(frozen=True)
class CostSpike:
    ratio: float
    baseline_days: int
    min_baseline_days: int
    min_increase_usd: float
    severity: str


@dataclass(frozen=True)
class MonthOverMonth:
    ratio: float
    severity: str


@dataclass(frozen=True)
class ServiceRules:
    storage_bytes: Levels
    growth_bytes_per_day: Levels
    daily_cost_usd: Levels
    monthly_cost_usd: Levels
    cost_spike: CostSpike
    month_over_month_cost: MonthOverMonth
    requests_per_hour: Levels
    error_rate: Levels
    latency_ms: Levels


@dataclass(frozen=True)
class Rules:
    abuse: AbuseRules
    scores: ScoreRules
    service: ServiceRules
    source: str = "default"
    # The alerting sections (``alerts``: alert rules, ``routing``: channels, grouping, intervals) as
    # written; ``bucketlens.alerts`` validates them, so the detectors do not depend on alerting.
    alerting: dict = field(default_factory=dict)


# --- field readers: each takes the dotted path for its error message -------------------------------


def _fail(path: str, what: str, got: Any) -> RulesError:
    return RulesError(f"{path}: {what}, got {got!r}")


def _section(node: Any, path: str, fields: set[str]) -> dict:
    if not isinstance(node, dict):
        raise _fail(path, "must be a mapping", node)
    unknown = sorted(set(node) - fields)
    if unknown:
        raise RulesError(
            f"{path}: unknown field(s) {', '.join(map(str, unknown))} (expected {', '.join(sorted(fields))})"
        )
    missing = sorted(fields - set(node))
    if missing:
        raise RulesError(f"{path}: missing field(s) {', '.join(missing)}")
    return node


def _bytes(value: Any, path: str) -> int:
    what = "must be a positive number of bytes"
    if isinstance(value, bool):
        raise _fail(path, what, value)
    if isinstance(value, int | float):
        if value <= 0:
            raise _fail(path, what, value)
        return int(value)
    match = SIZE.match(value) if isinstance(value, str) else None
    if not match or match.group(2).upper() not in UNITS or float(match.group(1)) <= 0:
        raise _fail(path, what + ' (e.g. 107374182400 or "100 GB")', value)
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def _number(value: Any, path: str, *, integer: bool = False, allow_zero: bool = False) -> float:
    kind = "a positive whole number" if integer else "a positive number"
    if allow_zero:
        kind = kind.replace("positive", "non-negative")
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and (value >= 0 if allow_zero else value > 0) and (not integer or float(value).is_integer())
    if not ok:
        raise _fail(path, f"must be {kind}", value)
    return int(value) if integer else float(value)


def _severity(value: Any, path: str) -> str:
    if value not in SEVERITIES:
        raise _fail(path, f"must be one of {', '.join(SEVERITIES)}", value)
    return value


def _extensions(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, "must be a non-empty list of file extensions", value)
    return tuple(sorted({v.strip().lower().lstrip(".") for v in value}))


def _levels(node: Any, path: str, reader) -> Levels:
    if not isinstance(node, dict) or not node or set(node) - {"warning", "critical"}:
        raise _fail(path, "must be a mapping with warning and/or critical", node)
    levels = {k: reader(v, f"{path}.{k}") for k, v in node.items()}
    if len(levels) == 2 and levels["critical"] < levels["warning"]:
        raise _fail(f"{path}.critical", f"must not be below warning ({levels['warning']})", node["critical"])
    return Levels(levels.get("warning"), levels.get("critical"))


# --- sections ---------------------------------------------------------------------------------------


def _abuse(node: Any) -> AbuseRules:
    p = "abuse"
    node = _section(node, p, {f.name for f in AbuseRules.__dataclass_fields__.values()})

    def sec(name: str, fields: set[str]) -> dict:
        return _section(node[name], f"{p}.{name}", fields | {"severity"})

    def sev(name: str) -> str:
        return _severity(node[name]["severity"], f"{p}.{name}.severity")

    r = sec("rapid_upload", {"bytes_per_hour"})
    d = sec("daily_upload_volume", {"bytes_per_day"})
    dup = sec("duplicate_data", {"min_wasted_bytes", "min_copies"})
    npc = sec(
        "non_photo_content",
        {
            "media_extensions",
            "photo_extensions",
            "max_photo_bytes",
            "min_object_bytes",
            "min_objects",
            "min_bytes",
        },
    )
    s = sec("sharing_abuse", {"max_distinct_ips", "max_distinct_user_agents"})
    f = sec("failed_access_storm", {"max_denied_requests"})
    lo = sec("large_object", {"object_bytes"})
    o = sec("over_plan_limit", {"plan_limits"})
    q = sec("quota_80_percent", {"percent"})
    la = sec("large_account", {"stored_bytes"})
    mc = sec("monthly_cost", {"usd_per_month"})
    limits = o["plan_limits"]
    if not isinstance(limits, dict) or not limits:
        raise _fail(f"{p}.over_plan_limit.plan_limits", "must map plan names to sizes", limits)
    npc_path = f"{p}.non_photo_content"
    percent = _number(q["percent"], f"{p}.quota_80_percent.percent")
    if percent > 100:
        raise _fail(f"{p}.quota_80_percent.percent", "must be a percentage up to 100", q["percent"])
    return AbuseRules(
        rapid_upload=RapidUpload(
            _bytes(r["bytes_per_hour"], f"{p}.rapid_upload.bytes_per_hour"), sev("rapid_upload")
        ),
        daily_upload_volume=DailyUploadVolume(
            _bytes(d["bytes_per_day"], f"{p}.daily_upload_volume.bytes_per_day"), sev("daily_upload_volume")
        ),
        duplicate_data=DuplicateData(
            _bytes(dup["min_wasted_bytes"], f"{p}.duplicate_data.min_wasted_bytes"),
            int(_number(dup["min_copies"], f"{p}.duplicate_data.min_copies", integer=True)),
            sev("duplicate_data"),
        ),
        non_photo_content=NonPhotoContent(
            _extensions(npc["media_extensions"], f"{npc_path}.media_extensions"),
            _extensions(npc["photo_extensions"], f"{npc_path}.photo_extensions"),
            _bytes(npc["max_photo_bytes"], f"{npc_path}.max_photo_bytes"),
            _bytes(npc["min_object_bytes"], f"{npc_path}.min_object_bytes"),
            int(_number(npc["min_objects"], f"{npc_path}.min_objects", integer=True)),
            _bytes(npc["min_bytes"], f"{npc_path}.min_bytes"),
            sev("non_photo_content"),
        ),
        sharing_abuse=SharingAbuse(
            int(_number(s["max_distinct_ips"], f"{p}.sharing_abuse.max_distinct_ips", integer=True)),
            int(
                _number(
                    s["max_distinct_user_agents"], f"{p}.sharing_abuse.max_distinct_user_agents", integer=True
                )
            ),
            sev("sharing_abuse"),
        ),
        failed_access_storm=FailedAccessStorm(
            int(
                _number(
                    f["max_denied_requests"],
                    f"{p}.failed_access_storm.max_denied_requests",
                    integer=True,
                    allow_zero=True,
                )
            ),
            sev("failed_access_storm"),
        ),
        large_object=LargeObject(
            _bytes(lo["object_bytes"], f"{p}.large_object.object_bytes"), sev("large_object")
        ),
        over_plan_limit=OverPlanLimit(
            {str(k): _bytes(v, f"{p}.over_plan_limit.plan_limits.{k}") for k, v in limits.items()},
            sev("over_plan_limit"),
        ),
        quota_80_percent=Quota80(percent, sev("quota_80_percent")),
        large_account=LargeAccount(
            _bytes(la["stored_bytes"], f"{p}.large_account.stored_bytes"), sev("large_account")
        ),
        monthly_cost=MonthlyCost(
            _number(mc["usd_per_month"], f"{p}.monthly_cost.usd_per_month"), sev("monthly_cost")
        ),
    )


def _scores(node: Any) -> ScoreRules:
    p = "scores"
    node = _section(
        node,
        p,
        {"window_days", "min_history_days", "weekday_min_points", "threshold", "relative_scale", "metrics"},
    )
    metrics = _section(node["metrics"], f"{p}.metrics", set(SCORE_METRICS))
    floors = {}
    for name in SCORE_METRICS:
        m = _section(metrics[name], f"{p}.metrics.{name}", {"floor", "min_scale"})
        reader = (
            _bytes
            if name.endswith("bytes") or name == "bytes_added" or name == "bytes_downloaded"
            else _number
        )
        floors[name] = MetricFloor(
            float(reader(m["floor"], f"{p}.metrics.{name}.floor")),
            float(reader(m["min_scale"], f"{p}.metrics.{name}.min_scale")),
        )
    window = int(_number(node["window_days"], f"{p}.window_days", integer=True))
    history = int(_number(node["min_history_days"], f"{p}.min_history_days", integer=True))
    if history > window:
        raise _fail(f"{p}.min_history_days", f"must not exceed window_days ({window})", history)
    return ScoreRules(
        window_days=window,
        min_history_days=history,
        weekday_min_points=int(_number(node["weekday_min_points"], f"{p}.weekday_min_points", integer=True)),
        threshold=_number(node["threshold"], f"{p}.threshold"),
        relative_scale=_number(node["relative_scale"], f"{p}.relative_scale", allow_zero=True),
        metrics=floors,
    )


def _service(node: Any) -> ServiceRules:
    p = "service"
    node = _section(node, p, {f.name for f in ServiceRules.__dataclass_fields__.values()})
    spike = _section(
        node["cost_spike"],
        f"{p}.cost_spike",
        {"ratio", "baseline_days", "min_baseline_days", "min_increase_usd", "severity"},
    )
    mom = _section(node["month_over_month_cost"], f"{p}.month_over_month_cost", {"ratio", "severity"})
    baseline_days = int(_number(spike["baseline_days"], f"{p}.cost_spike.baseline_days", integer=True))
    min_days = int(_number(spike["min_baseline_days"], f"{p}.cost_spike.min_baseline_days", integer=True))
    if min_days > baseline_days:
        raise _fail(
            f"{p}.cost_spike.min_baseline_days", f"must not exceed baseline_days ({baseline_days})", min_days
        )
    return ServiceRules(
        storage_bytes=_levels(node["storage_bytes"], f"{p}.storage_bytes", _bytes),
        growth_bytes_per_day=_levels(node["growth_bytes_per_day"], f"{p}.growth_bytes_per_day", _bytes),
        daily_cost_usd=_levels(node["daily_cost_usd"], f"{p}.daily_cost_usd", _number),
        monthly_cost_usd=_levels(node["monthly_cost_usd"], f"{p}.monthly_cost_usd", _number),
        cost_spike=CostSpike(
            _number(spike["ratio"], f"{p}.cost_spike.ratio"),
            baseline_days,
            min_days,
            _number(spike["min_increase_usd"], f"{p}.cost_spike.min_increase_usd", allow_zero=True),
            _severity(spike["severity"], f"{p}.cost_spike.severity"),
        ),
        month_over_month_cost=MonthOverMonth(
            _number(mom["ratio"], f"{p}.month_over_month_cost.ratio"),
            _severity(mom["severity"], f"{p}.month_over_month_cost.severity"),
        ),
        requests_per_hour=_levels(node["requests_per_hour"], f"{p}.requests_per_hour", _number),
        error_rate=_levels(node["error_rate"], f"{p}.error_rate", _fraction),
        latency_ms=_levels(node["latency_ms"], f"{p}.latency_ms", _number),
    )


def _fraction(value: Any, path: str) -> float:
    number = _number(value, path)
    if number >= 1:
        raise _fail(path, "must be a fraction between 0 and 1 (0.05 = 5 %)", value)
    return number


def parse_rules(document: Any, source: str = "<memory>") -> Rules:
    """Validate a parsed YAML document (a mapping with abuse, scores and service sections)."""
    optional = {"alerts", "routing"}
    if isinstance(document, dict):
        alerting = {k: document[k] for k in optional if k in document}
        document = {k: v for k, v in document.items() if k not in optional}
    else:
        alerting = {}
    node = _section(document, "rules", {"abuse", "scores", "service"})
    return Rules(_abuse(node["abuse"]), _scores(node["scores"]), _service(node["service"]), source, alerting)


def load_rules(path: str | Path | None = None) -> Rules:
    """Load and validate a rules file; ``None`` loads the packaged defaults (design §7)."""
    path = Path(path) if path is not None else DEFAULT_RULES
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from exc
    return parse_rules(document, str(path))
