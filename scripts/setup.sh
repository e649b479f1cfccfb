#!/usr/bin/env sh
# Creates ./.venv from uv.lock so every machine gets the same versions.
# Needs only python3. `scripts/setup.sh` installs the app; `scripts/setup.sh --dev` adds the test tools
# and the Spark engine (pyspark; its tests run a local Spark session, which needs Java 17).
set -eu
cd "$(dirname "$0")/.."
# The environment is made without pip (ensurepip took ~3 s of a fresh clone's demo): uv installs everything, and
# python3's own pip puts uv in (pip >= 22.3 installs into another interpreter with --python). Where python3 has
# no such pip, the environment gets its own pip first, as `python3 -m venv` would have given it.
if [ ! -x .venv/bin/python ]; then
    python3 -m venv --without-pip .venv
fi
if ! .venv/bin/python -m uv --version >/dev/null 2>&1; then
    if ! python3 -m pip --python .venv/bin/python install --quiet --disable-pip-version-check uv 2>/dev/null; then
        .venv/bin/python -m ensurepip --upgrade >/dev/null
        .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
    fi
fi
extra=""
if [ "${1:-}" = "--dev" ]; then
    # --compile-bytecode: the test suite starts many Python processes (CLI commands, the daemon, the webserver,
    # benchmark children), each importing Dagster. Where PYTHONDONTWRITEBYTECODE is set (the machines this project
    # is measured on) Python never caches bytecode, and each process compiled its imports again: importing the
    # definitions took 8.5 s of CPU, 3.6 s from bytecode. Compiled once here (~12 s on 2 cores).
    extra="--extra dev --extra spark --compile-bytecode"
fi
# --frozen: install exactly what uv.lock says; --inexact keeps tools installed by hand (e.g. a profiler).
UV_PROJECT_ENVIRONMENT=.venv .venv/bin/python -m uv sync --frozen --inexact --quiet $extra
