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
# On a fresh machine unattended-upgrades often holds apt's locks for a few minutes: wait for them
# (up to APT_LOCK_WAIT_SECONDS) rather than fail. apt-get install waits by itself with
# DPkg::Lock::Timeout; apt-get update does not wait for its lists lock, so it is tried again here.
APT_LOCK_WAIT_SECONDS="${APT_LOCK_WAIT_SECONDS:-600}"
apt_options=(-o "DPkg::Lock::Timeout=${APT_LOCK_WAIT_SECONDS}")

apt_update() {
  local deadline=$((SECONDS + APT_LOCK_WAIT_SECONDS)) said="" out
  until out="$(apt-get "${apt_options[@]}" update -qq 2>&1)"; do
    if ! grep -q "Could not get lock" <<<"$out" || [ "$SECONDS" -ge "$deadline" ]; then
      printf '%s\n' "$out" >&2
      return 1
    fi
    if [ -z "$said" ]; then
      echo "setup: another apt process holds the package lists lock; waiting for it (up to ${APT_LOCK_WAIT_SECONDS} s)" >&2
      said=1
    fi
    sleep 5
  done
  [ -z "$out" ] || printf '%s\n' "$out" >&2  # warnings
}

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup: installing ${missing[*]} (Debian packages; if another apt process such as unattended-upgrades" \
      "holds apt's lock, this waits up to ${APT_LOCK_WAIT_SECONDS} s for it: APT_LOCK_WAIT_SECONDS)" >&2
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_options[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages: ${missing[*]}; run 'sudo apt-get install ${missing[*]}' and try again" >&2
    exit 1
  fi
fi

export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
uv sync --locked --quiet
