"""Measured detector quality: precision and recall against the generator's labels, and the false-flag
rate on a month with nothing injected.

How flags are counted (documented because it decides the figures):

* A label is visible on the day its detector's source shows it: inventory patterns (duplicate data,
  non-photo content, large object, over plan limit) on ``details.inventory_snapshot`` (the next day's
  report); access-log and cost patterns (rapid upload, daily volume, sharing, failed access, cost
  spike) on the label's ``date``, the day of the requests.
* Flags are grouped into *episodes*: consecutive days on which the same (pattern, user) is flagged.
  A persisting condition (a user stays over the plan limit) is one episode, not one false positive per
  day. An episode is a true positive when it starts on its label's visible day (± ``tolerance_days``,
  0 by default) for the same user; an episode starting on any other day is a false positive, a label
  without such an episode a false negative.
* ``cost_spike`` is a service-level flag: matched on the day only (the label's user is the cause, and
  the flag's evidence lists the top users of the day).
* Unlabelled patterns (``quota_80_percent``) are not in precision/recall; they are counted separately.
* False-flag rate: user-days with at least one abuse flag of a labelled pattern that matches no label,
  over all user-days with stored data (users other than '_shared'). The same for anomaly scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bucketlens.anomaly.abuse import PATTERNS, stage_abuse_flags_window
from bucketlens.anomaly.rules import Rules
from bucketlens.anomaly.scores import stage_user_anomaly_scores_window
from bucketlens.anomaly.service import stage_service_anomalies_window
from bucketlens.anomaly.sources import DEFAULT_SOURCES, Sources, identifier

SERVICE_PATTERNS = ("cost_spike", "cdn_hit_ratio_drop")
CDN_SERVICE_PATTERNS = ("cdn_hit_ratio_drop",)  # labelled per distribution (details.distribution_id)
# The generator injects every abuse pattern but the informational quota, size and cost ones, which follow
# from ordinary usage; those are flagged, never labelled.
INFORMATIONAL_PATTERNS = ("quota_80_percent", "large_account", "monthly_cost")
LABELLED_PATTERNS = tuple(p for p in PATTERNS if p not in INFORMATIONAL_PATTERNS) + SERVICE_PATTERNS
INVENTORY_PATTERNS = ("duplicate_data", "non_photo_content", "large_object", "over_plan_limit")
"""Detected from the inventory, so visible on the label's ``inventory_snapshot``; the others are
detected from the requests (access logs, cost) of the label's ``date``."""


@dataclass(frozen=True)
class DetectorTables:
    flags: str
    scores: str
    service: str


def consecutive_runs(days: list[date]) -> list[tuple[date, date]]:
    """``days`` as (first, last) runs of consecutive days, oldest first."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def run_detectors(
    con, days: list[date], rules: Rules, prefix: str = "eval_", sources: Sources = DEFAULT_SOURCES
) -> DetectorTables:
    """Run the three detectors for every day and collect their outputs into TEMP tables
    ``{prefix}abuse_flags``, ``{prefix}user_anomaly_scores`` and ``{prefix}service_anomalies``: one
    set-based pass per run of consecutive days, equal to running them day by day."""
    tables = DetectorTables(
        identifier(f"{prefix}abuse_flags"),
        identifier(f"{prefix}user_anomaly_scores"),
        identifier(f"{prefix}service_anomalies"),
    )
    stages = [
        (stage_abuse_flags_window, "_eval_stage_flags", tables.flags),
        (stage_user_anomaly_scores_window, "_eval_stage_scores", tables.scores),
        (stage_service_anomalies_window, "_eval_stage_service", tables.service),
    ]
    for i, (start, end) in enumerate(consecutive_runs(days)):
        for stage, temp, target in stages:
            stage(con, start, end, rules, out=temp, sources=sources)
            if i == 0:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT * FROM {temp}")
            else:
                con.execute(f"INSERT INTO {target} SELECT * FROM {temp}")
    return tables


@dataclass
class PatternScore:
    pattern: str
    labelled: int = 0
    flagged: int = 0  # episodes
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.labelled if self.labelled else None


@dataclass
class Evaluation:
    patterns: dict[str, PatternScore]
    user_days: int
    false_flag_user_days: int
    score_anomaly_user_days: int
    unlabelled_flags: dict[str, int] = field(default_factory=dict)
    misses: list[dict] = field(default_factory=list)
    false_positives: list[dict] = field(default_factory=list)
    days: int = 0

    @property
    def overall(self) -> PatternScore:
        total = PatternScore("overall")
        for p in self.patterns.values():
            total.labelled += p.labelled
            total.flagged += p.flagged
            total.tp += p.tp
            total.fp += p.fp
            total.fn += p.fn
        return total

    @property
    def false_flag_rate(self) -> float:
        return self.false_flag_user_days / self.user_days if self.user_days else 0.0

    @property
    def score_anomaly_rate(self) -> float:
        return self.score_anomaly_user_days / self.user_days if self.user_days else 0.0

    def as_dict(self) -> dict:
        def row(p: PatternScore) -> dict:
            return {
                "labelled": p.labelled,
                "flagged": p.flagged,
                "tp": p.tp,
                "fp": p.fp,
                "fn": p.fn,
                "precision": p.precision,
                "recall": p.recall,
            }

        return {
            "days": self.days,
            "patterns": {name: row(p) for name, p in self.patterns.items()},
            "overall": row(self.overall),
            "user_days": self.user_days,
            "false_flag_user_days": self.false_flag_user_days,
            "false_flag_rate": self.false_flag_rate,
            "score_anomaly_user_days": self.score_anomaly_user_days,
            "score_anomaly_rate": self.score_anomaly_rate,
            "unlabelled_flags": self.unlabelled_flags,
            "misses": self.misses,
            "false_positives": self.false_positives,
        }

    def table(self) -> str:
        def pct(x: float | None) -> str:
            return "—" if x is None else f"{x:.3f}"

        head = f"{'pattern':<22}{'labelled':>9}{'flagged':>9}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}"
        lines = [head, "-" * len(head)]
        for p in [*self.patterns.values(), self.overall]:
            if p.pattern == "overall":
                lines.append("-" * len(head))
            lines.append(
                f"{p.pattern:<22}{p.labelled:>9}{p.flagged:>9}{p.tp:>5}{p.fp:>5}{p.fn:>5}"
                f"{pct(p.precision):>11}{pct(p.recall):>8}"
            )
        lines.append(
            f"false flags: {self.false_flag_user_days} of {self.user_days:,} user-days "
            f"({self.false_flag_rate:.3%}); anomaly scores: {self.score_anomaly_user_days} user-days "
            f"({self.score_anomaly_rate:.3%})"
        )
        if self.unlabelled_flags:
            lines.append(
                "unlabelled patterns (not scored): "
                + ", ".join(f"{k} {v} flag(s)" for k, v in sorted(self.unlabelled_flags.items()))
            )
        return "\n".join(lines)


def load_labels(labels_path: Path, days: list[date]) -> list[dict]:
    """Labels of scored patterns visible within ``days``, with their ``visible`` day."""
    first, last = min(days), max(days)
    out = []
    text = Path(labels_path).read_text() if labels_path and Path(labels_path).exists() else ""
    for line in text.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        if record["pattern"] not in LABELLED_PATTERNS:
            continue
        snapshot = record.get("details", {}).get("inventory_snapshot")
        use_snapshot = record["pattern"] in INVENTORY_PATTERNS and snapshot
        visible = date.fromisoformat(snapshot if use_snapshot else record["date"])
        if first <= visible <= last:
            out.append({**record, "visible": visible})
    return out


def alert_subject(label: dict) -> str:
    """The ``subject`` an alert about this label carries: the bill for the service-level cost spike, the
    distribution for a CDN hit-ratio drop, else the user."""
    if label["pattern"] == "cost_spike":
        return "S3 bill"
    if label["pattern"] in CDN_SERVICE_PATTERNS:
        return f"CloudFront {(label.get('details') or {}).get('distribution_id')}"
    return f"user {label['user_id']}"


def labels_without_alert(con, labels: list[dict]) -> list[dict]:
    """Labels with no firing alert of their pattern's rule (every alert rule is named after its
    pattern) for their subject on their visible day: the misses the demo and the tests report."""
    if not labels:
        return []
    firing = {
        tuple(row)
        for row in con.execute(
            "SELECT rule, subject, usage_date FROM alerts.alert_events "
            "WHERE state = 'firing' AND list_contains(?, rule)",
            [sorted({lab["pattern"] for lab in labels})],
        ).fetchall()
    }
    return [lab for lab in labels if (lab["pattern"], alert_subject(lab), lab["visible"]) not in firing]


def _episodes(flags: list[tuple[str, str | None, date]]) -> list[tuple[str, str | None, date, date]]:
    """Runs of consecutive days per (pattern, user)."""
    out: list[tuple[str, str | None, date, date]] = []
    for pattern, user, day in sorted(set(flags), key=lambda f: (f[0], f[1] or "", f[2])):
        if out and out[-1][:2] == (pattern, user) and out[-1][3] + timedelta(days=1) == day:
            out[-1] = (pattern, user, out[-1][2], day)
        else:
            out.append((pattern, user, day, day))
    return out


def evaluate(
    con,
    labels_path: Path | None,
    days: list[date],
    tables: DetectorTables | None = None,
    tolerance_days: int = 0,
) -> Evaluation:
    """Score the collected detector outputs (see ``run_detectors``) against the labels file."""
    tables = tables or DetectorTables(
        "eval_abuse_flags", "eval_user_anomaly_scores", "eval_service_anomalies"
    )
    first, last = min(days), max(days)
    labels = load_labels(labels_path, days) if labels_path else []
    flag_rows = con.execute(
        f"SELECT pattern, user_id, usage_date FROM {identifier(tables.flags)} WHERE usage_date BETWEEN ? AND ?",
        [first, last],
    ).fetchall()
    service_rows = con.execute(
        f"SELECT metric, NULL, usage_date FROM {identifier(tables.service)} "
        "WHERE usage_date BETWEEN ? AND ? AND list_contains(?, metric)",
        [first, last, list(SERVICE_PATTERNS)],
    ).fetchall()
    scored = [r for r in flag_rows + service_rows if r[0] in LABELLED_PATTERNS]
    unlabelled: dict[str, int] = {}
    for pattern, _, _ in flag_rows:
        if pattern not in LABELLED_PATTERNS:
            unlabelled[pattern] = unlabelled.get(pattern, 0) + 1

    patterns = {p: PatternScore(p) for p in LABELLED_PATTERNS}
    tolerance = timedelta(days=tolerance_days)
    matched_labels: set[int] = set()
    false_positives, false_days = [], set()
    for pattern, user, start, end in _episodes(scored):
        patterns[pattern].flagged += 1
        hit = next(
            (
                i
                for i, lab in enumerate(labels)
                if i not in matched_labels
                and lab["pattern"] == pattern
                and (pattern in SERVICE_PATTERNS or lab["user_id"] == user)
                and abs(lab["visible"] - start) <= tolerance
            ),
            None,
        )
        if hit is None:
            patterns[pattern].fp += 1
            false_positives.append(
                {"pattern": pattern, "user_id": user, "first": str(start), "last": str(end)}
            )
            if user is not None:
                false_days.update((user, start + timedelta(days=d)) for d in range((end - start).days + 1))
        else:
            matched_labels.add(hit)
            patterns[pattern].tp += 1
    misses = []
    for i, lab in enumerate(labels):
        patterns[lab["pattern"]].labelled += 1
        if i not in matched_labels:
            patterns[lab["pattern"]].fn += 1
            misses.append(
                {"pattern": lab["pattern"], "user_id": lab["user_id"], "visible": str(lab["visible"])}
            )

    user_days = con.execute(
        f"SELECT count(DISTINCT (user_id, usage_date)) FROM {identifier(tables.scores)} WHERE usage_date BETWEEN ? AND ?",
        [first, last],
    ).fetchall()[0][0]
    label_days = {(lab["user_id"], lab["date"]) for lab in labels}
    score_rows = con.execute(
        f"SELECT DISTINCT user_id, usage_date FROM {identifier(tables.scores)} "
        "WHERE is_anomaly AND usage_date BETWEEN ? AND ?",
        [first, last],
    ).fetchall()
    return Evaluation(
        patterns=patterns,
        user_days=int(user_days),
        false_flag_user_days=len(false_days),
        score_anomaly_user_days=sum(1 for u, d in score_rows if (u, d.isoformat()) not in label_days),
        unlabelled_flags=unlabelled,
        misses=misses,
        false_positives=false_positives,
        days=len(days),
    )
