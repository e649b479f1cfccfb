#!/usr/bin/env sh
# Install with the test tools (from uv.lock), lint, and run the whole test suite.
# Benchmark-scale tests are opt-in: scripts/test.sh -m slow
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest "$@"
