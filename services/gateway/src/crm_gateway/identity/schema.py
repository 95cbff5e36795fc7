"""The identity tables (mirrored by migrations/): users and their SSO identities, teams,
custom roles, sessions with their refresh tokens, the login failure counters, API keys."""

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from crm_gateway.storage import metadata
from crm_platform.db.schema import id_column, timestamp_columns, version_column

teams = Table(
    "teams",
    metadata,
    id_column(),
    version_column(),
    Column("name", String(200), nullable=False),
    # RESTRICT (the default): a team with children cannot vanish under them.
    Column("parent_id", UUID(as_uuid=True), ForeignKey("teams.id"), index=True),
    *timestamp_columns(),
)

users = Table(
    "users",
    metadata,
    id_column(),
    version_column(),
    Column("email", String(254), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, server_default=""),
    # NULL: the user signs in through SSO only.
    Column("password_hash", String(255)),
    Column("roles", ARRAY(String(50)), nullable=False, server_default="{}"),
    Column("team_id", UUID(as_uuid=True), ForeignKey("teams.id"), index=True),
    Column("active", Boolean, nullable=False, server_default="true"),
    *timestamp_columns(),
    # Lookups lower-case the email; the constraint keeps every writer honest.
    CheckConstraint("email = lower(email)", name="email_lower_case"),
)

# A user's identity at an external OIDC issuer: one per issuer and user.
sso_identities = Table(
    "sso_identities",
    metadata,
    Column("issuer", String(500), nullable=False),
    Column("subject", String(255), nullable=False),
    Column(
        "user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    timestamp_columns()[0],  # created_at
    PrimaryKeyConstraint("issuer", "subject"),
    UniqueConstraint("issuer", "user_id"),
)

roles = Table(
    "roles",
    metadata,
    id_column(),
    version_column(),
    Column("name", String(50), nullable=False, unique=True),
    # {object: {action: scope}}, validated by crm_gateway.identity.roles before it is stored.
    Column("permissions", JSONB, nullable=False),
    *timestamp_columns(),
)

# A session is one login; its id is the `sid` of every access token issued within it, and
# revoking it (logout, deactivation, refresh token reuse) ends them all.
sessions = Table(
    "sessions",
    metadata,
    id_column(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), index=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    # SHA-256 of the token: it has 256 random bits, so a slow hash would add nothing.
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", UUID(as_uuid=True), ForeignKey("sessions.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # Set when exchanged for a new one; presenting it again means it was stolen.
    Column("rotated_at", DateTime(timezone=True)),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(300), primary_key=True),  # "email:<address>" or "ip:<address>"
    Column("failures", Integer, nullable=False),
    Column("window_started_at", DateTime(timezone=True), nullable=False, index=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    id_column(),
    version_column(),
    Column("name", String(200), nullable=False),
    Column("prefix", String(8), nullable=False, unique=True),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("roles", ARRAY(String(50)), nullable=False),
    Column("partner_id", UUID(as_uuid=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("rate_limit_per_minute", Integer),
    Column("created_by", UUID(as_uuid=True), nullable=False),
    Column("previous_hash", LargeBinary(32)),
    Column("previous_valid_until", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    *timestamp_columns(),
)
