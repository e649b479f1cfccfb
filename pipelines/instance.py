"""The Dagster instance the CLI and the UI share, under ``$BUCKETLENS_HOME/dagster``.

Runs started from the command line go into the same instance the webserver reads, so ``bucketlens
run`` / ``demo`` history shows up in ``bucketlens ui``. Dagster only reads ``$DAGSTER_HOME/dagster.yaml``,
so the repository's file is copied there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
import yaml

from bucketlens.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


OUR_HEADER = "# Copied to $DAGSTER_HOME by `bucketlens ui|run|demo`"


def prepare_dagster_home(settings: Settings) -> Path:
    """``$DAGSTER_HOME`` with the repository's ``dagster.yaml`` — unless the operator keeps their own
    there (run storage in PostgreSQL, say): that file is never overwritten, only checked for the one
    setting bucketlens needs (a single DuckDB writer at a time)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target, ours = home / "dagster.yaml", (REPO_ROOT / "dagster.yaml").read_text()
    if not target.exists() or target.read_text().startswith(OUR_HEADER):
        if not target.exists() or target.read_text() != ours:
            target.write_text(ours)
        return home
    if _pool_limit(target) != 1:
        print(
            f"note: keeping your {target}; it does not set concurrency.pools.default_limit: 1, so two runs "
            f"may contend for the DuckDB warehouse (see {REPO_ROOT / 'dagster.yaml'})",
            file=sys.stderr,
        )
    return home


def _pool_limit(path: Path) -> object:
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return None
    return ((config.get("concurrency") or {}).get("pools") or {}).get("default_limit")


def persistent_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance in ``$BUCKETLENS_HOME/dagster`` (without touching this process's environment).

    Its event log, when it is Dagster's stock SQLite one, keeps its connections open
    (``pipelines.event_storage``): the same files, which the UI reads as usual, written without a
    connection and an ``fsync`` per event (a third of the demo's time on a loaded machine)."""
    from dagster._core.instance.factory import create_instance_from_ref
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    from pipelines.event_storage import PooledSqliteEventLogStorage

    ref = InstanceRef.from_dir(str(prepare_dagster_home(settings)))
    stock = ref.storage.event_log_storage if ref.storage else ref.event_storage
    if type(stock) is not SqliteEventLogStorage:
        return create_instance_from_ref(ref)
    instance = create_instance_from_ref(ref)
    pooled = PooledSqliteEventLogStorage(stock._base_dir, stock.inst_data)  # noqa: SLF001
    instance._event_storage = pooled  # noqa: SLF001
    pooled.register_instance(instance)
    return instance
