#!/usr/bin/env bash
# The whole test suite: lint, types, unit and integration tests on the real local stack.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
uv run ruff check .
uv run ruff format --check .
uv run mypy
uv run pytest "$@"
