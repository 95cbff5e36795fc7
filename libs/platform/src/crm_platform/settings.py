"""Settings every service shares; each service subclasses with its own env prefix."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Read from `CRM_<SERVICE>_*` environment variables (prefix set by the subclass)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str
    database_url: str = "postgresql+asyncpg://127.0.0.1:5432/postgres"
    database_pool_size: int = 10
    nats_url: str = "nats://127.0.0.1:4222"
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 50051
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    # Shared by the gateway (signs) and every service (verifies) the internal principal.
    principal_secret: SecretStr = SecretStr("")
    log_level: str = "INFO"
    # When set, finished spans are appended to this file as JSON lines (local stack, tests).
    otel_spans_file: str | None = None
    # JetStream replicas of the streams this service provisions: 3 on a 3-node NATS cluster
    # (DESIGN §6); 1 for a single server, which must then fsync every write.
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    outbox_poll_interval_seconds: float = 1.0
    consumer_max_deliver: int = 5
