"""scripts/setup.sh on a busy machine: it waits for apt's locks instead of failing at once.

The script runs for real, with stand-ins for the commands it calls (``apt-get``, ``id``, ``uv``, ``sleep``)
first on a PATH that holds nothing else: no Prometheus or Chromium, so it installs them as root. The
stand-in ``apt-get`` records its arguments and answers ``update`` as apt does while another process holds
the package lists lock, as many times as the test says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parents[2] / "scripts" / "setup.sh"

APT_GET = """#!/bin/bash
echo "$*" >> "$STUB_LOG"
if [[ " $* " == *" update "* ]]; then
  held=$(cat "$STUB_STATE" 2>/dev/null || echo 0)
  if [ "$held" -gt 0 ]; then
    echo $((held - 1)) > "$STUB_STATE"
    echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
    echo "E: Unable to lock directory /var/lib/apt/lists/" >&2
    exit 100
  fi
fi
exit 0
"""


def run_setup(
    tmp_path: Path, *, held_updates: int, wait_seconds: str | None = None
) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {
        "apt-get": APT_GET,
        "id": "#!/bin/bash\necho 0\n",
        "uv": "#!/bin/bash\nexit 0\n",
        "sleep": '#!/bin/bash\necho "sleep $*" >> "$STUB_LOG"\n',
    }
    for name, text in stubs.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    for tool in ("dirname", "grep", "cat"):
        real = shutil.which(tool)
        assert real is not None
        (bin_dir / tool).symlink_to(real)
    (tmp_path / "state").write_text(str(held_updates))
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "STUB_LOG": str(tmp_path / "apt.log"),
        "STUB_STATE": str(tmp_path / "state"),
    }
    if wait_seconds is not None:
        env["APT_LOCK_WAIT_SECONDS"] = wait_seconds
    bash = shutil.which("bash")
    assert bash is not None
    return subprocess.run([bash, str(SETUP)], env=env, capture_output=True, text=True, timeout=60, check=False)


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "apt.log").read_text().splitlines()


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_setup_waits_for_the_package_lists_lock_and_installs(tmp_path: Path) -> None:
    result = run_setup(tmp_path, held_updates=2)
    assert result.returncode == 0, result.stderr
    log = calls(tmp_path)
    updates = [c for c in log if c.endswith("update -qq")]
    assert len(updates) == 3 and [c for c in log if c.startswith("sleep")] == ["sleep 5", "sleep 5"]
    (install,) = [c for c in log if " install " in c]
    assert install.startswith("-o DPkg::Lock::Timeout=600 install") and install.endswith("prometheus chromium")
    assert all(c.startswith("-o DPkg::Lock::Timeout=600 ") for c in updates)
    # it says that it waits, once, and for how long at most
    assert "this waits up to 600 s for it" in result.stderr
    assert result.stderr.count("holds the package lists lock; waiting for it (up to 600 s)") == 1


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_setup_gives_up_when_the_lock_outlasts_the_wait(tmp_path: Path) -> None:
    result = run_setup(tmp_path, held_updates=1000, wait_seconds="0")
    assert result.returncode != 0
    assert "Could not get lock /var/lib/apt/lists/lock" in result.stderr
    assert not [c for c in calls(tmp_path) if " install " in c]


@pytest.mark.skipif(os.name != "posix", reason="a bash script")
def test_setup_passes_its_lock_wait_to_apt(tmp_path: Path) -> None:
    result = run_setup(tmp_path, held_updates=0, wait_seconds="42")
    assert result.returncode == 0, result.stderr
    assert all("-o DPkg::Lock::Timeout=42 " in c for c in calls(tmp_path))
    assert "waits up to 42 s" in result.stderr and "waiting for it" not in result.stderr
