"""Configuration snapshots: the redaction corpus, sources, typed DSQL fields and env files."""

from __future__ import annotations

import base64
import json
import random
import string
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from behaviour_profiles.comparison import config_diffs
from behaviour_profiles.errors import InvalidRequest
from behaviour_profiles.models import ChangeKind, ConfigInput, ConfigSnapshot
from behaviour_profiles.snapshot import (
    REDACTED_RE,
    HostConfig,
    build_snapshot,
    dsql_plugin_config,
    fingerprint,
    format_duration,
    is_secret,
    is_secret_name,
    is_secret_value,
    parse_duration,
    parse_dynamic_config,
    parse_env_file,
)

KEY = b"test-redaction-key"
OTHER_KEY = b"another-redaction-key"

# --- fake secret material (generated, so no token-shaped literal sits in the repository) -----------

_ALNUM = string.ascii_letters + string.digits
_UPPER_DIGITS = string.ascii_uppercase + string.digits
_B64 = _ALNUM + "+/"


def fake(alphabet: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def pem(kind: str, seed: int) -> str:
    body = "\n".join(fake(_B64, 64, seed + i) for i in range(4))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


JWT = ".".join(
    (b64url({"alg": "HS256", "typ": "JWT"}), b64url({"sub": "worker", "iat": 1760000000}), fake(_ALNUM, 43, 7))
)
AWS_SECRET = fake(_B64, 40, 1)
AWS_ID = "AKIA" + fake(_UPPER_DIGITS, 16, 2)
STS_ID = "ASIA" + fake(_UPPER_DIGITS, 16, 3)
DSQL_TOKEN = (
    "abcdefghij1234567890.dsql.us-east-1.on.aws/?Action=DbConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={STS_ID}%2F20260218%2Fus-east-1%2Fdsql%2Faws4_request&X-Amz-Date=20260218T100000Z"
    f"&X-Amz-Expires=900&X-Amz-Security-Token={fake(_ALNUM, 60, 4)}&X-Amz-Signature={fake('0123456789abcdef', 64, 5)}"
)

SECRETS: list[tuple[str, str]] = [
    # --- secret by name: the value alone looks ordinary ---
    ("TEMPORAL_SQL_PASSWORD", "correct-horse-battery-staple"),
    ("DB_PASS", "Summer2026!xq"),
    ("POSTGRES_PASSWORD", "pg-local-only-99"),
    ("REDIS_AUTH", "redis-auth-value-42"),
    ("API_KEY", "a1b2c3d4e5f60718"),
    ("apiKey", "k3y-for-the-api-q9"),
    ("STRIPE_SECRET", "not-really-stripe-123"),
    ("AWS_SECRET_ACCESS_KEY", AWS_SECRET),
    ("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjE" + fake(_B64, 120, 6)),
    ("GITHUB_TOKEN", "ghp_" + fake(_ALNUM, 36, 8)),
    ("SLACK_BOT_TOKEN", "xoxb-1234567890-" + fake(_ALNUM, 24, 9)),
    ("SESSION_SECRET", "keyboard-cat-session"),
    ("SESSION_ID", "sess-8f14e45fceea167a"),
    ("COOKIE_SECRET", "cookie-signing-material"),
    ("JWT_SIGNING_KEY", "jwt-hs256-signing-material"),
    ("PRIVATE_KEY", "MIIEvgIBADANBgkqhkiG9w0BAQEFAASC" + fake(_B64, 200, 10)),
    ("TLS_KEY", pem("PRIVATE KEY", 11)),
    ("SENTRY_DSN", "https://0123456789abcdef0123456789abcdef@o123456.ingest.example.io/4504"),
    ("CREDENTIALS", '{"user": "svc-temporal", "pw": "creds-blob-7781"}'),
    ("client_secret", "oauth-client-secret-0042"),
    ("ENCRYPTION_KEY", "32-bytes-of-not-very-random-data"),
    ("ACCESS_KEY_ID", AWS_ID),
    ("passphrase", "open sesame please"),
    ("DSQL_AUTH_TOKEN", DSQL_TOKEN),
    ("TEMPORAL_TLS_CLIENT_KEY_DATA", base64.b64encode(pem("EC PRIVATE KEY", 12).encode()).decode()),
    ("ALERT_WEBHOOK_URL", "https://hooks.slack.com/services/T0000/B0000/" + fake(_ALNUM, 24, 13)),
    ("NPM_AUTH_TOKEN", "npm_" + fake(_ALNUM, 36, 14)),
    ("OAUTH_REFRESH_TOKEN", "1//0g" + fake(_ALNUM, 40, 15)),
    ("BASIC_AUTH", "admin:admin-pass-77"),
    ("DB_PWD", "plainpwd2026"),
    # --- secret by value: the name says nothing ---
    ("DATABASE_URL", "postgres://temporal:pgS3cretValue@db.internal:5432/temporal"),
    ("MYSQL_URL", "mysql://root:r00tPassw0rd@mysql:3306/temporal"),
    ("CACHE_URL", "redis://:redisPassw0rd99@cache.internal:6379/0"),
    ("BROKER", "amqp://guest:guestPass123@rabbit:5672/"),
    ("MONGO_URI", "mongodb+srv://app:m0ng0Pass88@cluster0.example.net/db"),
    ("GO_MYSQL", "temporal:goDsnPass55@tcp(mysql:3306)/temporal?parseTime=true"),
    ("CONNECTION", "Server=db;Database=temporal;User Id=sa;Password=SqlServerPass1;"),
    ("PG_CONNINFO", "host=db port=5432 user=temporal password=libpqPass77 dbname=temporal"),
    (
        "AZURE_STORAGE",
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={fake(_B64, 86, 16)}==;EndpointSuffix=example.net",
    ),
    ("EXTRA_HEADER", "Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    ("HTTP_HEADER_VALUE", "Basic " + base64.b64encode(b"temporal:hunter2-but-longer").decode()),
    ("NOTE", JWT),
    ("CA_BUNDLE", pem("CERTIFICATE", 17)),
    ("SSH_MATERIAL", pem("OPENSSH PRIVATE KEY", 18)),
    ("GPG", pem("PGP PRIVATE KEY BLOCK", 19)),
    ("AWS_ID", AWS_ID),
    ("STS_ID", STS_ID),
    ("AWS_SECOND_VALUE", AWS_SECRET),
    ("GH", "github_pat_" + fake(_ALNUM + "_", 60, 20)),
    ("GITLAB", "glpat-" + fake(_ALNUM, 20, 21)),
    ("SLACK", "xoxp-" + fake(string.digits, 12, 22) + "-" + fake(_ALNUM, 32, 23)),
    ("STRIPE", "sk_live_" + fake(_ALNUM, 24, 24)),
    ("GOOGLE", "AIza" + fake(_ALNUM + "_-", 35, 25)),
    ("MODEL_PROVIDER", "sk-proj-" + fake(_ALNUM, 40, 26)),
    ("SENDGRID", "SG." + fake(_ALNUM, 22, 27) + "." + fake(_ALNUM, 43, 28)),
    ("VAULT", "hvs." + fake(_ALNUM, 24, 29)),
    ("CLI_ARGS", "--db-user temporal --password=cliPass12345"),
    (
        "PRESIGNED",
        f"https://bucket.s3.amazonaws.com/obj?X-Amz-Credential={AWS_ID}%2F20260218&X-Amz-Signature=abcdef0123456789",
    ),
    ("SAS_URL", "https://acct.blob.core.windows.net/c?sv=2022-11-02&sig=AbCdEf0123456789%2Bxyz"),
    ("RANDOM_BLOB", fake(_ALNUM, 32, 30)),
    ("CHAT_HOOK", "https://discord.com/api/webhooks/123456/" + fake(_ALNUM, 30, 31)),
    ("HTTPS_PROXY", "http://proxyuser:pr0xyPass@proxy.corp:3128"),
    ("GIT_REMOTE", f"https://x-access-token:ghs_{fake(_ALNUM, 36, 32)}@github.com/org/repo.git"),
    ("DOCKER_AUTH_CONFIG", '{"auths": {"registry.example": {"auth": "' + fake(_B64, 28, 33) + '"}}}'),
]

HARMLESS: list[tuple[str, str]] = [
    # the DSQL plugin and SQL pool variables, with ordinary values
    ("DSQL_RESERVOIR_ENABLED", "true"),
    ("DSQL_RESERVOIR_TARGET_READY", "50"),
    ("DSQL_RESERVOIR_BASE_LIFETIME", "55m"),
    ("DSQL_RESERVOIR_LIFETIME_JITTER", "2m"),
    ("DSQL_RESERVOIR_GUARD_WINDOW", "45s"),
    ("DSQL_RESERVOIR_INFLIGHT_LIMIT", "8"),
    ("DSQL_CONNECTION_RATE_LIMIT", "100"),
    ("DSQL_CONNECTION_BURST_LIMIT", "200"),
    ("DSQL_DISTRIBUTED_RATE_LIMITER_ENABLED", "false"),
    ("DSQL_DISTRIBUTED_RATE_LIMITER_TABLE", "temporal_rate_limiter"),
    ("DSQL_DISTRIBUTED_CONN_LEASE_ENABLED", "true"),
    ("DSQL_TOKEN_BUCKET_ENABLED", "true"),
    ("DSQL_TOKEN_BUCKET_RATE", "250.5"),
    ("DSQL_TOKEN_BUCKET_CAPACITY", "1000"),
    ("DSQL_SLOT_BLOCK_SIZE", "16"),
    ("DSQL_SLOT_BLOCK_COUNT", "4"),
    ("DSQL_STAGGERED_STARTUP", "true"),
    ("DSQL_STAGGERED_STARTUP_MAX_DELAY", "30s"),
    ("TEMPORAL_SQL_MAX_CONNS", "20"),
    ("TEMPORAL_SQL_MAX_IDLE_CONNS", "10"),
    ("TEMPORAL_SQL_MAX_CONN_LIFETIME", "1h"),
    ("TEMPORAL_SQL_CONNECTION_TIMEOUT", "10s"),
    ("TEMPORAL_SQL_HOST", "abcdefghij1234567890.dsql.us-east-1.on.aws"),
    # names with secret-ish words that are not secrets
    ("CASSANDRA_KEYSPACE", "temporal"),
    ("KEYSPACE", "temporal_visibility"),
    ("CHAOS_MONKEY", "disabled"),
    ("PWD", "/home/temporal"),
    ("SESSION_TIMEOUT", "30m"),
    ("TEMPORAL_AUTH_ENABLED", "false"),
    ("TEMPORAL_AUTH_AUTHORIZER", "default"),
    ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"),
    ("PARTITION_KEY", "namespace_id"),
    ("TOKEN_TTL", "15m"),
    ("PASSWORD_MIN_LENGTH", "12"),
    ("SQL_PASSWORD_FILE", "/run/secrets/sql-password"),
    ("API_KEY_HEADER", "x-api-key"),
    ("OAUTH_TOKEN_URL", "https://auth.example.com/oauth2/token"),
    ("DB_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/temporal-db-AbCdEf"),
    ("PRIVATE_SUBNET_IDS", "subnet-0a1b2c3d,subnet-4e5f6a7b"),
    ("EnableSessionWorker", "true"),
    ("MaxConcurrentSessionExecutionSize", "100"),
    ("frontend.enableTokenNamespaceEnforcement", "true"),
    ("matching.numTaskqueueReadPartitions", "4"),
    ("history.persistenceMaxQPS", "3000"),
    ("system.enableActivityEagerExecution", "true"),
    # values with secret-ish shapes that are not secrets
    ("DB_URL", "postgres://temporal@db.internal:5432/temporal?sslmode=verify-full"),
    ("REDIS_URL", "redis://cache.internal:6379/0"),
    ("PROMETHEUS_URL", "http://prometheus.monitoring.svc:9090/api/v1/query"),
    ("SEARCH_URL", "https://example.com:8443/search?q=me@example.com&page=2"),
    ("UPSTREAM", "git@github.com:example/temporal-dsql.git"),
    ("ONCALL", "oncall@example.com"),
    ("IMAGE", "temporalio/server:1.26.2@sha256:" + fake("0123456789abcdef", 64, 40)),
    ("BASE_IMAGE", "golang:1.23@sha256:" + fake("0123456789abcdef", 64, 41)),
    ("TEMPORAL_VERSION", "1.27.0-dsql.3"),
    ("WORKER_BUILD_ID", fake("0123456789abcdef", 40, 42)),
    ("REQUEST_ID", "3f2b8c1e-0d4a-4a57-9a43-1c9e2f7b6d10"),
    ("TRACE_ID", "4bf92f3577b34da6a3ce929d0e0e4736"),
    ("POD_NAME", "temporal-history-7d9f8b6c5-x2k4p"),
    ("TASK_QUEUE", "OrderWorkflowV2TaskQueue"),
    ("WORKFLOW_TYPE", "KubernetesV1Beta1PodSpecSync"),
    ("ROLE_ARN", "arn:aws:iam::123456789012:role/temporal-worker"),
    ("DYNAMIC_CONFIG_FILE", "/etc/temporal/config/dynamicconfig/development-sql.yaml"),
    ("CONFIG_DIR", "/opt/Temporal/config/Dev2/dynamicconfig"),
    ("LOG_LEVEL", "info"),
    ("GOMAXPROCS", "4"),
    ("TEMPORAL_FRONTEND_ADDRESS", "temporal-frontend.temporal.svc.cluster.local:7233"),
    ("LISTEN", "[2001:db8::1]:7233"),
    ("SHORT_ID", "dGVzdA=="),
    ("AKIA_PREFIX_NOTE", "AKIA marks a long-term key id"),
    ("CRON", "0 */5 * * *"),
    ("JAVA_OPTS", "-Xmx2g -XX:+UseG1GC -Dfile.encoding=UTF-8"),
    ("NUM_HISTORY_SHARDS", "512"),
    ("S3_PREFIX", "s3://behaviour-profiles/profiles/2026/02/18/"),
    ("MESSAGE", "Basic authentication is disabled; use mTLS"),
    ("COMMENT", "token bucket refills at 100/s"),
    ("INSTALL_DIR", "C:\\Program Files\\Temporal\\bin"),
    ("AVAILABILITY_ZONES", "us-east-1a,us-east-1b,us-east-1c"),
    ("HOSTNAME", "ip-10-0-1-23.ec2.internal"),
    ("INSTANCE_ID", "i-0abc123def4567890"),
    ("CHECKSUM", "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    ("ARTIFACT", "temporal-dsql-plugin_0.4.0_linux_amd64.tar.gz"),
    ("RUN_AS", "temporal:temporal"),
    ("EMPTY", ""),
]


def substrings(value: str, size: int = 8) -> set[str]:
    return {value[i : i + size] for i in range(len(value) - size + 1)} if len(value) >= size else {value}


def snapshot_everywhere(name: str, value: str, key: bytes = KEY, *, dynamic_as_yaml: bool = False) -> ConfigSnapshot:
    """One secret placed in every part: environment, worker options (nested), dynamic config (as a mapping
    from the request, or as YAML text from the host)."""
    dynamic = {name: [{"value": value, "constraints": {"namespace": "default"}}]}
    return build_snapshot(
        ConfigInput(
            environment={name: value},
            worker_options={"tls": {name: value}, name: [value, {"nested": value}]},
            dynamic_config=None if dynamic_as_yaml else dynamic,
        ),
        key,
        HostConfig(dynamic_config_text=yaml.safe_dump(dynamic), dynamic_config_source="file:/etc/dc.yaml"),
    )


def test_corpus_sizes() -> None:
    assert len(SECRETS) >= 50
    assert len(HARMLESS) >= 50
    assert len({v for _, v in SECRETS}) >= 50


@pytest.mark.parametrize(("name", "value"), SECRETS, ids=[n for n, _ in SECRETS])
def test_no_secret_leaks_anywhere(name: str, value: str) -> None:
    for as_yaml in (False, True):
        snapshot = snapshot_everywhere(name, value, dynamic_as_yaml=as_yaml)
        dumped = snapshot.model_dump_json()
        leaked = sorted(s for s in substrings(value) if s in dumped)
        assert not leaked, f"{name}: {leaked}"
        marker = snapshot.environment and snapshot.environment[name]
        assert isinstance(marker, str) and REDACTED_RE.match(marker)
        assert snapshot.worker_options == {"tls": {name: marker}, name: [marker, {"nested": marker}]}
        assert snapshot.dynamic_config == {name: [{"value": marker, "constraints": {"namespace": "default"}}]}
        assert snapshot.sources["dynamic_config"] == ("file:/etc/dc.yaml" if as_yaml else "request")


def test_few_false_redactions() -> None:
    env = dict(HARMLESS)
    snapshot = build_snapshot(ConfigInput(environment=env), KEY)
    assert snapshot.environment is not None
    redacted = sorted(name for name, value in snapshot.environment.items() if REDACTED_RE.match(value))
    print(f"false redactions ({len(redacted)} of {len(HARMLESS)}): {redacted}")
    assert len(redacted) <= 2, redacted
    kept = {name: value for name, value in env.items() if name not in redacted}
    assert {k: snapshot.environment[k] for k in kept} == kept


def test_harmless_values_survive_in_worker_options_and_dynamic_config() -> None:
    values = {name: value for name, value in HARMLESS if not is_secret(name, value)}
    snapshot = build_snapshot(
        ConfigInput(worker_options={"nested": values}, dynamic_config={k: [{"value": v}] for k, v in values.items()}),
        KEY,
    )
    assert snapshot.worker_options == {"nested": values}
    assert snapshot.dynamic_config is not None
    assert {k: e[0]["value"] for k, e in snapshot.dynamic_config.items()} == values


def test_fingerprints_are_keyed_and_stable() -> None:
    name, value = "TEMPORAL_SQL_PASSWORD", "correct-horse-battery-staple"
    first = snapshot_everywhere(name, value).environment
    again = snapshot_everywhere(name, value).environment
    other_key = snapshot_everywhere(name, value, OTHER_KEY).environment
    other_value = snapshot_everywhere(name, value + "!").environment
    assert first is not None and again is not None and other_key is not None and other_value is not None
    assert first[name] == again[name] == f"<redacted:{fingerprint(value, KEY)}>"
    assert first[name] != other_key[name]
    assert first[name] != other_value[name]
    for _, secret in SECRETS:
        assert fingerprint(secret, KEY) == fingerprint(secret, KEY) != fingerprint(secret, OTHER_KEY)
    assert len({fingerprint(secret, KEY) for _, secret in SECRETS}) == len({secret for _, secret in SECRETS})


def test_a_changed_secret_is_a_change_without_either_value() -> None:
    old = build_snapshot(ConfigInput(environment={"TEMPORAL_SQL_PASSWORD": "old-password-1"}), KEY)
    new = build_snapshot(ConfigInput(environment={"TEMPORAL_SQL_PASSWORD": "new-password-2"}), KEY)
    same = build_snapshot(ConfigInput(environment={"TEMPORAL_SQL_PASSWORD": "old-password-1"}), KEY)
    diffs = config_diffs(old, new)
    assert [(d.key, d.change, d.old_value, d.new_value) for d in diffs] == [
        ("environment.TEMPORAL_SQL_PASSWORD", ChangeKind.CHANGED, "<redacted>", "<redacted>"),
        ("dsql_plugin.TEMPORAL_SQL_PASSWORD", ChangeKind.CHANGED, "<redacted>", "<redacted>"),
    ]
    assert "password-" not in json.dumps([d.model_dump(mode="json") for d in diffs])
    assert config_diffs(old, same) == []


# --- properties -------------------------------------------------------------------------------------

_USER = st.text(alphabet=_ALNUM + "._-", min_size=1, max_size=12)
_PASSWORD = st.text(alphabet=_ALNUM + "!$%^*()_-+=~.,;[]{}", min_size=8, max_size=24)
_SCHEME = st.sampled_from(["postgres", "postgresql", "mysql", "redis", "rediss", "amqp", "mongodb+srv", "https", "ftp"])
_HOST = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,6}){0,2}", fullmatch=True)
_AROUND = st.text(alphabet=_ALNUM + " =;,", max_size=10)


@settings(max_examples=300)
@given(scheme=_SCHEME, user=_USER, password=_PASSWORD, host=_HOST, before=_AROUND, after=_AROUND)
def test_any_url_with_user_and_password_is_redacted(
    scheme: str, user: str, password: str, host: str, before: str, after: str
) -> None:
    value = f"{before}{scheme}://{user}:{password}@{host}:5432/db{after}"
    assert is_secret_value(value)
    snapshot = build_snapshot(ConfigInput(environment={"SOME_SETTING": value}, worker_options={"dsn": value}), KEY)
    # the whole value is replaced by its keyed fingerprint (a password such as "environm" may well occur
    # in the document's own key names, so look at the stored values, not the whole JSON)
    assert snapshot.environment is not None and snapshot.worker_options is not None
    for stored in (snapshot.environment["SOME_SETTING"], snapshot.worker_options["dsn"]):
        assert REDACTED_RE.fullmatch(stored)


STRONG_NAMES = [
    "TEMPORAL_SQL_PASSWORD",
    "DB_PASS",
    "AWS_SECRET_ACCESS_KEY",
    "GITHUB_TOKEN",
    "SENTRY_DSN",
    "client_secret",
]
WEAK_NAMES = ["API_KEY", "REDIS_AUTH", "SESSION_ID", "PRIVATE_KEY", "JWT"]


@settings(max_examples=200)
@given(name=st.sampled_from(STRONG_NAMES + WEAK_NAMES), value=st.text(min_size=1, max_size=40))
def test_any_value_under_a_secret_name_is_redacted(name: str, value: str) -> None:
    snapshot = build_snapshot(ConfigInput(environment={name: value}), KEY)
    assert snapshot.environment is not None
    flag = value.strip().lower() in {"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "none", "iam"}
    if name in WEAK_NAMES and flag:
        assert snapshot.environment == {name: value}
    else:
        assert snapshot.environment == {name: f"<redacted:{fingerprint(value, KEY)}>"}


def test_switches_under_weak_names_are_kept_but_not_under_strong_ones() -> None:
    env = {"DSQL_IAM_AUTH": "true", "REDIS_AUTH": "Off", "TEMPORAL_SQL_PASSWORD": "false", "PRIVATE": "enabled"}
    snapshot = build_snapshot(ConfigInput(environment=env, worker_options={"auth": {"mode": "iam", "id": "x1"}}), KEY)
    assert snapshot.environment == {
        "DSQL_IAM_AUTH": "true",
        "PRIVATE": "enabled",
        "REDIS_AUTH": "Off",
        "TEMPORAL_SQL_PASSWORD": f"<redacted:{fingerprint('false', KEY)}>",
    }
    assert snapshot.worker_options == {"auth": {"mode": "iam", "id": f"<redacted:{fingerprint('x1', KEY)}>"}}


@given(nanos=st.integers(min_value=0, max_value=10**15))
def test_durations_normalise_to_a_fixed_point(nanos: int) -> None:
    text = format_duration(nanos)
    assert parse_duration(text) == nanos
    assert format_duration(parse_duration(text) or 0) == text


# --- sources, and "not collected" versus empty ------------------------------------------------------

HOST = HostConfig(
    dynamic_config_text="history.persistenceMaxQPS:\n  - value: 3000\n",
    dynamic_config_source="file:/etc/temporal/dynamicconfig.yaml",
    environment={"TEMPORAL_SQL_MAX_CONNS": "40", "LOG_LEVEL": "debug"},
    environment_source="env-file:/etc/temporal/server.env",
    worker_options={"MaxConcurrentActivityExecutionSize": 200},
    worker_options_source="file:/etc/temporal/worker.yaml",
)


def test_nothing_supplied_is_not_collected() -> None:
    for snapshot in (build_snapshot(None, KEY), build_snapshot(ConfigInput(), KEY, HostConfig())):
        assert snapshot == ConfigSnapshot()
        assert snapshot.sources == {}


def test_empty_parts_are_collected_and_empty() -> None:
    snapshot = build_snapshot(ConfigInput(environment={}, worker_options={}, dynamic_config=""), KEY)
    assert snapshot.environment == {}
    assert snapshot.dsql_plugin == {}
    assert snapshot.worker_options == {}
    assert snapshot.dynamic_config == {}
    assert snapshot.sources == dict.fromkeys(
        ("dynamic_config", "environment", "dsql_plugin", "worker_options"), "request"
    )
    host_empty = build_snapshot(None, KEY, HostConfig(dynamic_config_text="", environment={}))
    assert host_empty.dynamic_config == {} and host_empty.environment == {} and host_empty.worker_options is None
    assert host_empty.sources == {"dynamic_config": "host", "environment": "host", "dsql_plugin": "host"}


def test_host_parts_fill_in_what_the_request_did_not_supply() -> None:
    snapshot = build_snapshot(None, KEY, HOST)
    assert snapshot.dynamic_config == {"history.persistenceMaxQPS": [{"value": 3000, "constraints": {}}]}
    assert snapshot.environment == {"LOG_LEVEL": "debug", "TEMPORAL_SQL_MAX_CONNS": "40"}
    assert snapshot.dsql_plugin == {"TEMPORAL_SQL_MAX_CONNS": 40}
    assert snapshot.worker_options == {"MaxConcurrentActivityExecutionSize": 200}
    assert snapshot.sources == {
        "dynamic_config": "file:/etc/temporal/dynamicconfig.yaml",
        "environment": "env-file:/etc/temporal/server.env",
        "dsql_plugin": "env-file:/etc/temporal/server.env",
        "worker_options": "file:/etc/temporal/worker.yaml",
    }


def test_the_request_wins_part_by_part() -> None:
    request = ConfigInput(environment={"TEMPORAL_SQL_MAX_CONNS": "20"}, worker_options={})
    snapshot = build_snapshot(request, KEY, HOST)
    assert snapshot.environment == {"TEMPORAL_SQL_MAX_CONNS": "20"}
    assert snapshot.dsql_plugin == {"TEMPORAL_SQL_MAX_CONNS": 20}
    assert snapshot.worker_options == {}
    assert snapshot.dynamic_config == {"history.persistenceMaxQPS": [{"value": 3000, "constraints": {}}]}
    assert snapshot.sources == {
        "dynamic_config": "file:/etc/temporal/dynamicconfig.yaml",
        "environment": "request",
        "dsql_plugin": "request",
        "worker_options": "request",
    }


def test_dynamic_config_from_yaml_text_and_mapping_agree_and_redact() -> None:
    text = """
frontend.persistenceMaxQPS:
  - value: 2000
    constraints: {}
matching.numTaskqueueReadPartitions:
  - value: 8
    constraints:
      namespace: orders
      taskQueueName: payments
custom.webhook:
  - value: https://hooks.slack.com/services/T1/B2/abcdefghijklmnopqrstuvwx
custom.settings:
  - value:
      endpoint: https://api.example.com
      apiKey: plain-looking-key-value
system.enableActivityEagerExecution:
  - value: true
"""
    mapping = yaml.safe_load(text)
    from_text = build_snapshot(ConfigInput(dynamic_config=text), KEY)
    from_mapping = build_snapshot(ConfigInput(dynamic_config=mapping), KEY)
    assert from_text == from_mapping
    dc = from_text.dynamic_config
    assert dc is not None
    assert dc["matching.numTaskqueueReadPartitions"] == [
        {"value": 8, "constraints": {"namespace": "orders", "taskQueueName": "payments"}}
    ]
    assert dc["system.enableActivityEagerExecution"] == [{"value": True, "constraints": {}}]
    assert REDACTED_RE.match(dc["custom.webhook"][0]["value"])
    settings_value = dc["custom.settings"][0]["value"]
    assert settings_value["endpoint"] == "https://api.example.com"
    assert REDACTED_RE.match(settings_value["apiKey"])
    assert "plain-looking" not in from_text.model_dump_json()


def test_bad_dynamic_config_errors_name_the_source_but_never_quote_it() -> None:
    secret_line = "db.password: [unclosed s3cr3t-value-here"
    with pytest.raises(InvalidRequest) as request_error:
        build_snapshot(ConfigInput(dynamic_config=secret_line), KEY)
    assert "config.dynamic_config" in request_error.value.message
    assert "s3cr3t" not in request_error.value.message
    with pytest.raises(InvalidRequest) as host_error:
        build_snapshot(
            None, KEY, HostConfig(dynamic_config_text=secret_line, dynamic_config_source="file:/etc/dc.yaml")
        )
    assert "file:/etc/dc.yaml" in host_error.value.message
    assert "s3cr3t" not in host_error.value.message
    with pytest.raises(InvalidRequest, match="mapping"):
        parse_dynamic_config("- just\n- a list\n")
    with pytest.raises(InvalidRequest, match="'value'"):
        parse_dynamic_config({"k": [{"constraints": {}}]})
    with pytest.raises(InvalidRequest, match="constraints"):
        parse_dynamic_config({"k": [{"value": 1, "constraints": ["namespace"]}]})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"k": {"value": 5}}, "config.dynamic_config['k'] must be a list of {value, constraints} entries"),
        ({"k": 5}, "must be a list"),
        ({"k": None}, "must be a list"),
        ("k: true\n", "(in YAML: '- value: 5'), even for one value"),
        ("k:\n  value: 5\n", "must be a list"),
        ({"k": [5]}, "entries must be mappings with a 'value'"),
        (
            {"k": [{"value": 1, "constraint": {"namespace": "a"}}]},
            "take only 'value' and 'constraints'; remove or rename constraint",
        ),
    ],
    ids=["mapping not list", "bare number", "null", "bare yaml value", "yaml mapping", "scalar entry", "misspelt key"],
)
def test_dynamic_config_shapes_temporal_would_not_read_are_refused(raw: Any, expected: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_dynamic_config(raw)
    assert expected in refused.value.message


def test_a_monitored_dynamic_config_of_the_wrong_shape_names_its_file() -> None:
    with pytest.raises(InvalidRequest, match=r"the dynamic config from file:/etc/dc.yaml\['k'\] must be a list"):
        build_snapshot(
            None, KEY, HostConfig(dynamic_config_text="k: {value: 5}\n", dynamic_config_source="file:/etc/dc.yaml")
        )


# --- typed DSQL plugin fields -----------------------------------------------------------------------


def test_known_dsql_variables_are_typed() -> None:
    env = {
        "DSQL_RESERVOIR_ENABLED": "TRUE",
        "DSQL_STAGGERED_STARTUP": "0",
        "DSQL_DISTRIBUTED_CONN_LEASE_ENABLED": "off",
        "DSQL_RESERVOIR_TARGET_READY": " 50 ",
        "DSQL_RESERVOIR_BASE_LIFETIME": "55m",
        "DSQL_RESERVOIR_LIFETIME_JITTER": "90s",
        "DSQL_RESERVOIR_GUARD_WINDOW": "1500ms",
        "DSQL_STAGGERED_STARTUP_MAX_DELAY": "0",
        "TEMPORAL_SQL_MAX_CONN_LIFETIME": "3600s",
        "TEMPORAL_SQL_CONNECTION_TIMEOUT": "1h30m0s",
        "DSQL_CONNECTION_RATE_LIMIT": "100",
        "DSQL_TOKEN_BUCKET_RATE": "12.5",
        "DSQL_TOKEN_BUCKET_CAPACITY": "1000",
        "TEMPORAL_SQL_MAX_CONNS": "20",
        "TEMPORAL_SQL_HOST": "abc.dsql.us-east-1.on.aws",
        "DSQL_DISTRIBUTED_RATE_LIMITER_TABLE": "rate_limits",
        "DSQL_FUTURE_KNOB": "42",
        "TEMPORAL_SQL_USER": "admin",
        "TEMPORAL_SQL_PASSWORD": "hunter2-hunter2",
        "LOG_LEVEL": "info",
    }
    plugin = build_snapshot(ConfigInput(environment=env), KEY).dsql_plugin
    assert plugin == {
        "DSQL_CONNECTION_RATE_LIMIT": 100,
        "DSQL_DISTRIBUTED_CONN_LEASE_ENABLED": False,
        "DSQL_DISTRIBUTED_RATE_LIMITER_TABLE": "rate_limits",
        "DSQL_FUTURE_KNOB": "42",
        "DSQL_RESERVOIR_BASE_LIFETIME": "55m",
        "DSQL_RESERVOIR_ENABLED": True,
        "DSQL_RESERVOIR_GUARD_WINDOW": "1.5s",
        "DSQL_RESERVOIR_LIFETIME_JITTER": "1m30s",
        "DSQL_RESERVOIR_TARGET_READY": 50,
        "DSQL_STAGGERED_STARTUP": False,
        "DSQL_STAGGERED_STARTUP_MAX_DELAY": "0s",
        "DSQL_TOKEN_BUCKET_CAPACITY": 1000,
        "DSQL_TOKEN_BUCKET_RATE": 12.5,
        "TEMPORAL_SQL_CONNECTION_TIMEOUT": "1h30m",
        "TEMPORAL_SQL_HOST": "abc.dsql.us-east-1.on.aws",
        "TEMPORAL_SQL_MAX_CONNS": 20,
        "TEMPORAL_SQL_MAX_CONN_LIFETIME": "1h",
        "TEMPORAL_SQL_PASSWORD": f"<redacted:{fingerprint('hunter2-hunter2', KEY)}>",
        "TEMPORAL_SQL_USER": "admin",
    }


def test_values_that_do_not_parse_are_kept_as_text() -> None:
    env = {
        "DSQL_RESERVOIR_ENABLED": "maybe",
        "DSQL_RESERVOIR_TARGET_READY": "fifty",
        "DSQL_RESERVOIR_BASE_LIFETIME": "55",
        "DSQL_CONNECTION_RATE_LIMIT": "-5",
        "DSQL_TOKEN_BUCKET_RATE": "nan",
        "TEMPORAL_SQL_MAX_CONN_LIFETIME": "1 hour",
    }
    assert dsql_plugin_config(env) == env


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("55m", "55m"),
        ("60m", "1h"),
        ("1h0m0s", "1h"),
        ("2h45m", "2h45m"),
        ("0.5h", "30m"),
        ("1m0.5s", "1m0.5s"),
        ("250ms", "250ms"),
        ("1.5us", "1.5us"),
        ("1500µs", "1.5ms"),
        ("10ns", "10ns"),
        ("+5s", "5s"),
    ],
)
def test_duration_canonical_forms(raw: str, canonical: str) -> None:
    nanos = parse_duration(raw)
    assert nanos is not None
    assert format_duration(nanos) == canonical


@pytest.mark.parametrize("raw", ["", "5", "-5s", "5 m", "m", "5x", "1.2.3s", "5M"])
def test_not_durations(raw: str) -> None:
    assert parse_duration(raw) is None


# --- names --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["DB_PASSWORD", "dbPassword", "API_KEY", "APIKEY", "apiKey", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "KEY",
     "TLS_KEY", "SESSION", "SESSION_ID", "JWT", "PRIVATE_KEY", "SENTRY_DSN", "DB_PASS", "DB_PWD", "CREDENTIALS",
     "SLACK_WEBHOOK_URL", "OAUTH_CLIENT_SECRET", "REDIS_AUTH", "SECRET_KEY_BASE", "X_AUTH_TOKEN"],
)  # fmt: skip
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["DSQL_RESERVOIR_TARGET_READY", "DSQL_TOKEN_BUCKET_ENABLED", "DSQL_TOKEN_BUCKET_RATE", "DSQL_TOKEN_BUCKET_CAPACITY",
     "TEMPORAL_SQL_MAX_CONNS", "matching.numTaskqueueReadPartitions", "history.persistenceMaxQPS", "KEYSPACE",
     "MONKEY", "TURKEY_COUNT", "PWD", "OLDPWD", "SESSION_TIMEOUT", "EnableSessionWorker", "PUBLIC_KEY",
     "PARTITION_KEY", "TOKEN_FILE", "PASSWORD_FILE", "AUTH_ENABLED", "PRIVATE_SUBNETS", "BYPASS_CACHE"],
)  # fmt: skip
def test_harmless_names(name: str) -> None:
    assert not is_secret_name(name)


def test_markers_and_harmless_scalars_are_kept() -> None:
    snapshot = build_snapshot(
        ConfigInput(
            environment={"A": "<redacted:abc123>"},
            worker_options={"password": None, "token": True, "credentials": {"ttl": 30, "id": "svc"}, "n": 3},
        ),
        KEY,
    )
    assert snapshot.environment == {"A": "<redacted:abc123>"}
    wo = snapshot.worker_options
    assert wo is not None
    assert wo["password"] is None and wo["token"] is True and wo["n"] == 3
    assert REDACTED_RE.match(wo["credentials"]["ttl"]) and REDACTED_RE.match(wo["credentials"]["id"])


# --- env files -----------------------------------------------------------------------------------------


def test_env_file_parsing() -> None:
    text = (
        "# deployment environment\n"
        "\n"
        "TEMPORAL_SQL_MAX_CONNS=20\n"
        "export DSQL_RESERVOIR_ENABLED=true\n"
        "  LOG_LEVEL = info   # trailing comment\n"
        "HASH=abc#def\n"
        "SINGLE='literal $HOME \\n # not a comment'\n"
        'DOUBLE="line1\\nline2 \\"quoted\\" \\\\ done" # comment\n'
        "EMPTY=\n"
        'EMPTY_QUOTED=""\n'
        'TLS_KEY="-----BEGIN PRIVATE KEY-----\r\nMIIEabc\r\n-----END PRIVATE KEY-----"\r\n'
        "TEMPORAL_SQL_MAX_CONNS=30\n"
    )
    assert parse_env_file(text) == {
        "TEMPORAL_SQL_MAX_CONNS": "30",
        "DSQL_RESERVOIR_ENABLED": "true",
        "LOG_LEVEL": "info",
        "HASH": "abc#def",
        "SINGLE": "literal $HOME \\n # not a comment",
        "DOUBLE": 'line1\nline2 "quoted" \\ done',
        "EMPTY": "",
        "EMPTY_QUOTED": "",
        "TLS_KEY": "-----BEGIN PRIVATE KEY-----\nMIIEabc\n-----END PRIVATE KEY-----",
    }
    assert parse_env_file("") == {}
    assert parse_env_file("# only a comment\n\n") == {}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("A=1\nthis line has no equals sign s3cr3t\n", 2),
        ("A=1\n\n1BAD=x\n", 3),
        ('A="never closed s3cr3t\nB=2\n', 1),
        ("A='x' s3cr3t\n", 1),
        ("=s3cr3t\n", 1),
    ],
)
def test_env_file_errors_name_the_line_never_its_content(text: str, line: int) -> None:
    with pytest.raises(InvalidRequest) as error:
        parse_env_file(text)
    assert f"line {line}" in error.value.message
    assert "s3cr3t" not in error.value.message


def test_env_file_through_host_config() -> None:
    env = parse_env_file("TEMPORAL_SQL_PASSWORD='s3cr3t-from-file'\nTEMPORAL_SQL_MAX_CONNS=12\n")
    snapshot = build_snapshot(None, KEY, HostConfig(environment=env, environment_source="env-file:/srv/t.env"))
    assert snapshot.dsql_plugin == {
        "TEMPORAL_SQL_MAX_CONNS": 12,
        "TEMPORAL_SQL_PASSWORD": f"<redacted:{fingerprint('s3cr3t-from-file', KEY)}>",
    }
    assert "s3cr3t" not in snapshot.model_dump_json()
    assert snapshot.sources["environment"] == "env-file:/srv/t.env"


def test_environment_text_in_a_request_is_read_by_the_env_file_parser() -> None:
    """The web UI sends the environment as typed: quotes, export and comments never reach the snapshot."""
    typed = (
        "export TEMPORAL_SQL_MAX_CONNS='20'\n# the pool\nLOG_LEVEL=\"info\"  # inline\nDSQL_RESERVOIR_ENABLED=true\n"
    )
    as_text = build_snapshot(ConfigInput(environment=typed), KEY)
    as_mapping = build_snapshot(
        ConfigInput(
            environment={"TEMPORAL_SQL_MAX_CONNS": "20", "LOG_LEVEL": "info", "DSQL_RESERVOIR_ENABLED": "true"}
        ),
        KEY,
    )
    assert as_text.environment == {
        "TEMPORAL_SQL_MAX_CONNS": "20",
        "LOG_LEVEL": "info",
        "DSQL_RESERVOIR_ENABLED": "true",
    }
    assert as_text == as_mapping
    assert config_diffs(as_mapping, as_text) == []


def test_malformed_environment_text_is_a_field_error_naming_the_line() -> None:
    with pytest.raises(ValidationError) as error:
        ConfigInput(environment="A=1\nno equals sign s3cr3t\n")
    [problem] = error.value.errors()
    assert problem["loc"] == ("environment",)
    assert "line 2" in problem["msg"] and "s3cr3t" not in problem["msg"]
