"""Reading the monitored deployment's configuration files for profile snapshots (host-side I/O).

Configured with ``MONITORED_DYNAMIC_CONFIG_PATH`` (Temporal's dynamic config YAML),
``MONITORED_ENV_FILE`` (the server's environment as KEY=VALUE lines) and
``MONITORED_WORKER_OPTIONS_PATH`` (worker options as a JSON or YAML mapping). Files are read for every
profile, so a profile records the configuration in force when it was taken. A configured file that is
missing or malformed is the operator's problem, not the request's: it answers 503 naming the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from behaviour_profiles.errors import InvalidRequest, NotConfigured
from behaviour_profiles.snapshot import HostConfig, parse_dynamic_config, parse_env_file
from copilot.settings import Settings


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotConfigured(f"{what} {path} cannot be read ({exc.strerror}); fix or unset the setting") from exc


def read_host_config(
    dynamic_config: Path | None, env_file: Path | None, worker_options: Path | None
) -> HostConfig | None:
    if not (dynamic_config or env_file or worker_options):
        return None
    values: dict[str, Any] = {}
    if dynamic_config:
        text = _read(dynamic_config, "MONITORED_DYNAMIC_CONFIG_PATH")
        try:
            parse_dynamic_config(text, label="the file")
        except InvalidRequest as exc:
            raise NotConfigured(f"MONITORED_DYNAMIC_CONFIG_PATH {dynamic_config}: {exc.message}") from exc
        values["dynamic_config_text"] = text
        values["dynamic_config_source"] = f"file:{dynamic_config}"
    if env_file:
        try:
            values["environment"] = parse_env_file(_read(env_file, "MONITORED_ENV_FILE"))
        except InvalidRequest as exc:
            raise NotConfigured(f"MONITORED_ENV_FILE {env_file}: {exc.message}") from exc
        values["environment_source"] = f"file:{env_file}"
    if worker_options:
        try:
            loaded = yaml.safe_load(_read(worker_options, "MONITORED_WORKER_OPTIONS_PATH"))
        except yaml.YAMLError as exc:
            raise NotConfigured(f"MONITORED_WORKER_OPTIONS_PATH {worker_options} is not valid JSON or YAML") from exc
        if not isinstance(loaded, dict):
            raise NotConfigured(f"MONITORED_WORKER_OPTIONS_PATH {worker_options} must hold a mapping of options")
        values["worker_options"] = loaded
        values["worker_options_source"] = f"file:{worker_options}"
    return HostConfig(**values)


def host_config_reader(settings: Settings) -> Callable[[], HostConfig | None]:
    paths = (
        settings.monitored_dynamic_config_path,
        settings.monitored_env_file,
        settings.monitored_worker_options_path,
    )

    def read() -> HostConfig | None:
        return read_host_config(*paths)

    return read
