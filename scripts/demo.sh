#!/usr/bin/env bash
# The main job: the embedded local stack, two scenario profiles, a baseline and a comparison.
# Leaves the API serving on :8081; stop everything with `uv run copilot dev down`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec uv run copilot dev demo "$@"
