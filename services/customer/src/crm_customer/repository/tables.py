"""The customer database schema (mirrored by migrations/)."""

from sqlalchemy import ARRAY, Column, DateTime, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.dialects.postgresql import UUID

from crm_platform.db.history import history_table
from crm_platform.db.schema import id_column, new_metadata, timestamp_columns, version_column
from crm_platform.events.schema import inbox_table, outbox_table

metadata = new_metadata()


def _ownership() -> list[Column[object]]:
    return [
        Column("owner_id", UUID(as_uuid=True), nullable=False),
        Column("team_id", UUID(as_uuid=True)),
        Column("partner_id", UUID(as_uuid=True)),
        Column("internal_notes", Text, nullable=False, server_default=""),
        Column("deleted_at", DateTime(timezone=True)),
    ]


accounts = Table(
    "accounts",
    metadata,
    id_column(),
    version_column(),
    Column("name", String(200), nullable=False),
    Column("industry", String(100), nullable=False, server_default=""),
    Column("website", String(500), nullable=False, server_default=""),
    Column("phone", String(32), nullable=False, server_default=""),
    Column("tags", ARRAY(String(50)), nullable=False, server_default=text("'{}'")),
    Column("parent_id", UUID(as_uuid=True), ForeignKey("accounts.id")),
    *_ownership(),
    *timestamp_columns(),
    Index("ix_accounts_owner_id", "owner_id", "id"),
    Index("ix_accounts_team_id", "team_id", "id"),
    Index("ix_accounts_partner_id", "partner_id", "id"),
)

contacts = Table(
    "contacts",
    metadata,
    id_column(),
    version_column(),
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("email", String(254), nullable=False, server_default=""),
    Column("phone", String(32), nullable=False, server_default=""),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id")),
    Column("title", String(100), nullable=False, server_default=""),
    *_ownership(),
    *timestamp_columns(),
    Index("ix_contacts_owner_id", "owner_id", "id"),
    Index("ix_contacts_team_id", "team_id", "id"),
    Index("ix_contacts_partner_id", "partner_id", "id"),
    Index("ix_contacts_account_id", "account_id", "id"),
)

field_history = history_table(metadata)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
