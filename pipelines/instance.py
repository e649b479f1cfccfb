"""The Dagster instance the CLI and the UI share, under ``$BUCKETLENS_HOME/dagster``.

Runs started from the command line go into the same instance the webserver reads, so ``bucketlens
run`` / ``demo`` history shows up in ``bucketlens ui``. Dagster only reads ``$DAGSTER_HOME/dagster.yaml``,
so the repository's file is copied there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from bucketlens.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def prepare_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def persistent_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance in ``$BUCKETLENS_HOME/dagster`` (without touching this process's environment)."""
    return dg.DagsterInstance.from_config(str(prepare_dagster_home(settings)))
