"""The attribution benchmark (``bucketlens bench attribution``): data setup, the warehouse side, and the
check that the warehouse and the naive pandas baseline agree.

Why this shape: the issue "Per-user usage and cost attribution" is done when ``user_daily_storage`` +
``user_daily_cost`` on a 20 M-object inventory take at most 0.15× the wall time of a naive pandas
implementation of the same result, in at most 1 GiB of peak RSS on 2 cores, and both agree. So:

- :func:`prepare` (untimed) generates one S3 Inventory partition, loads it with the real
  ``inventory_objects`` asset into a fresh warehouse, writes a bill for that day priced from the
  inventory (:mod:`benchmarks.bill`) into ``raw.cost_line_items``, creates the (empty)
  ``usage.user_daily_requests``, and exports the day's inventory rows and line items to Parquet, the
  pandas input.
- :func:`run_bucketlens` (timed, in its own child process) materializes the two real assets for the
  partition with the resources ``build_resources(Settings.from_env())`` gives, so
  ``BUCKETLENS_DUCKDB_MEMORY_LIMIT`` is honoured as in production.
- :mod:`benchmarks.naive_pandas` (timed, in its own child process) computes the same rows.
- :func:`compare` checks every ``user_daily_storage`` row, every ``user_daily_cost`` amount and every
  user's totals for exact equality (integers and micro-dollars): a fast wrong answer is no result.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from benchmarks.bill import CLASS_USAGE_SQL, day_line_items
from benchmarks.clock import clock
from benchmarks.compared import COST_KEY, STORAGE_VALUES
from bucketlens.duckdb_options import set_option
from bucketlens.formats.cur import COLUMNS as CUR_COLUMNS
from bucketlens.formats.cur import TABLE_DDL as CUR_TABLE_DDL
from bucketlens.formats.cur import record_direct_bill

INVENTORY_COLUMNS = "user_id, storage_class, size, e_tag, is_latest, is_delete_marker, last_modified"


@dataclass(frozen=True)
class Prepared:
    """Where the benchmark's data is and what it holds."""

    day: date
    home: Path
    source: Path
    objects: int
    inventory_rows: int
    users: int
    billed_usd: str
    line_items: int
    inventory_parquet: Path
    line_items_parquet: Path
    generate_seconds: float
    load_seconds: float
    load_peak_rss_mib: float | None = None


@dataclass
class Comparison:
    """Exact comparison of the warehouse's rows with the pandas baseline's."""

    storage_rows: int
    cost_rows: int
    users: int
    billed_micro: int
    bucketlens_total_micro: int
    pandas_total_micro: int
    storage_mismatches: int = 0
    cost_mismatches: int = 0
    user_storage_mismatches: int = 0
    user_cost_mismatches: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        mismatches = (self.storage_mismatches, self.cost_mismatches, self.user_storage_mismatches,
                      self.user_cost_mismatches)  # fmt: skip
        return (
            not any(mismatches)
            and self.bucketlens_total_micro == self.pandas_total_micro == self.billed_micro
        )


@contextmanager
def bucketlens_environment(home: Path, source: Path) -> Iterator[None]:
    """``BUCKETLENS_HOME``/``BUCKETLENS_SOURCE`` pointing at the benchmark's data, restored afterwards."""
    names = ("BUCKETLENS_HOME", "BUCKETLENS_SOURCE", "BUCKETLENS_USERS_DB")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({"BUCKETLENS_HOME": str(home), "BUCKETLENS_SOURCE": str(source)})
    os.environ.pop("BUCKETLENS_USERS_DB", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _materialize(assets: list, day: date) -> dict[str, bool]:
    """Materialize ``assets`` for ``day`` in-process with the deployment's resources; raise on any
    failure; return each asset check's outcome."""
    import dagster as dg

    from bucketlens.settings import Settings
    from resources import build_resources

    result = dg.materialize(
        assets, partition_key=day.isoformat(), resources=build_resources(Settings.from_env())
    )
    if not result.success:
        raise RuntimeError(f"materializing {[a.key.to_user_string() for a in assets]} for {day} failed")
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def prepare(
    workdir: Path,
    objects: int,
    day: date,
    *,
    inventory_format: str = "parquet",
    seed: int = 1,
    echo: Callable[[str], object] = print,
    load: Callable[[Path, Path, date], float | None] | None = None,
) -> Prepared:
    """Untimed setup: generate, load, bill, export (see the module docstring).

    ``load(source, home, day)`` replaces the in-process ``inventory_objects`` run: the suite passes
    one that runs it in a measured child, so the load's peak RSS is its own, not this process's
    (which also held the generator). It returns that peak in MiB (None if not measured)."""
    from assets.raw import inventory_objects
    from assets.usage.user_daily_requests import TABLE_DDL as REQUESTS_DDL
    from synthetic import generate_inventory_snapshot

    source, home, exports = workdir / "source", workdir / "home", workdir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    echo(f"generating a {objects:,}-object {inventory_format} inventory for {day} in {source} ...")
    started = time.perf_counter()
    generate_inventory_snapshot(source, day, objects, seed=seed, inventory_format=inventory_format)
    generate_seconds = time.perf_counter() - started
    echo(f"generated in {generate_seconds:.1f}s; loading it with the inventory_objects asset ...")
    started = time.perf_counter()
    load_peak_rss_mib = None
    if load is None:
        with bucketlens_environment(home, source):
            _materialize([inventory_objects], day)
    else:
        load_peak_rss_mib = load(source, home, day)
    load_seconds = time.perf_counter() - started
    echo(f"loaded in {load_seconds:.1f}s; writing the day's bill and the pandas inputs ...")

    con = duckdb.connect(str(home / "warehouse.duckdb"))
    try:
        con.execute("SET enable_progress_bar = false")
        set_option(con, "temp_directory", str(home / "duckdb_tmp"))
        con.execute(CUR_TABLE_DDL)
        con.execute(REQUESTS_DDL)
        con.execute("DELETE FROM usage.user_daily_requests WHERE usage_date = ?", [day])
        usage = [(c, int(bh), int(n)) for c, bh, n in con.execute(CLASS_USAGE_SQL, {"day": day}).fetchall()]
        lines = day_line_items(day, usage)
        names = [name for name, _ in CUR_COLUMNS]
        con.execute("DELETE FROM raw.cost_line_items WHERE CAST(usage_start AS DATE) = ?", [day])
        con.executemany(
            f"INSERT INTO raw.cost_line_items ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [[line[n] for n in names] for line in lines],
        )
        record_direct_bill(con, day, "the benchmark's own bill, written by benchmarks.bill")
        inventory_parquet, line_items_parquet = exports / "inventory.parquet", exports / "line_items.parquet"
        con.execute(
            f"COPY (SELECT {INVENTORY_COLUMNS} FROM raw.inventory_objects WHERE snapshot_date = $day) "
            f"TO '{inventory_parquet}' (FORMAT parquet)",
            {"day": day},
        )
        con.execute(
            f"COPY (SELECT * FROM raw.cost_line_items WHERE CAST(usage_start AS DATE) = $day) "
            f"TO '{line_items_parquet}' (FORMAT parquet)",
            {"day": day},
        )
        rows, users = con.execute(
            "SELECT count(*), count(DISTINCT user_id) FROM raw.inventory_objects WHERE snapshot_date = ?",
            [day],
        ).fetchall()[0]
        billed = con.execute(
            "SELECT sum(unblended_cost) FROM raw.cost_line_items WHERE CAST(usage_start AS DATE) = ?", [day]
        ).fetchall()[0][0]
    finally:
        con.close()
    return Prepared(
        day=day,
        home=home,
        source=source,
        objects=objects,
        inventory_rows=int(rows),
        users=int(users),
        billed_usd=str(billed),
        line_items=len(lines),
        inventory_parquet=inventory_parquet,
        line_items_parquet=line_items_parquet,
        generate_seconds=round(generate_seconds, 1),
        load_seconds=round(load_seconds, 1),
        load_peak_rss_mib=load_peak_rss_mib,
    )


def run_bucketlens(home: Path, source: Path, day: date) -> dict[str, object]:
    """The timed warehouse side (run it in a child process): ``user_daily_storage`` then
    ``user_daily_cost`` for ``day``; the seconds of each, their checks, and DuckDB's session limits."""
    from assets.cost.user_daily_cost import user_daily_cost
    from assets.usage.user_daily_storage import user_daily_storage

    steps: dict[str, float] = {}
    checks: dict[str, bool] = {}
    with bucketlens_environment(home, source):
        with clock() as took:
            for asset in (user_daily_storage, user_daily_cost):
                with clock() as step:
                    checks.update(_materialize([asset], day))
                steps.update(step.report(f"{asset.key.to_user_string()}_"))
        limits = duckdb_limits()
    return {**took.report(), **steps, "checks": checks, **limits}


def duckdb_limits() -> dict[str, str]:
    """The memory limit and thread count the warehouse resource gives a DuckDB session."""
    from bucketlens.settings import Settings
    from resources import build_resources

    with build_resources(Settings.from_env())["warehouse"].connect() as con:
        memory_limit, threads = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        ).fetchall()[0]
    return {"duckdb_memory_limit": str(memory_limit), "duckdb_threads": str(threads)}


def _micro(amount: Decimal) -> int:
    return int(Decimal(amount).scaleb(6))


def compare(prepared: Prepared, pandas_out: Path, max_examples: int = 5) -> Comparison:
    """Compare the warehouse's rows for the day with the pandas baseline's, exactly."""
    con = duckdb.connect(str(prepared.home / "warehouse.duckdb"), read_only=True)
    try:
        ours_storage = {
            (row[0], row[1]): tuple(int(v) for v in row[2:])
            for row in con.execute(
                f"SELECT user_id, storage_class, {', '.join(STORAGE_VALUES)} FROM usage.user_daily_storage "
                "WHERE usage_date = ?",
                [prepared.day],
            ).fetchall()
        }
        ours_cost = {
            tuple(row[:5]): _micro(row[5])
            for row in con.execute(
                f"SELECT {', '.join(COST_KEY)}, amount_usd FROM cost.user_daily_cost WHERE usage_date = ?",
                [prepared.day],
            ).fetchall()
        }
    finally:
        con.close()
    storage_table = pq.read_table(pandas_out / "storage.parquet").to_pylist()
    theirs_storage = {
        (r["user_id"], r["storage_class"]): tuple(int(r[v]) for v in STORAGE_VALUES) for r in storage_table
    }
    theirs_cost = {
        tuple(r[k] for k in COST_KEY): int(r["micro"])
        for r in pq.read_table(pandas_out / "cost.parquet").to_pylist()
    }

    comparison = Comparison(
        storage_rows=len(ours_storage),
        cost_rows=len(ours_cost),
        users=len({u for u, _ in ours_storage} | {k[0] for k in ours_cost}),
        billed_micro=_micro(Decimal(prepared.billed_usd)),
        bucketlens_total_micro=sum(ours_cost.values()),
        pandas_total_micro=sum(theirs_cost.values()),
    )

    def note(text: str) -> None:
        if len(comparison.examples) < max_examples:
            comparison.examples.append(text)

    for key in sorted(ours_storage.keys() | theirs_storage.keys()):
        if ours_storage.get(key) != theirs_storage.get(key):
            comparison.storage_mismatches += 1
            note(
                f"user_daily_storage {key}: bucketlens {ours_storage.get(key)} vs pandas {theirs_storage.get(key)}"
            )
    for key in sorted(ours_cost.keys() | theirs_cost.keys(), key=repr):
        if ours_cost.get(key) != theirs_cost.get(key):
            comparison.cost_mismatches += 1
            note(
                f"user_daily_cost {key}: bucketlens {ours_cost.get(key)} µ$ vs pandas {theirs_cost.get(key)} µ$"
            )
    for ours, theirs, what in (
        (_per_user(ours_storage, 1), _per_user(theirs_storage, 1), "bytes"),
        (_per_user(ours_cost), _per_user(theirs_cost), "µ$"),
    ):
        for user in sorted(ours.keys() | theirs.keys()):
            if ours.get(user) != theirs.get(user):
                if what == "bytes":
                    comparison.user_storage_mismatches += 1
                else:
                    comparison.user_cost_mismatches += 1
                note(f"user {user} total {what}: bucketlens {ours.get(user)} vs pandas {theirs.get(user)}")
    return comparison


def _per_user(rows: dict[tuple, object], index: int | None = None) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for key, value in rows.items():
        totals[key[0]] += value[index] if index is not None else value  # type: ignore[index,operator]
    return dict(totals)


if __name__ == "__main__":
    home_arg, source_arg, day_arg = sys.argv[1:4]
    print(json.dumps(run_bucketlens(Path(home_arg), Path(source_arg), date.fromisoformat(day_arg))))
