"""Settings: one place for every default, read from `PROVISIO_*` environment variables.

Each service subclasses `ServiceSettings` to name its database and port; everything
else (broker, Postgres server, auth, consumer tuning) is shared and defined here once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_JWT_SECRET = "provisio-local-development-secret-change-me"


class ProvisioSettings(BaseSettings):
    """Settings shared by every Provisio process."""

    model_config = SettingsConfigDict(env_prefix="PROVISIO_", extra="ignore")

    environment: Literal["local", "test", "production"] = "local"
    # Postgres server; each service appends its own database name.
    pg_host: str = "127.0.0.1"
    pg_port: int = 54320
    pg_user: str = "postgres"
    pg_password: SecretStr = SecretStr("")
    # Kafka-protocol broker.
    kafka_bootstrap: str = "127.0.0.1:19092"
    # The embedded broker has no idempotent producer (DESIGN.md §8): off by default there.
    kafka_idempotent_producer: bool = False
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 500
    # How long the broker may hold a fetch waiting for data. Apache Kafka answers as soon
    # as data arrives; the embedded broker holds the fetch for the whole wait, so the local
    # stack and tests set `embedded.EMBEDDED_FETCH_MAX_WAIT_MS`.
    kafka_fetch_max_wait_ms: int = 100
    # How often clients refresh topic metadata unasked: how soon a consumer sees a topic
    # re-created (a broker that lost its data) or given more partitions. Kafka's 5 min is
    # long for that; a metadata request is cheap.
    kafka_metadata_max_age_ms: int = Field(default=10_000, ge=1000)
    # How long a produce or fetch request may wait for the broker before it is retried: how
    # soon the outbox relay notices a broker that went away (aiokafka's 40 s by default).
    kafka_request_timeout_ms: int = Field(default=15_000, ge=1000)
    # The largest message (record batch) a producer sends: the producer's max_request_size,
    # and what deal-ingest derives its envelope limit from (`provisio_common.kafka`). 1 MiB
    # fits Apache Kafka's default `message.max.bytes` (1048588); raise both together. The
    # embedded broker (Tansu) enforces no limit of its own, so this is the one that holds.
    kafka_max_message_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    # Consumer: how many attempts before a message goes to its DLQ.
    consumer_max_attempts: int = 3
    consumer_retry_backoff_s: float = 0.2
    # A transient failure (database or broker down) pauses the partition, doubling up to this.
    consumer_transient_backoff_max_s: float = 5.0
    # Messages of one fetch applied in one transaction (1 = one by one), in every consumer.
    consumer_batch_size: int = 50
    # Outbox relay.
    outbox_poll_interval_s: float = 0.5
    outbox_batch_size: int = 200
    outbox_topic_check_interval_s: float = 5.0
    # Auth (DESIGN.md §7): HS256 with a secret locally, RS256 against JWKS in production.
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: SecretStr = SecretStr(LOCAL_JWT_SECRET)
    jwt_jwks_url: str | None = None
    jwt_audience: str = "provisio"
    jwt_issuer: str = "provisio"
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_local(self) -> bool:
        """Local runs and tests may use the built-in development defaults; nothing else may."""
        return self.environment in ("local", "test")

    @model_validator(mode="after")
    def _refuse_local_secret_outside_local_runs(self) -> ProvisioSettings:
        if (
            not self.is_local
            and self.jwt_algorithm == "HS256"
            and self.jwt_secret.get_secret_value() == LOCAL_JWT_SECRET
        ):
            raise ValueError(
                "PROVISIO_JWT_SECRET is the built-in development secret; set your own outside "
                "local and test runs (or use PROVISIO_JWT_ALGORITHM=RS256 with PROVISIO_JWT_JWKS_URL)"
            )
        if not self.is_local and self.jwt_algorithm == "RS256" and not self.jwt_jwks_url:
            raise ValueError("PROVISIO_JWT_JWKS_URL must be set when PROVISIO_JWT_ALGORITHM=RS256")
        return self

    def dsn(self, database: str) -> str:
        """SQLAlchemy asyncpg URL for one service database on the configured server."""
        password = self.pg_password.get_secret_value()
        auth = f"{self.pg_user}:{password}" if password else self.pg_user
        return f"postgresql+asyncpg://{auth}@{self.pg_host}:{self.pg_port}/{database}"


class ServiceSettings(ProvisioSettings):
    """Settings of one service process: its database, its HTTP address, its consumer group."""

    service_name: str = "provisio"
    database: str = "provisio"
    http_host: str = "127.0.0.1"
    http_port: int = 8100
    run_background: bool = Field(
        default=True, description="run consumers and the outbox relay inside the API process"
    )

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of this service's database."""
        return self.dsn(self.database)
