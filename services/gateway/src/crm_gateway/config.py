"""Gateway settings, from CRM_GATEWAY_* environment variables.

The bootstrap admin's credentials are read from the un-prefixed CRM_BOOTSTRAP_ADMIN_EMAIL /
CRM_BOOTSTRAP_ADMIN_PASSWORD, the names the local stack and the Helm chart share.
"""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CRM_GATEWAY_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "gateway"
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # One process serves one core (the GIL); replicas scale further.
    workers: int = Field(default=1, ge=1, le=64)
    database_url: str = "postgresql+asyncpg://127.0.0.1:5432/crm_gateway"
    # Logins, /me, readiness, Idempotency-Keys and the audit trail of writes: reads never
    # touch the database.
    database_pool_size: int = 5
    # Signs the internal principal services verify; the same secret every service holds.
    principal_secret: SecretStr = SecretStr("")
    # Signs the public access tokens; known to the gateway alone.
    jwt_secret: SecretStr = SecretStr("")
    access_token_ttl_seconds: int = Field(default=900, ge=60, le=86_400)
    customer_target: str = "127.0.0.1:50061"
    sales_target: str = "127.0.0.1:50062"
    grpc_timeout_seconds: float = 5.0
    # Events keep the read cache current; without NATS the cache stays off.
    nats_url: str | None = None
    read_cache_records: int = Field(default=100_000, ge=0)
    # The longest a cached record is served when its service's events stop coming.
    read_cache_ttl_seconds: float = Field(default=30.0, ge=0)
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed (audit trail client IPs); from anyone else the socket peer is the client.
    trusted_proxies: str = ""
    otel_spans_file: str | None = None
    log_level: str = "INFO"
    bootstrap_admin_email: str | None = Field(
        default=None, validation_alias="CRM_BOOTSTRAP_ADMIN_EMAIL"
    )
    bootstrap_admin_password: SecretStr | None = Field(
        default=None, validation_alias="CRM_BOOTSTRAP_ADMIN_PASSWORD"
    )

    def require_secrets(self) -> None:
        """Serving without signing keys would accept forged tokens: refuse to start."""
        missing = [
            name
            for name, value in (
                ("CRM_GATEWAY_PRINCIPAL_SECRET", self.principal_secret),
                ("CRM_GATEWAY_JWT_SECRET", self.jwt_secret),
            )
            if not value.get_secret_value()
        ]
        if missing:
            raise RuntimeError(f"set {' and '.join(missing)} before serving")
