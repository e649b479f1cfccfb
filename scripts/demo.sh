#!/usr/bin/env sh
# Install (from uv.lock) and run the demo: a generated month in AWS's formats, loaded day by day.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/bucketlens demo "$@"
