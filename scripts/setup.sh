#!/usr/bin/env sh
# Creates ./.venv from uv.lock so every machine gets the same versions.
# Needs only python3. `scripts/setup.sh` installs the app; `scripts/setup.sh --dev` adds the test tools
# and the Spark engine (pyspark; its tests run a local Spark session, which needs Java 17).
set -eu
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if ! .venv/bin/python -m uv --version >/dev/null 2>&1; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check uv
fi
extra=""
if [ "${1:-}" = "--dev" ]; then
    extra="--extra dev --extra spark"
fi
# --frozen: install exactly what uv.lock says; --inexact keeps tools installed by hand (e.g. a profiler).
UV_PROJECT_ENVIRONMENT=.venv .venv/bin/python -m uv sync --frozen --inexact --quiet $extra
