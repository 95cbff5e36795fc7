"""Gateway settings, from CRM_GATEWAY_* environment variables.

The bootstrap admin's credentials are read from the un-prefixed CRM_BOOTSTRAP_ADMIN_EMAIL /
CRM_BOOTSTRAP_ADMIN_PASSWORD, the names the local stack and the Helm chart share.
"""

import json
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Lists from the environment: a JSON array, or names separated by commas.
EnvList = Annotated[list[str], NoDecode]


SSO_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"})


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
    # Requests per minute and principal, unless an API key sets its own; 0 turns limits off.
    rate_limit_per_minute: int = Field(default=1200, ge=0, le=10_000_000)
    # How long a process trusts an API key it has checked: the bound on revocation.
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # Refresh tokens rotate on every use; this bounds an idle session.
    refresh_token_ttl_seconds: int = Field(default=1_209_600, ge=300, le=31_536_000)
    # Every process reloads teams, custom roles and revoked sessions this often: a logout or
    # deactivation reaches all of them within about this long.
    identity_refresh_seconds: float = Field(default=2.0, gt=0, le=60)
    # Failed logins allowed per email and per client address within the window; then 429.
    login_failures_per_email: int = Field(default=5, ge=1)
    login_failures_per_ip: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=900, ge=1, le=86_400)
    customer_target: str = "127.0.0.1:50061"
    sales_target: str = "127.0.0.1:50062"
    grpc_timeout_seconds: float = 5.0
    # Events keep the read cache current and feed webhooks; without NATS the cache stays
    # off and no webhook is delivered.
    nats_url: str | None = None
    nats_stream_replicas: int = Field(default=1, ge=1, le=5)
    read_cache_records: int = Field(default=100_000, ge=0)
    # The longest a cached record is served when its service's events stop coming.
    read_cache_ttl_seconds: float = Field(default=30.0, ge=0)
    # Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is
    # believed (audit trail client IPs); from anyone else the socket peer is the client.
    trusted_proxies: str = ""
    # Webhooks: http and private addresses are for tests and closed networks only.
    webhook_allow_http: bool = False
    webhook_allow_private_addresses: bool = False
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    webhook_max_attempts: int = Field(default=10, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=5.0, ge=0, le=3600)
    webhook_retry_cap_seconds: float = Field(default=3600.0, ge=0, le=86_400)
    webhook_disable_after_failures: int = Field(default=20, ge=1, le=10_000)
    webhook_max_per_owner: int = Field(default=20, ge=1, le=1000)
    otel_spans_file: str | None = None
    # Edge (crm_gateway.api.edge). Portal origins allowed to call the API from a browser;
    # none by default, so browsers on other sites get no CORS headers at all.
    cors_origins: EnvList = Field(default_factory=list)
    # Strict-Transport-Security max-age; 0 sends none (TLS is usually ended in front of us).
    hsts_seconds: int = Field(default=0, ge=0)
    # Longer than grpc_timeout_seconds, so a slow service answers with its own problem first.
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    # Imports (POST /api/v1/imports): the largest file accepted, and the time to send it.
    upload_max_bytes: int = Field(default=1 << 30, ge=1024)
    upload_timeout_seconds: float = Field(default=900.0, gt=0)
    # SSO: access tokens of an external OIDC issuer (crm_gateway.identity.oidc). Off unless
    # sso_issuer is set; the keys come from sso_jwks_url or the issuer's discovery document.
    sso_issuer: str | None = None
    sso_audience: str | None = None
    sso_jwks_url: str | None = None
    sso_algorithms: EnvList = Field(default_factory=lambda: ["RS256", "ES256"])
    # Dotted path of the claim listing the caller's roles at the issuer (`realm_access.roles`).
    sso_roles_claim: str = "roles"
    # Issuer role -> our role, as JSON (`{"crm-admins": "admin"}`); other roles are ignored.
    sso_role_map: dict[str, str] = Field(default_factory=dict)
    # Unknown users are refused (401) unless this is on; then they are created from a
    # verified email with the mapped roles.
    sso_auto_provision: bool = False
    sso_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # An unknown `kid` refetches the keys at most this often, so garbage cannot flood the issuer.
    sso_jwks_refetch_seconds: float = Field(default=60.0, ge=0)
    sso_jwks_max_age_seconds: float = Field(default=3600.0, gt=0)
    log_level: str = "INFO"
    bootstrap_admin_email: str | None = Field(
        default=None, validation_alias="CRM_BOOTSTRAP_ADMIN_EMAIL"
    )
    bootstrap_admin_password: SecretStr | None = Field(
        default=None, validation_alias="CRM_BOOTSTRAP_ADMIN_PASSWORD"
    )

    @field_validator("cors_origins", "sso_algorithms", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _sso_is_complete(self) -> "GatewaySettings":
        if self.sso_issuer and not self.sso_audience:
            raise ValueError("CRM_GATEWAY_SSO_AUDIENCE is required with CRM_GATEWAY_SSO_ISSUER")
        # Only public-key algorithms: an HMAC "key" from a JWKS would be a shared secret.
        unsafe = set(self.sso_algorithms) - SSO_ALGORITHMS
        if unsafe:
            raise ValueError(f"unsupported SSO algorithms {sorted(unsafe)}")
        return self

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
