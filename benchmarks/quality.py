"""Measured detector quality: generated months → the real raw/usage/cost assets → the detectors →
precision, recall and false-flag rate against the generator's labels (``bucketlens bench anomaly``).

The same code backs ``tests/anomaly/test_quality.py`` (one fixed case in CI, the rest opt-in), so the
figures in the README and the asserted ones cannot drift apart. Each case builds its own warehouse in a
scratch directory through the project's own assets, so what is measured is what a deployment runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

START = date(2026, 10, 1)
TARGETS = {"recall": 0.95, "precision": 0.9, "false_flag_rate": 0.01}


@dataclass(frozen=True)
class GeneratedWarehouse:
    path: Path
    labels: Path
    days: list[date]


@dataclass(frozen=True)
class QualityCase:
    seed: int
    users: int
    days: int
    anomalies: bool
    injections_per_pattern: int | None = None

    @property
    def name(self) -> str:
        kind = f"{self.injections_per_pattern or 'default'} injected/pattern" if self.anomalies else "normal"
        return f"seed {self.seed}, {self.users:,} users, {self.days} days, {kind}"


@contextmanager
def _environment(home: Path, source: Path) -> Iterator[None]:
    """Point the BUCKETLENS_* variables at a scratch home and source for one build, then restore them."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("BUCKETLENS_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(
        {
            "BUCKETLENS_HOME": str(home),
            "BUCKETLENS_SOURCE": str(source),
            "BUCKETLENS_USERS_DB": f"sqlite:///{source / 'users.sqlite'}",
        }
    )
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("BUCKETLENS_")]:
            del os.environ[key]
        os.environ.update(saved)


def build_warehouse(
    root: Path,
    users: int,
    days: int,
    seed: int,
    anomalies: bool = True,
    injections_per_pattern: int | None = None,
) -> GeneratedWarehouse:
    """Generate a period and load it through the raw, usage and cost assets in one in-process run."""
    import dagster as dg

    from assets.cost import COST_ASSETS
    from assets.raw import RAW_ASSETS
    from assets.usage import USAGE_ASSETS
    from bucketlens.settings import Settings
    from pipelines.runner import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG
    from resources import build_resources
    from synthetic import generate

    source, home = root / "source", root / "home"
    generate(
        source,
        START,
        days,
        users,
        seed=seed,
        anomalies=anomalies,
        injections_per_pattern=injections_per_pattern,
    )
    day_list = [START + timedelta(days=i) for i in range(days)]
    with _environment(home, source):
        defs = dg.Definitions(
            assets=[*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS], resources=build_resources(Settings.from_env())
        )
        tags = {RANGE_START_TAG: day_list[0].isoformat(), RANGE_END_TAG: day_list[-1].isoformat()}
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            tags=tags, instance=dg.DagsterInstance.ephemeral(), run_config=QUIET_CONSOLE
        )
        if not result.success:
            raise RuntimeError(f"loading the generated data failed for {root}")
    return GeneratedWarehouse(home / "warehouse.duckdb", source / "labels.jsonl", day_list)


def evaluate_case(case: QualityCase, workdir: Path):
    """Build the case's warehouse, run the three detectors on every day and score them."""
    import duckdb

    from bucketlens.anomaly.evaluation import evaluate, run_detectors
    from bucketlens.anomaly.rules import load_rules

    wh = build_warehouse(
        workdir, case.users, case.days, case.seed, case.anomalies, case.injections_per_pattern
    )
    con = duckdb.connect(str(wh.path))
    try:
        con.execute("SET enable_progress_bar = false")
        tables = run_detectors(con, wh.days, load_rules())
        return evaluate(con, wh.labels, wh.days, tables)
    finally:
        con.close()


def meets_targets(ev, anomalies: bool) -> bool:
    if ev.false_flag_rate >= TARGETS["false_flag_rate"]:
        return False
    if not anomalies:
        return ev.score_anomaly_rate < TARGETS["false_flag_rate"]
    overall = ev.overall
    return (overall.recall or 0) >= TARGETS["recall"] and (overall.precision or 0) >= TARGETS["precision"]


def summary_table(rows: list[tuple[QualityCase, object, float]]) -> str:
    head = (
        f"{'case':<50}{'labels':>7}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>10}{'recall':>8}"
        f"{'false flags':>13}{'score alarms':>14}{'time':>7}  ok"
    )
    lines = [head, "-" * len(head)]
    for case, ev, seconds in rows:
        o = ev.overall
        precision = "—" if o.precision is None else f"{o.precision:.3f}"
        recall = "—" if o.recall is None else f"{o.recall:.3f}"
        lines.append(
            f"{case.name:<50}{o.labelled:>7}{o.tp:>5}{o.fp:>5}{o.fn:>5}{precision:>10}{recall:>8}"
            f"{ev.false_flag_rate:>12.3%} {ev.score_anomaly_rate:>13.3%} {seconds:>6.0f}s"
            f"  {'yes' if meets_targets(ev, case.anomalies) else 'NO'}"
        )
    return "\n".join(lines)


def default_cases(seeds: list[int], sizes: list[int], days: int, injections: int) -> list[QualityCase]:
    """Every seed × size with injected anomalies, and a normal month per seed × size."""
    cases = [QualityCase(s, u, days, True, injections) for s in seeds for u in sizes]
    return cases + [QualityCase(s, u, 30, False) for s in seeds for u in sizes]


def run_quality_bench(
    cases: list[QualityCase], workdir: Path, json_path: Path | None = None, echo: Callable = print
) -> int:
    """Evaluate every case, print each case's per-pattern table and a summary; 0 when all meet the targets."""
    rows = []
    for i, case in enumerate(cases, 1):
        echo(f"[{i}/{len(cases)}] {case.name}: generating, loading and running the detectors…")
        started = time.perf_counter()
        ev = evaluate_case(case, workdir / f"case{i}")
        seconds = time.perf_counter() - started
        echo(ev.table())
        rows.append((case, ev, seconds))
    echo("")
    echo(
        f"Targets: recall ≥ {TARGETS['recall']}, precision ≥ {TARGETS['precision']}, "
        f"false flags < {TARGETS['false_flag_rate']:.0%} of user-days. 'score alarms': user-days with an "
        "anomaly score over its threshold that no label explains (info alerts, not abuse flags)."
    )
    echo(summary_table(rows))
    if json_path:
        payload = [
            {**case.__dict__, "name": case.name, "seconds": round(sec, 1), **ev.as_dict()}
            for case, ev, sec in rows
        ]
        Path(json_path).write_text(json.dumps(payload, indent=2, default=str))
        echo(f"JSON: {json_path}")
    return 0 if all(meets_targets(ev, case.anomalies) for case, ev, _ in rows) else 1
