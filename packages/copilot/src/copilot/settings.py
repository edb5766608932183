"""One Settings object, read once from the environment (and ``dev/.env`` when it exists).

Real environment variables win over ``dev/.env``. The library never reads the environment: the host
builds Settings and passes plain values down.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from behaviour_profiles.models import ThresholdClass

_DSQL_HOST = re.compile(r"^[a-z0-9]+\.dsql(-[a-z0-9]+)?\.([a-z0-9-]+)\.on\.aws$")


class DialectSetting(StrEnum):
    AUTO = "auto"
    OPENTELEMETRY = "opentelemetry"
    TALLY = "tally"


CpuSourceSetting = Literal["auto", "cadvisor", "ecs", "none"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file="dev/.env", env_file_encoding="utf-8", extra="ignore")

    copilot_dsql_endpoint: str | None = Field(
        default=None, description="A DSQL cluster hostname or a postgresql:// URL for the metadata index"
    )
    copilot_profile_s3_bucket: str | None = Field(default=None, description="Bucket for full profile documents")
    copilot_profile_s3_prefix: str = "profiles/"
    prometheus_endpoint: str | None = Field(default=None, description="Prometheus-compatible HTTP API base URL")
    prometheus_cluster_label: str | None = Field(
        default=None, description="Label that carries the cluster id on every series, when one Prometheus holds several"
    )
    prometheus_metrics_dialect: DialectSetting = DialectSetting.AUTO
    copilot_cpu_source: CpuSourceSetting = Field(
        default="auto",
        description="Where CPU per service comes from: auto (detect cAdvisor/kubelet, then ECS through ADOT, "
        "in the window), cadvisor, ecs, or none (never read CPU)",
    )
    prometheus_recording_rules: bool = Field(
        default=True,
        description="Read the recorded series of the shipped recording rules where they cover the window "
        "(per query; raw series otherwise); false: always raw series",
    )
    prometheus_scrape_interval_seconds: Annotated[int, Field(ge=1, le=3600)] = 15
    prometheus_query_concurrency: Annotated[int, Field(ge=1, le=64)] | None = Field(
        default=None,
        description="Most PromQL queries in flight per profile; unset: as many as the Prometheus has cores "
        "(its GOMAXPROCS, remembered once answered), 4 where the server does not say (Mimir, AMP)",
    )
    prometheus_query_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    prometheus_compressed_answers: bool = Field(
        default=False,
        description="Ask Prometheus for gzip-compressed answers (for a slow link); false: uncompressed, "
        "faster next to the Prometheus",
    )
    aws_region: str | None = None
    aws_default_region: str | None = None
    aws_endpoint_url_s3: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = Field(default=None, repr=False)
    aws_session_token: str | None = Field(default=None, repr=False)
    copilot_redaction_key: str = Field(
        default="behaviour-profiles-default-redaction-key",
        description="Key of the HMAC that fingerprints redacted secrets; set your own in production",
    )
    monitored_dynamic_config_path: Path | None = Field(
        default=None, description="Temporal dynamic config YAML of the monitored deployment, read for snapshots"
    )
    monitored_env_file: Path | None = Field(
        default=None, description="KEY=VALUE environment of the monitored Temporal server, read for snapshots"
    )
    monitored_worker_options_path: Path | None = Field(
        default=None, description="Worker options (JSON or YAML mapping) of the monitored workers"
    )
    monitored_temporal_address: str | None = Field(
        default=None,
        description="host:port of the monitored Temporal frontend; asked for its version (GetClusterInfo) "
        "when neither the request nor build_information gives one",
    )
    monitored_temporal_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 2.0
    monitored_temporal_tls: bool = Field(default=False, description="Use TLS (system roots) for GetClusterInfo")
    copilot_drift_thresholds_pct: dict[ThresholdClass, Annotated[float, Field(gt=0, le=10_000)]] = Field(
        default_factory=dict,
        description='Deployment drift thresholds per class as JSON, e.g. {"latency": 30, "error": 100}',
    )
    copilot_host: str = "127.0.0.1"
    copilot_port: Annotated[int, Field(ge=1, le=65535)] = 8081
    copilot_api_url: str = Field(default="http://127.0.0.1:8081", description="Where the CLI finds the API")
    copilot_dsql_pool_max_size: Annotated[int, Field(ge=1, le=100)] = 10
    copilot_s3_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = Field(
        default=15.0,
        description="S3 read timeout of one attempt; an operation (3 attempts) ends within 3 times it, else 504",
    )
    copilot_api_token: str | None = Field(
        default=None,
        repr=False,
        description="When set, writes (and reads with COPILOT_API_TOKEN_FOR_READS) need `Authorization: Bearer <it>`",
    )
    copilot_api_token_for_reads: bool = Field(
        default=False, description="Ask for the API token on every /profiles and /presets request too"
    )
    copilot_cors_origins: str = Field(
        default="", description="Comma-separated origins allowed by CORS, e.g. https://grafana.example.com"
    )
    copilot_max_body_bytes: Annotated[int, Field(ge=1024, le=1 << 30)] = 1_048_576
    copilot_create_rate_per_minute: Annotated[int, Field(ge=0, le=100_000)] = 30
    copilot_log_format: Literal["json", "text"] = "json"

    @field_validator(
        "copilot_dsql_endpoint",
        "copilot_profile_s3_bucket",
        "prometheus_endpoint",
        "aws_endpoint_url_s3",
        "copilot_api_token",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def region(self) -> str:
        return self.aws_region or self.aws_default_region or "us-east-1"

    @property
    def profiles_configured(self) -> bool:
        return bool(self.copilot_profile_s3_bucket and self.prometheus_endpoint and self.copilot_dsql_endpoint)

    @property
    def dsql_is_cluster_host(self) -> bool:
        """True when the endpoint is an Aurora DSQL hostname (IAM auth) rather than a postgresql:// URL."""
        return bool(self.copilot_dsql_endpoint and _DSQL_HOST.match(self.copilot_dsql_endpoint))
