#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian machine: uv, Prometheus, Chromium, the Python workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: installing uv" >&2
  python3 -m pip install --quiet --disable-pip-version-check uv
fi

# Debian packages: Prometheus and promtool (the real metrics store of the local stack) and Chromium
# (the browser tests drive it through Playwright; no browser is ever downloaded).
missing=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing ${missing[*]} (Debian packages)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}; run 'sudo apt-get install ${missing[*]}' and try again" >&2
    exit 1
  fi
fi

export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
uv sync --locked --quiet
