"""Building a configuration snapshot from raw inputs, with secrets redacted (pure).

A snapshot has four parts: Temporal's dynamic config, the server environment, worker options and
the DSQL plugin configuration (typed fields parsed from the environment). Each part comes from the
create request when it supplied that part, otherwise from what the host read for the monitored
deployment (:class:`HostConfig`, already read from files or the environment by the caller), and
otherwise it is ``None``: not collected, which is not the same as ``{}`` (collected and empty).
``ConfigSnapshot.sources`` says where each collected part came from.

A secret is recognised by its name (``DB_PASSWORD``, ``API_KEY``, ``AWS_SESSION_TOKEN``) or by its
value (a URL with ``user:password@``, an AWS access key id, a JWT, a PEM block, a connection string
with ``Password=...``, a provider token, a long random-looking string). It is replaced by
``<redacted:FINGERPRINT>``, where the fingerprint is a keyed HMAC-SHA256 of the value: a comparison
can tell that a secret changed without either value being stored. The key comes from the host's
settings. Error messages never quote input text, since that text may hold a secret.

Example::

    snapshot = build_snapshot(
        ConfigInput(environment={"TEMPORAL_SQL_PASSWORD": "hunter2", "DSQL_RESERVOIR_ENABLED": "true"}),
        key=b"k",
        host=HostConfig(dynamic_config_text=text, dynamic_config_source="file:/etc/temporal/dc.yaml"),
    )
    snapshot.environment["TEMPORAL_SQL_PASSWORD"]  # "<redacted:3b1f...>"
    snapshot.dsql_plugin["DSQL_RESERVOIR_ENABLED"]  # True
    snapshot.sources  # {"dynamic_config": "file:/etc/temporal/dc.yaml", "environment": "request", ...}
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

import yaml

from behaviour_profiles.envfile import parse_env_file as parse_env_file  # the host's files and the CLI read env files
from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.models import ConfigInput, ConfigSnapshot

REDACTED_RE = re.compile(r"^<redacted(:[0-9a-f]+)?>$")
"""A value that is already a redaction marker (kept as it is, never redacted twice)."""

REQUEST_SOURCE: Final = "request"
"""``ConfigSnapshot.sources`` value of a part the create request supplied."""

HOST_SOURCE: Final = "host"
"""``ConfigSnapshot.sources`` value of a host part whose :class:`HostConfig` gave no source string."""


@dataclass(frozen=True)
class HostConfig:
    """Configuration the host already read for the monitored deployment (no I/O happens here).

    Each ``*_source`` names where its part came from, e.g. ``"file:/etc/temporal/dynamicconfig.yaml"``
    or ``"env-file:/etc/temporal/server.env"``; it is recorded in ``ConfigSnapshot.sources``.
    A part left ``None`` was not read; an empty text or mapping was read and is empty.
    """

    dynamic_config_text: str | None = None
    dynamic_config_source: str | None = None
    environment: Mapping[str, str] | None = None
    environment_source: str | None = None
    worker_options: Mapping[str, Any] | None = None
    worker_options_source: str | None = None


# --- fingerprints --------------------------------------------------------------------------------


def fingerprint(value: str, key: bytes) -> str:
    """A keyed fingerprint of ``value``: equal values give equal prints under one key, and nothing else."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def redaction_marker(value: str, key: bytes) -> str:
    """``<redacted:FINGERPRINT>``, the only trace of a secret that is ever stored."""
    return f"<redacted:{fingerprint(value, key)}>"


# --- secrets by name -----------------------------------------------------------------------------

_HARMLESS_NAMES: Final = frozenset({"PWD", "OLDPWD"})
"""Names that look secret but are not (the shell's working directory); the known DSQL plugin
variables (``DSQL_TOKEN_BUCKET_RATE``) are never secret by name either."""

_STRONG_FRAGMENTS: Final = (
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "credential",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "webhook",
)
"""A name segment containing one of these names a secret (``DBPASSWORD``, ``accessToken``)."""

_STRONG_SEGMENTS: Final = frozenset({"pwd", "pass", "creds", "dsn", "salt", "signature", "bearer", "connstr", "pat"})
"""A name segment equal to one of these names a secret (``DB_PASS``, ``SENTRY_DSN``)."""

_WEAK_SEGMENTS: Final = frozenset(
    {"auth", "oauth", "session", "jwt", "private", "key", "keys", "cookie", "signing", "authorization"}
)
"""Secret only as the name's last segment or before a material segment: ``API_KEY``,
``SESSION_ID``, but not ``SESSION_TIMEOUT``, ``PRIVATE_SUBNETS`` or ``EnableSessionWorker``."""

_MATERIAL_SEGMENTS: Final = frozenset(
    {"id", "key", "token", "secret", "data", "value", "string", "pem", "der", "base", "material", "hash", "blob"}
)

_KEY_QUALIFIERS_HARMLESS: Final = frozenset(
    {
        "partition",
        "sort",
        "primary",
        "foreign",
        "routing",
        "idempotency",
        "dedup",
        "dedupe",
        "shard",
        "sharding",
        "cache",
        "lookup",
        "group",
        "public",
        "search",
        "index",
        "object",
        "row",
        "unique",
        "composite",
        "hot",
    }
)
"""``PARTITION_KEY``, ``PUBLIC_KEY``, ``CACHE_KEY``: a key that names data, not a credential."""

_META_SUFFIXES: Final = frozenset(
    {
        "enabled",
        "enable",
        "disabled",
        "disable",
        "required",
        "enforcement",
        "ttl",
        "timeout",
        "expiry",
        "expiration",
        "expires",
        "lifetime",
        "duration",
        "interval",
        "period",
        "deadline",
        "delay",
        "jitter",
        "window",
        "rate",
        "rps",
        "qps",
        "capacity",
        "burst",
        "limit",
        "limits",
        "size",
        "count",
        "max",
        "min",
        "length",
        "len",
        "retries",
        "attempts",
        "threshold",
        "ratio",
        "percent",
        "concurrency",
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "directory",
        "location",
        "table",
        "prefix",
        "suffix",
        "type",
        "kind",
        "mode",
        "name",
        "names",
        "format",
        "version",
        "algorithm",
        "alg",
        "level",
        "strategy",
        "method",
        "provider",
        "issuer",
        "audience",
        "scope",
        "scopes",
        "region",
        "arn",
        "ref",
        "header",
        "mapper",
        "authorizer",
        "refresh",
        "rotation",
        "url",
        "uri",
        "endpoint",
        "host",
        "hostname",
        "port",
    }
)
"""A name ending in one of these describes a secret's handling (``TOKEN_TTL``, ``PASSWORD_FILE``,
``DSQL_TOKEN_BUCKET_RATE``), not the secret; its value is still checked by shape."""

_LOCATION_SUFFIXES: Final = frozenset({"url", "uri", "endpoint"})


def _segments(name: str) -> list[str]:
    """``matching.numTaskqueueReadPartitions`` -> ``["matching", "num", "taskqueue", "read", "partitions"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [s for s in re.split(r"[^a-z]+", spaced.lower()) if s]


def _strong(segments: list[str], i: int) -> bool:
    seg = segments[i]
    if seg in _STRONG_SEGMENTS:
        return True
    if not any(f in seg for f in _STRONG_FRAGMENTS):
        return False
    # a token bucket is a rate limiter, not a token
    return not (seg == "token" and i + 1 < len(segments) and segments[i + 1] == "bucket")


def _weak(segments: list[str], i: int) -> bool:
    seg = segments[i]
    if seg not in _WEAK_SEGMENTS:
        return False
    if seg in ("key", "keys") and i > 0 and segments[i - 1] in _KEY_QUALIFIERS_HARMLESS:
        return False
    return i == len(segments) - 1 or segments[i + 1] in _MATERIAL_SEGMENTS


_FLAG_WORDS: Final = frozenset({"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "iam"})
"""Values that are switches, not secrets: kept under a weakly secret name such as ``DSQL_IAM_AUTH``."""


def _name_strength(name: str) -> int:
    """0: not a secret name; 1: weakly secret (``..._AUTH``, ``..._KEY``, ``SESSION``); 2: secret."""
    if name in _HARMLESS_NAMES or name in DSQL_PLUGIN_FIELDS:
        return 0
    segments = _segments(name)
    if not segments:
        return 0
    last = segments[-1]
    if "webhook" in segments[:-1] and last in _LOCATION_SUFFIXES:
        return 2
    if last in _META_SUFFIXES:
        return 0
    if any(_strong(segments, i) for i in range(len(segments))):
        return 2
    return 1 if any(_weak(segments, i) for i in range(len(segments))) else 0


def is_secret_name(name: str) -> bool:
    """Whether a variable or option called ``name`` holds a secret, judged by the name alone.

    >>> [is_secret_name(n) for n in ("TEMPORAL_SQL_PASSWORD", "AWS_SESSION_TOKEN", "DSQL_TOKEN_BUCKET_RATE")]
    [True, True, False]
    """
    return _name_strength(name) > 0


def _secret_by_name(name: str, value: str) -> bool:
    strength = _name_strength(name)
    return strength == 2 or (strength == 1 and value.strip().lower() not in _FLAG_WORDS)


# --- secrets by value ----------------------------------------------------------------------------

_SECRET_VALUE_PATTERNS: Final = (
    # (quantifiers are bounded so a long value cannot make a search quadratic)
    # URL with user:password (a port followed by a path is not a password)
    re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/@:]{0,256}:(?!\d+(?:/|$))[^\s@]{1,256}@"),
    # scheme-less DSN such as user:pass@tcp(host:3306)/db (an image digest is not one)
    re.compile(r"(?:^|[\s,;=(\[\"'])(?!mailto:)[^\s:/@,;=()\[\]\"']{1,256}:(?!//)[^\s@]{1,256}@(?!sha\d+:)[\w.(\[-]"),
    # AWS access key ids
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AIDA|AROA|AGPA|AIPA|ANPA|ANVA|ABIA|ACCA|APKA)[A-Z0-9]{16}(?![A-Z0-9])"),
    # JWT (an unsigned one has an empty signature)
    re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,8192}\.eyJ[A-Za-z0-9_-]{5,8192}\."),
    re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{8}"),
    # PEM block of any kind: private keys, certificates, PGP blocks
    re.compile(r"-----BEGIN [A-Z0-9 ]+-----"),
    # credentials assigned inside a connection string, query string or command line
    re.compile(
        r"(?<![A-Za-z0-9:])(?:password|passwd|pwd|pass|passphrase|secret|client[_-]?secret|token|access[_-]?token|"
        r"refresh[_-]?token|auth[_-]?token|auth|api[_-]?key|access[_-]?key|secret[_-]?key|account[_-]?key|"
        r"shared[_-]?access[_-]?key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
        r"credentials?)[\"']?\s*[=:]\s*[\"']?(?![\s;&,]|(?:true|false|null|none)(?![^\s;&,]))[^\s;&,]+",
        re.IGNORECASE,
    ),
    # provider tokens: GitHub, GitLab, Slack, Stripe, Google, OpenAI-style, npm, SendGrid, Vault
    re.compile(r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"glpat-[A-Za-z0-9_-]{16,}"),
    re.compile(r"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?<![A-Za-z0-9])xapp-\d-[A-Za-z0-9-]{10,}"),
    re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/"),
    re.compile(r"discord(?:app)?\.com/api/webhooks/"),
    re.compile(r"(?<![A-Za-z0-9])(?:sk|rk|pk|whsec)_(?:live|test)_[A-Za-z0-9]{10,}"),
    re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{30,}"),
    re.compile(r"(?<![A-Za-z0-9])sk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{30,}"),
    re.compile(r"(?<![A-Za-z0-9])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    re.compile(r"(?<![A-Za-z0-9])hv[sbr]\.[A-Za-z0-9_-]{20,}"),
)

_AUTH_SCHEME = re.compile(r"(?i)\b(?:bearer|basic|digest|token)\s+([A-Za-z0-9._~+/=-]{12,})")
_RANDOM_RUN = re.compile(r"[A-Za-z0-9+/=_-]{20,}")
_AWS_SECRET_SHAPE = re.compile(r"(?<![A-Za-z0-9/+=_-])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=_-])")
_WORDLIKE = re.compile(r"[A-Z]?[a-z]{3,}")


def _classes(text: str) -> tuple[int, int, int]:
    upper = sum(c.isupper() for c in text)
    lower = sum(c.islower() for c in text)
    digit = sum(c.isdigit() for c in text)
    return upper, lower, digit


def _wordiness(run: str) -> float:
    """Share of ``run`` in word-like stretches (``Order``, ``config``): high for names, low for random keys."""
    return sum(len(w) for w in _WORDLIKE.findall(run)) / len(run)


def _looks_random(run: str, *, at_most_wordy: float = 0.5) -> bool:
    """Mixed case with digits (or base64 symbols) and few word-like stretches: ``x7Qp2LmZ...``, unlike
    ``OrderWorkflowV2TaskQueue`` or ``eu-west-1/MyApp/Prod``."""
    upper, lower, digit = _classes(run)
    if not (upper and lower and (digit or "+" in run or "/" in run)):
        return False
    return _wordiness(run) < at_most_wordy


def is_secret_value(value: str) -> bool:
    """Whether ``value`` looks like a secret whatever it is called.

    >>> is_secret_value("postgres://temporal:s3cret@db:5432/temporal"), is_secret_value("postgres://db:5432/t")
    (True, False)
    """
    if any(p.search(value) for p in _SECRET_VALUE_PATTERNS):
        return True
    for match in _AUTH_SCHEME.finditer(value):
        credential = match.group(1)
        upper, lower, digit = _classes(credential)
        if digit or (upper and lower) or any(c in "+/=" for c in credential):
            return True
    # exactly 40 base64 characters is the shape of an AWS secret access key: a looser test
    for match in _AWS_SECRET_SHAPE.finditer(value):
        if min(_classes(match.group(0))) >= 1 and _looks_random(match.group(0), at_most_wordy=0.6):
            return True
    return any(_looks_random(run) for run in _RANDOM_RUN.findall(value))


def is_secret(name: str, value: str) -> bool:
    """Whether the value of ``name`` must be redacted, by its name or by its value."""
    return _secret_by_name(name, value) or is_secret_value(value)


# --- redaction -----------------------------------------------------------------------------------


def redact_value(name: str, value: Any, key: bytes) -> Any:
    """``value`` with every secret leaf replaced by its marker, recursively through mappings and lists.

    A leaf is secret when its own name or an enclosing one is secret (``{"tls": {"key": ...}}``,
    ``{"credentials": {...}}``), or when a string looks secret. Booleans and nulls carry no secret.
    """
    return _redact_tree(name, value, key, 0)


def _redact_tree(name: str, value: Any, key: bytes, inherited: int) -> Any:
    strength = max(inherited, _name_strength(name))
    if isinstance(value, Mapping):
        return {str(k): _redact_tree(str(k), v, key, strength) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_tree(name, v, key, strength) for v in value]
    if value is None or isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else str(value)
    if isinstance(value, str) and REDACTED_RE.match(value):
        return value
    by_name = strength == 2 or (strength == 1 and text.strip().lower() not in _FLAG_WORDS)
    if isinstance(value, int | float):
        return redaction_marker(text, key) if by_name else value
    return redaction_marker(text, key) if by_name or is_secret_value(text) else value


def redact_environment(env: Mapping[str, str], key: bytes) -> dict[str, str]:
    """The environment sorted by name, with secret values replaced by their markers."""
    out: dict[str, str] = {}
    for name, value in sorted(env.items()):
        text = str(value)
        out[str(name)] = text if REDACTED_RE.match(text) or not is_secret(name, text) else redaction_marker(text, key)
    return out


# --- DSQL plugin configuration --------------------------------------------------------------------

DSQL_PLUGIN_PREFIXES: Final = ("DSQL_", "TEMPORAL_SQL_")

FieldKind = Literal["bool", "int", "number", "duration", "string"]

DSQL_PLUGIN_FIELDS: Final[Mapping[str, FieldKind]] = {
    "DSQL_RESERVOIR_ENABLED": "bool",
    "DSQL_RESERVOIR_TARGET_READY": "int",
    "DSQL_RESERVOIR_BASE_LIFETIME": "duration",
    "DSQL_RESERVOIR_LIFETIME_JITTER": "duration",
    "DSQL_RESERVOIR_GUARD_WINDOW": "duration",
    "DSQL_RESERVOIR_INFLIGHT_LIMIT": "int",
    "DSQL_CONNECTION_RATE_LIMIT": "number",
    "DSQL_CONNECTION_BURST_LIMIT": "int",
    "DSQL_DISTRIBUTED_RATE_LIMITER_ENABLED": "bool",
    "DSQL_DISTRIBUTED_RATE_LIMITER_TABLE": "string",
    "DSQL_DISTRIBUTED_CONN_LEASE_ENABLED": "bool",
    "DSQL_TOKEN_BUCKET_ENABLED": "bool",
    "DSQL_TOKEN_BUCKET_RATE": "number",
    "DSQL_TOKEN_BUCKET_CAPACITY": "int",
    "DSQL_SLOT_BLOCK_SIZE": "int",
    "DSQL_SLOT_BLOCK_COUNT": "int",
    "DSQL_STAGGERED_STARTUP": "bool",
    "DSQL_STAGGERED_STARTUP_MAX_DELAY": "duration",
    "TEMPORAL_SQL_MAX_CONNS": "int",
    "TEMPORAL_SQL_MAX_IDLE_CONNS": "int",
    "TEMPORAL_SQL_MAX_CONN_LIFETIME": "duration",
    "TEMPORAL_SQL_CONNECTION_TIMEOUT": "duration",
    "TEMPORAL_SQL_HOST": "string",
}
"""The known variables of the DSQL plugin and SQL pool (metrics-reference.md) and their types."""

_TRUE: Final = frozenset({"true", "t", "1", "yes", "y", "on"})
_FALSE: Final = frozenset({"false", "f", "0", "no", "n", "off"})

_NANOS: Final = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_RE = re.compile(r"^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_duration(raw: str) -> int | None:
    """Nanoseconds of a Go duration such as ``55m``, ``1h30m`` or ``1.5s``; None when it is not one.

    Bare ``0`` is zero, as in Go; any other number needs a unit. Negative durations are refused.
    """
    text = raw.strip()
    if text in ("0", "+0"):
        return 0
    text = text.removeprefix("+")
    if not _DURATION_RE.match(text):
        return None
    try:
        total = sum(Decimal(number) * _NANOS[unit] for number, unit in _DURATION_PART.findall(text))
    except InvalidOperation:
        return None
    return int(total)


def format_duration(nanos: int) -> str:
    """The canonical text of a duration: ``3600s`` -> ``1h``, ``90m`` -> ``1h30m``, ``1500ms`` -> ``1.5s``."""
    if nanos == 0:
        return "0s"
    hours, rest = divmod(nanos, _NANOS["h"])
    minutes, rest = divmod(rest, _NANOS["m"])
    out = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    if rest == 0:
        return out
    if out or rest >= _NANOS["s"]:
        return out + _decimal_text(Decimal(rest) / _NANOS["s"]) + "s"
    for unit in ("ms", "us"):
        if rest >= _NANOS[unit]:
            return _decimal_text(Decimal(rest) / _NANOS[unit]) + unit
    return f"{rest}ns"


def _typed_field(kind: FieldKind, raw: str) -> Any:
    """The value of one known variable as its type, or the raw text when it does not parse."""
    text = raw.strip()
    if kind == "bool":
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else raw
    if kind == "int":
        return int(text) if re.fullmatch(r"\+?\d+", text) else raw
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return raw
        if not math.isfinite(number) or number < 0:
            return raw
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "duration":
        nanos = parse_duration(text)
        return raw if nanos is None else format_duration(nanos)
    return raw


def dsql_plugin_config(env: Mapping[str, str]) -> dict[str, Any]:
    """The DSQL plugin and SQL pool variables of a (redacted) environment, as typed fields.

    Known variables become bools, ints, numbers (rate limits) or canonical duration strings; a value
    that does not parse as its type is kept as its raw text so a diff still shows it. Unknown
    ``DSQL_*`` and ``TEMPORAL_SQL_*`` variables are kept as strings, and a redacted value stays redacted.
    """
    out: dict[str, Any] = {}
    for name, value in sorted(env.items()):
        if not name.startswith(DSQL_PLUGIN_PREFIXES):
            continue
        kind = DSQL_PLUGIN_FIELDS.get(name, "string")
        out[name] = value if REDACTED_RE.match(value) else _typed_field(kind, value)
    return out


# --- dynamic config ------------------------------------------------------------------------------


def _yaml_error(label: str, exc: yaml.YAMLError) -> InvalidRequest:
    # never str(exc): PyYAML quotes the offending line, which may hold a secret
    where = ""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        where = f" at line {mark.line + 1}, column {mark.column + 1}"
    problem = getattr(exc, "problem", None) or "malformed YAML"
    return InvalidRequest(f"{label} is not valid YAML{where}: {problem}")


MAX_CONFIG_DEPTH = 64
MAX_CONFIG_VALUES = 100_000


def check_shape(value: Any, label: str) -> None:
    """Refuse configuration no deployment has: deeper than ``MAX_CONFIG_DEPTH``, more than
    ``MAX_CONFIG_VALUES`` values once YAML aliases are expanded (an alias bomb, or a cycle), or binary.

    Iterative, and stops at the first excess, so a hostile document costs little to refuse.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if seen > MAX_CONFIG_VALUES:
            raise InvalidRequest(
                f"{label} holds more than {MAX_CONFIG_VALUES} values (counting each use of a YAML alias); "
                "send the configuration itself, without repeated aliases"
            )
        if depth > MAX_CONFIG_DEPTH:
            raise InvalidRequest(
                f"{label} is nested more than {MAX_CONFIG_DEPTH} levels deep (or a YAML alias refers to itself)"
            )
        if isinstance(item, (bytes, bytearray)):
            raise InvalidRequest(f"{label} holds a binary (!!binary) value; give it as text")
        if isinstance(item, Mapping):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend((child, depth + 1) for child in item)


DYNAMIC_CONFIG_ENTRY_KEYS: Final = frozenset({"value", "constraints"})


def parse_dynamic_config(raw: Mapping[str, Any] | str, *, label: str = "config.dynamic_config") -> dict[str, Any]:
    """Temporal's dynamic config: key -> list of ``{value, constraints}``, the shape Temporal reads.

    ``raw`` is YAML text or a mapping. Anything else is refused, never guessed: a key whose entries are
    not a list (``{"value": 5}``, a bare ``5``), an entry without ``value`` or with keys other than
    ``value`` and ``constraints`` (a misspelt ``constraints`` would otherwise widen the value to every
    namespace). ``label`` names the input in error messages, which never quote its values.
    """
    if isinstance(raw, str):
        try:
            loaded = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise _yaml_error(label, exc) from None
        except (ValueError, OverflowError):  # a scalar YAML resolves but cannot build, e.g. 2023-02-30
            raise InvalidRequest(
                f"{label} is not valid YAML: a value cannot be read (a date that does not exist?); quote it as text"
            ) from None
        except RecursionError:
            raise InvalidRequest(f"{label} is nested more than {MAX_CONFIG_DEPTH} levels deep") from None
        if loaded is None:
            return {}
        if not isinstance(loaded, dict):
            raise InvalidRequest(f"{label} must be a mapping of key -> list of {{value, constraints}}")
        raw = loaded
    check_shape(raw, label)
    out: dict[str, Any] = {}
    for name, entries in raw.items():
        where = f"{label}[{str(name)[:100]!r}]"
        if not isinstance(entries, list):
            raise InvalidRequest(
                f'{where} must be a list of {{value, constraints}} entries, e.g. [{{"value": 5}}] '
                "(in YAML: '- value: 5'), even for one value"
            )
        normalised = []
        for entry in entries:
            if not isinstance(entry, dict) or "value" not in entry:
                raise InvalidRequest(f"{where} entries must be mappings with a 'value' (and optional 'constraints')")
            unknown = sorted(str(k)[:40] for k in entry if k not in DYNAMIC_CONFIG_ENTRY_KEYS)
            if unknown:
                raise InvalidRequest(
                    f"{where} entries take only 'value' and 'constraints'; remove or rename {', '.join(unknown[:3])}"
                )
            constraints = entry.get("constraints") or {}
            if not isinstance(constraints, dict):
                raise InvalidRequest(f"{where} constraints must be a mapping, e.g. {{namespace: x}}")
            normalised.append({"value": entry["value"], "constraints": {str(k): v for k, v in constraints.items()}})
        out[str(name)] = normalised
    return out


def redact_dynamic_config(parsed: Mapping[str, Any], key: bytes) -> dict[str, Any]:
    """Parsed dynamic config with secret values and constraints redacted (by key name and by shape)."""
    return {
        name: [
            {
                "value": redact_value(name, entry["value"], key),
                "constraints": redact_value("constraints", entry["constraints"], key),
            }
            for entry in entries
        ]
        for name, entries in sorted(parsed.items())
    }


# --- the snapshot --------------------------------------------------------------------------------


def _host_source(source: str | None) -> str:
    return source or HOST_SOURCE


def build_snapshot(config: ConfigInput | None, key: bytes, host: HostConfig | None = None) -> ConfigSnapshot:
    """The configuration snapshot of a profile, every secret redacted.

    Each part comes from the request when it supplied that part, else from ``host``, else it stays
    ``None`` (not collected); ``sources`` records ``"request"`` or the host's source string. The DSQL
    plugin part is parsed from whichever environment was taken, and shares its source.
    """
    config = config or ConfigInput()
    host = host or HostConfig()
    snapshot = ConfigSnapshot()

    if config.dynamic_config is not None:
        parsed = parse_dynamic_config(config.dynamic_config)
        snapshot.dynamic_config = redact_dynamic_config(parsed, key)
        snapshot.sources["dynamic_config"] = REQUEST_SOURCE
    elif host.dynamic_config_text is not None:
        source = _host_source(host.dynamic_config_source)
        parsed = parse_dynamic_config(host.dynamic_config_text, label=f"the dynamic config from {source}")
        snapshot.dynamic_config = redact_dynamic_config(parsed, key)
        snapshot.sources["dynamic_config"] = source

    env_source: str | None = None
    env: Mapping[str, str] | None = None
    if config.environment is not None:
        env, env_source = config.environment, REQUEST_SOURCE
    elif host.environment is not None:
        env, env_source = host.environment, _host_source(host.environment_source)
    if env is not None and env_source is not None:
        redacted = redact_environment(env, key)
        snapshot.environment = redacted
        snapshot.dsql_plugin = dsql_plugin_config(redacted)
        snapshot.sources["environment"] = env_source
        snapshot.sources["dsql_plugin"] = env_source

    if config.worker_options is not None:
        check_shape(config.worker_options, "config.worker_options")
        snapshot.worker_options = redact_value("worker_options", config.worker_options, key)
        snapshot.sources["worker_options"] = REQUEST_SOURCE
    elif host.worker_options is not None:
        snapshot.worker_options = redact_value("worker_options", host.worker_options, key)
        snapshot.sources["worker_options"] = _host_source(host.worker_options_source)

    return snapshot
