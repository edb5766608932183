"""Building a configuration snapshot from raw inputs, with secrets redacted (pure).

A redacted value is replaced by ``<redacted:FINGERPRINT>``, where the fingerprint is a keyed
HMAC-SHA256 of the value: a comparison can tell that a secret changed without either value being
stored. The key comes from the host's settings.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

import yaml

from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.models import ConfigInput, ConfigSnapshot

REDACTED_RE = re.compile(r"^<redacted(:[0-9a-f]+)?>$")

_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private|credential|auth|session|dsn|"
    r"cert|signing|salt|cookie)",
    re.IGNORECASE,
)
_SECRET_VALUE = (
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE),  # URL with user:password
    re.compile(r"\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b"),  # AWS access key id
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----"),  # PEM
    re.compile(r"(password|pwd)\s*=\s*[^;\s]+", re.IGNORECASE),  # connection string
    re.compile(r"^[A-Za-z0-9/+]{40}$"),  # AWS secret access key shape
)

_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
DSQL_PLUGIN_PREFIXES = ("DSQL_", "TEMPORAL_SQL_")


def fingerprint(value: str, key: bytes) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def is_secret(name: str, value: str) -> bool:
    if _SECRET_NAME.search(name):
        return True
    return any(p.search(value) for p in _SECRET_VALUE)


def redact_environment(env: Mapping[str, str], key: bytes) -> dict[str, str]:
    return {
        name: f"<redacted:{fingerprint(value, key)}>" if is_secret(name, value) else value
        for name, value in sorted(env.items())
    }


def _typed(raw: str) -> Any:
    lowered = raw.strip().lower()
    if lowered in _BOOL:
        return _BOOL[lowered]
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def dsql_plugin_config(env: Mapping[str, str]) -> dict[str, Any]:
    """The DSQL plugin and SQL pool variables, parsed into typed values (durations stay strings)."""
    return {
        name: value if REDACTED_RE.match(value) else _typed(value)
        for name, value in sorted(env.items())
        if name.startswith(DSQL_PLUGIN_PREFIXES)
    }


def parse_dynamic_config(raw: Mapping[str, Any] | str) -> dict[str, Any]:
    """Temporal's dynamic config: key -> list of ``{value, constraints}``."""
    if isinstance(raw, str):
        try:
            loaded = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise InvalidRequest(f"config.dynamic_config is not valid YAML: {exc}") from exc
        if loaded is None:
            return {}
        if not isinstance(loaded, dict):
            raise InvalidRequest("config.dynamic_config must be a mapping of key -> list of {value, constraints}")
        raw = loaded
    out: dict[str, Any] = {}
    for name, entries in raw.items():
        if not isinstance(entries, list):
            entries = [{"value": entries}]
        normalised = []
        for entry in entries:
            if not isinstance(entry, dict) or "value" not in entry:
                raise InvalidRequest(
                    f"config.dynamic_config[{name!r}] entries must be mappings with a 'value' (and optional "
                    "'constraints')"
                )
            normalised.append({"value": entry["value"], "constraints": dict(entry.get("constraints") or {})})
        out[str(name)] = normalised
    return out


def build_snapshot(config: ConfigInput | None, key: bytes) -> ConfigSnapshot:
    """A snapshot of what the request supplied; parts nobody supplied stay ``None`` (not collected)."""
    snapshot = ConfigSnapshot()
    if config is None:
        return snapshot
    if config.dynamic_config is not None:
        snapshot.dynamic_config = parse_dynamic_config(config.dynamic_config)
        snapshot.sources["dynamic_config"] = "request"
    if config.environment is not None:
        env = redact_environment(config.environment, key)
        snapshot.environment = env
        snapshot.dsql_plugin = dsql_plugin_config(env)
        snapshot.sources["environment"] = "request"
        snapshot.sources["dsql_plugin"] = "request (environment)"
    if config.worker_options is not None:
        snapshot.worker_options = dict(config.worker_options)
        snapshot.sources["worker_options"] = "request"
    return snapshot
