"""Running an asset over a window of days.

Every asset is partitioned by day but declares ``BackfillPolicy.single_run()``, so a backfill of a month
is one run (DuckDB admits one writer; a run per day would spend more time starting runs than loading
data). An asset processes its whole window in a handful of statements — one staging query over the
days, one transaction replacing exactly those days, one grouped query for the per-day figures and check
inputs (``figures_by_day``) — and summarises the days in one MaterializeResult: for a single day exactly
that day's metadata and checks;
for a range, the per-day figures (``per_day``, which ``bucketlens run`` prints as progress lines, and a
table) and checks that pass only if they pass on every day, naming the days that did not.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg

from assets.metadata import markdown_table
from assets.partitions import daily_partitions
from bucketlens.logs import get_logger, log_event
from resources.warehouse import replace_days

SINGLE_RUN = dg.BackfillPolicy.single_run()
# Metadata that describes the whole window rather than a day (the engine that ran it, its job ids): a
# range shows it as given for its first day, where a day's own figures go into the per-day table.
WINDOW_KEYS = ("engine", "engine_ids", "engine_link")
LOG = get_logger("assets")
ERROR = dg.AssetCheckSeverity.ERROR


@dataclass
class Check:
    passed: bool
    metadata: dict[str, object] = field(default_factory=dict)
    description: str | None = None
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR


@dataclass
class DayResult:
    day: date
    metadata: dict[str, object]
    checks: dict[str, Check] = field(default_factory=dict)


def window_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days this run materializes: one for a daily run, many for a backfill."""
    window = context.partition_time_window
    start = window.start.date()
    return [start + timedelta(days=i) for i in range((window.end.date() - start).days)]


def figures_by_day(con, sql: str, params, days: list[date]) -> dict[date, dict[str, object]]:
    """One query's rows keyed by their first column (the day): how a set-based asset reads its per-day
    figures and check inputs for the whole window at once. Every day of ``days`` is present, with ``{}``
    when the query returned no row for it."""
    cursor = con.execute(sql, params)
    names = [column[0] for column in cursor.description][1:]
    found = {row[0]: dict(zip(names, row[1:], strict=True)) for row in cursor.fetchall()}
    return {day: found.get(day, {}) for day in days}


def detail_day(days: list[date]) -> date | None:
    """The day whose tables (top users, breakdowns) are worth computing: a one-day run shows them in the
    UI; a range shows only the per-day figures, so its tables are not computed at all."""
    return days[0] if len(days) == 1 else None


def window_bounds(days: list[date]) -> dict[str, date]:
    """The window as query parameters: ``$start`` and ``$end``, its first and last day."""
    return {"start": days[0], "end": days[-1]}


def window_figures(con, sql: str, days: list[date]) -> dict[date, dict[str, object]]:
    """``figures_by_day`` of a query whose only parameters are the window's bounds (``$start``, ``$end``):
    how most assets read their per-day figures, written once rather than in each of them."""
    return figures_by_day(con, sql, window_bounds(days), days)


def detail_rows(con, sql: str, days: list[date]) -> list[tuple]:
    """The rows of a detail query (its one ``?``: the day) for the window's ``detail_day``; none for a
    range, whose detail tables are never shown — the same guard every asset with a detail table needs."""
    one = detail_day(days)
    return con.execute(sql, [one]).fetchall() if one else []


def int_figures(figures: Mapping[str, object], names) -> dict[str, object]:
    """The named counts of a day's figures as int metadata, a missing or NULL count as 0: the counters
    that the audit-like assets show per day, each in one place."""
    return {name: dg.MetadataValue.int(int(figures.get(name) or 0)) for name in names}


def counted_days(
    con, days: list[date], figures_sql: str, counts, detail: tuple[str, list[str], str] | None = None
) -> list[tuple[date, dict[str, object], dict[str, object]]]:
    """Per day of the window: the day, its figures (``window_figures``) and its metadata — the named
    counts (``int_figures``) and, on the detail day, the table ``detail`` names: (metadata key, headers,
    query with one ``?``, the day). Why shared: the assets that mirror an audit or a queue into the
    warehouse show their days this way, only the counts and the table differ."""
    figures = window_figures(con, figures_sql, days)
    table: dict[str, object] = {}
    if detail:
        key, headers, sql = detail
        rows = detail_rows(con, sql, days)
        if rows:
            table[key] = markdown_table(headers, rows)
    return [(day, figures[day], int_figures(figures[day], counts) | table) for day in days]


def loaded_days(
    rows: Mapping[date, int], figures: Mapping[date, dict[str, object]]
) -> list[tuple[date, dict[str, object], dict[str, object]]]:
    """Per day of a loaded window (``figures``, from ``window_figures``): the day, its figures and its
    metadata begun with its row count (``dagster/row_count``). Why shared: every asset that replaces its
    window's days walks them this way before adding its own figures."""
    return [(day, f, {"dagster/row_count": rows[day]}) for day, f in figures.items()]


def stage_and_replace(con, stage_sql: str, table: str, stage: str, days: list[date]) -> dict[date, int]:
    """Run a staging query over the window (``$start``, ``$end``; it writes ``stage``) and replace exactly
    the window's days of ``table`` by the staged rows in one transaction; the rows per day. Why shared:
    the assets whose whole window is one staging query load it this way, and only the names differ."""
    con.execute(stage_sql, window_bounds(days))
    return replace_days(con, table, stage, "usage_date", days)


def groups_within(items: list, sizes: Mapping, budget: int) -> list[list]:
    """Consecutive ``items`` grouped so that each group's total size (``sizes[item]``, 0 if missing)
    stays within ``budget``; an item larger than the budget is a group of its own. How a window is
    split into as few transactions (or parse calls) as a memory or disk budget allows."""
    groups: list[list] = []
    total = 0
    for item in items:
        size = int(sizes.get(item) or 0)
        if not groups or total + size > budget:
            groups.append([])
            total = 0
        groups[-1].append(item)
        total += size
    return groups


def _plain(value: object) -> object:
    return getattr(value, "value", value)


def _numeric(metadata: Mapping[str, object]) -> dict[str, float | int | bool]:
    plain = {k: _plain(v) for k, v in metadata.items()}
    return {
        k: v for k, v in plain.items() if isinstance(v, int | float | bool) and not k.startswith("dagster/")
    }


def _merge_checks(results: list[DayResult]) -> list[dg.AssetCheckResult]:
    names = list(dict.fromkeys(name for r in results for name in r.checks))
    merged = []
    for name in names:
        outcomes = [(r.day, r.checks[name]) for r in results if name in r.checks]
        failing = [str(day) for day, c in outcomes if not c.passed]
        last = outcomes[-1][1]
        if len(outcomes) == 1:
            metadata, description = dict(last.metadata), last.description
        else:
            metadata = {"days_checked": len(outcomes), "days_failing": ", ".join(failing) or "none"}
            first_failure = next((c for _, c in outcomes if not c.passed), None)
            description = first_failure.description if first_failure else None
            if first_failure:
                metadata.update({f"first_failure_{k}": v for k, v in first_failure.metadata.items()})
        # A range fails a check as severely as its worst failing day (a warning-only NoData day must not
        # soften another day's error, nor the reverse).
        severities = {c.severity for _, c in outcomes if not c.passed} or {last.severity}
        severity = ERROR if ERROR in severities else severities.pop()
        merged.append(
            dg.AssetCheckResult(
                check_name=name,
                passed=not failing,
                severity=severity,
                metadata=metadata,
                description=description,
            )
        )
    return merged


def window_result(results: list[DayResult]) -> dg.MaterializeResult:
    """One MaterializeResult for the window (see the module docstring)."""
    checks = _merge_checks(results)
    per_day = {str(r.day): _numeric(r.metadata) for r in results}
    if len(results) == 1:
        metadata = dict(results[0].metadata)
    else:
        # A range writes the same metadata on every partition it covers, so no numbers that the UI would
        # plot as if they were one day's: the per-day figures go in a table instead.
        keys = list(dict.fromkeys(k for figures in per_day.values() for k in figures))
        metadata = {
            "days": f"{len(results)} ({results[0].day} .. {results[-1].day})",
            "per_day_table": markdown_table(
                ["day", *keys], [(d, *(f.get(k, "") for k in keys)) for d, f in per_day.items()]
            ),
        }
        metadata.update({k: v for k, v in results[0].metadata.items() if k in WINDOW_KEYS})
    metadata["per_day"] = dg.MetadataValue.json(per_day)
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


def load_in_warehouse(context, warehouse, load_window, *args, ddl: str | None = None) -> dg.MaterializeResult:
    """The whole body of an asset whose work is its ``load_window(con, days, *args)``: open the warehouse,
    create the table (``ddl``) when it is new, load the run's days, summarise them (``window_result``).
    Why shared: the detectors and the derived usage and cost tables are exactly this around their own
    ``load_window``."""
    with warehouse.connect() as con:
        if ddl:
            con.execute(ddl)
        results = load_window(con, window_days(context), *args)
    return window_result(results)


@dataclass(frozen=True)
class CheckSpec:
    name: str
    description: str
    blocking: bool = False


def daily_asset(
    name: str,
    group: str,
    checks: tuple[CheckSpec, ...] = (),
    deps: tuple[str | dg.AssetDep, ...] = (),
    kinds: tuple[str, ...] = ("duckdb",),
    code_version: str = "1",
):
    """The decorator every warehouse asset shares: daily UTC partitions, a range backfill as one run,
    the DuckDB writer pool (one writer at a time), and its checks."""
    key = dg.AssetKey(name)
    decorate = dg.asset(
        key=key,
        group_name=group,
        partitions_def=daily_partitions,
        backfill_policy=SINGLE_RUN,
        deps=[d if isinstance(d, dg.AssetDep) else dg.AssetKey(d) for d in deps],
        kinds=set(kinds),
        pool="duckdb_writer",
        code_version=code_version,
        check_specs=[
            dg.AssetCheckSpec(c.name, asset=key, description=c.description, blocking=c.blocking)
            for c in checks
        ],
    )
    return lambda compute: decorate(_logging_days(name, compute))


def _logging_days(asset: str, compute):
    """``compute`` that also logs each day's figures as an ``asset_day`` event (``bucketlens.logs``):
    the operator's log aggregator sees what the UI's metadata shows, one structured line per day."""

    @functools.wraps(compute)
    def logged(*args, **kwargs):
        result = compute(*args, **kwargs)
        per_day = result.metadata.get("per_day") if isinstance(result, dg.MaterializeResult) else None
        failing = [c.check_name for c in (result.check_results or []) if not c.passed] if per_day else []
        for day, figures in (per_day.value if per_day else {}).items():
            log_event(
                LOG, "asset_day", f"{asset} {day}", asset=asset, day=day, failed_checks=failing, **figures
            )
        return result

    return logged
