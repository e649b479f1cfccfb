#!/usr/bin/env sh
# Install with the test tools (from uv.lock), lint, and run the whole test suite.
# Benchmark-scale tests are opt-in: scripts/test.sh -m slow
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Both cores: test files are spread over two workers (a file stays on one, sharing its fixtures), in
# collection order, the longest files first (tests/conftest.py, LONGEST_FILES_FIRST).
exec .venv/bin/pytest -n 2 --dist loadfile --no-loadscope-reorder "$@"
