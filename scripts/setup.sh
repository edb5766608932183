#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian machine: uv, Prometheus, the Python workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv" >&2
  python3 -m pip install --quiet --disable-pip-version-check uv
fi

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing Prometheus (Debian package)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "setup: Prometheus is missing; run 'sudo apt-get install prometheus' and try again" >&2
    exit 1
  fi
fi

export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
uv sync --locked --quiet
