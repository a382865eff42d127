"""One ``Settings`` per process, read from the environment and a ``.env`` file.

Every variable is documented in docs/settings.md; nothing else in
the project reads ``os.environ``.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
from pathlib import Path
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra import logs

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Settings(BaseSettings):
    """Validated configuration; invalid values stop the process at start-up."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # PostgreSQL (names as in the PRD)
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:15432/media_analysis"
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=20, ge=0)
    database_pool_timeout: float = Field(default=30, gt=0)
    database_pool_recycle: int = Field(default=1800, ge=-1)

    # Kafka (in place of the PRD's Celery broker)
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_min_insync_replicas: int = Field(default=1, ge=1)
    kafka_request_timeout_ms: int = Field(default=10_000, ge=1000)

    kafka_publish_timeout_seconds: float = Field(default=5, gt=0)
    # Kafka security, for managed clusters (docs/operations.md#managed-kafka-tls-sasl)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: FilePath | None = None
    kafka_ssl_certfile: FilePath | None = None
    kafka_ssl_keyfile: FilePath | None = None

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_workers: int = Field(default=1, ge=1, le=32)
    """Processes serving the HTTP API on one port (``api``, ``command-api``, ``query-api``)."""
    prometheus_multiproc_dir: str = ""
    """Set for the workers by ``media-analysis api`` when ``API_WORKERS`` > 1: where
    prometheus-client's multiprocess mode keeps each worker's samples."""
    read_your_writes_timeout_seconds: float = Field(default=5, ge=0)
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    estimated_time_cache_seconds: float = Field(default=10, ge=0)
    api_max_in_flight: int = Field(default=512, ge=0)
    api_auth_required: bool = False
    api_rate_limit_per_minute: int = Field(default=600, ge=0)
    api_key_cache_seconds: float = Field(default=5, ge=0)
    api_operator_tenants: Annotated[list[UUID], NoDecode] = Field(default_factory=list)
    """Tenants whose keys may read ``/api/operations`` (every tenant's dead letters)
    when ``API_AUTH_REQUIRED`` is on."""

    # Live status streams (query_api.stream)
    stream_heartbeat_seconds: float = Field(default=15, gt=0, le=300)
    stream_max_open: int = Field(default=2000, ge=1)
    stream_all_max_analyses: int = Field(default=1000, ge=1, le=100_000)

    # Processors
    processor_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    analysis_deadline_seconds: float = Field(default=600, gt=0)
    analysis_deadline_per_media_second: float = Field(default=4.0, ge=0)
    analysis_deadline_max_seconds: float = Field(default=6 * 3600, gt=0)
    media_fetch_allowed_networks: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    media_fetch_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    media_fetch_timeout_seconds: float = Field(default=120, gt=0)
    media_max_pixels: int = Field(default=50_000_000, ge=1)
    media_max_duration_seconds: float = Field(default=4 * 3600, gt=0)
    work_dir: Path = Path(".state/work")
    processor_concurrency: int = Field(default=4, ge=1, le=64)
    analysis_max_attempts: int = Field(default=3, ge=1, le=20)
    analysis_retry_backoff_seconds: float = Field(default=1.0, ge=0)
    analysis_retry_backoff_max_seconds: float = Field(default=30.0, ge=0)

    # Analysis stages and their providers
    artifact_dir: Path = Path(".state/artifacts")
    stage_timeout_seconds: float = Field(default=300, gt=0)
    stage_timeout_per_media_second: float = Field(default=2.0, ge=0)
    stage_timeout_max_seconds: float = Field(default=4 * 3600, gt=0)
    stage_memory_limit_mb: int = Field(default=2048, ge=0)
    """Address space of each heavy stage's child process (transcription, ffmpeg); 0: none."""
    stage_nice: int = Field(default=10, ge=0, le=19)
    progress_interval_seconds: float = Field(default=5, ge=0)
    transcription_chunk_seconds: float = Field(default=120, ge=5, le=1800)
    frame_count: int = Field(default=6, ge=1, le=24)
    contact_sheet_font: Path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    whisper_model: str = ""
    whisper_cpu_threads: int = Field(default=2, ge=1, le=64)
    deepgram_api_key: SecretStr | None = None
    deepgram_base_url: str = "https://api.deepgram.com"
    deepgram_model: str = "nova-3"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_seconds: float = Field(default=60, gt=0)
    llm_max_tokens: int = Field(default=512, ge=16, le=32_768)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    llm_context_tokens: int = Field(default=8192, ge=512)
    llm_max_chunks: int = Field(default=12, ge=1, le=100)
    llm_vision: bool = False
    llm_vision_max_images: int = Field(default=4, ge=1, le=16)
    summary_max_chars: int = Field(default=600, ge=100, le=5000)
    ocr_max_frames: int = Field(default=4, ge=0, le=24)
    ocr_max_pages: int = Field(default=10, ge=0, le=200)
    ocr_max_side: int = Field(default=1600, ge=320, le=4096)
    ocr_min_confidence: float = Field(default=0.5, ge=0, le=1)
    ocr_threads: int = Field(default=2, ge=1, le=64)

    # Webhook notifier (docs/webhooks.md)
    webhook_secret: SecretStr | None = None
    """``whsec_`` + base64: signs every webhook of analyses without a tenant secret."""
    webhook_allowed_networks: Annotated[list[Network], NoDecode] = Field(default_factory=list)
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        min_length=1,
    )
    """Seconds before each retry (then the delivery fails): about 27 hours in all."""
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    webhook_concurrency: int = Field(default=64, ge=1, le=256)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)

    # Projector
    projector_group_id: str = Field(default="media-analysis-projector", min_length=1)

    # Operations
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = True
    processor_http_port: int = Field(default=0, ge=0, le=65535)
    """/metrics, /healthz and /readyz of ``media-analysis processor``; 0: not served."""
    projector_http_port: int = Field(default=0, ge=0, le=65535)
    """The same for ``media-analysis projector``."""
    notifier_http_port: int = Field(default=0, ge=0, le=65535)
    """The same for ``media-analysis notifier``."""

    # Tracing (OpenTelemetry's standard variables; the SDK reads the other OTEL_* itself)
    otel_exporter_otlp_endpoint: str = ""
    otel_exporter_otlp_traces_endpoint: str = ""
    otel_sdk_disabled: bool = False
    otel_service_name: str = ""

    @field_validator(
        "media_fetch_allowed_networks",
        "webhook_allowed_networks",
        "webhook_retry_schedule",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_operator_tenants", mode="before")
    @classmethod
    def _split_tenants(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _delays_not_negative(cls, value: list[float]) -> list[float]:
        if any(delay < 0 for delay in value):
            raise ValueError("WEBHOOK_RETRY_SCHEDULE: delays are seconds, none negative")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith("whsec_"):
            raise ValueError("WEBHOOK_SECRET must be whsec_ followed by base64 bytes")
        try:
            key = base64.b64decode(value.get_secret_value()[6:], validate=True)
        except ValueError as exc:
            raise ValueError("WEBHOOK_SECRET must be whsec_ followed by base64 bytes") from exc
        if len(key) < 24:
            raise ValueError("WEBHOOK_SECRET must hold at least 24 random bytes")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_URL must be a postgresql:// or postgresql+asyncpg:// URL")
        return value

    @model_validator(mode="after")
    def _isr_fits(self) -> Settings:
        if self.kafka_min_insync_replicas > self.kafka_replication_factor:
            raise ValueError("KAFKA_MIN_INSYNC_REPLICAS cannot exceed KAFKA_REPLICATION_FACTOR")
        return self

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> Settings:
        # Settings that the protocol would ignore are refused: a forgotten
        # KAFKA_SECURITY_PROTOCOL must not send credentials or data in the clear.
        protocol = self.kafka_security_protocol
        sasl = {
            "KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
            "KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            "KAFKA_SASL_PASSWORD": self.kafka_sasl_password,
        }
        if protocol.startswith("SASL_"):
            missing = [name for name, value in sasl.items() if not value]
            if missing:
                raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}")
        elif given := [name for name, value in sasl.items() if value]:
            raise ValueError(
                f"{', '.join(given)} need KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT"
            )
        tls = {
            "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
        if not protocol.endswith("SSL") and (given := [n for n, v in tls.items() if v]):
            raise ValueError(f"{', '.join(given)} need KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL")
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("KAFKA_SSL_KEYFILE needs KAFKA_SSL_CERTFILE (the client certificate)")
        return self

    @property
    def kafka_bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]

    @property
    def tracing_enabled(self) -> bool:
        """Spans are exported when an OTLP endpoint is named and the SDK is not disabled."""
        endpoint = self.otel_exporter_otlp_endpoint or self.otel_exporter_otlp_traces_endpoint
        return bool(endpoint) and not self.otel_sdk_disabled

    @property
    def api_base_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"


def configure_logging(settings: Settings, service: str) -> None:
    """One log format for every process (the CLI and each API worker it spawns);
    ``service`` names the process in each record (infra.logs)."""
    logs.configure_logging(settings.log_level, settings.log_format, service)
