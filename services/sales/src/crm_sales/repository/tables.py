"""The sales database schema (mirrored by migrations/)."""

from sqlalchemy import BigInteger, Boolean, Column, DateTime, String, Table
from sqlalchemy.dialects.postgresql import UUID

from crm_platform.db.schema import new_metadata
from crm_platform.events.schema import inbox_table, outbox_table

metadata = new_metadata()

account_projection = Table(
    "account_projection",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner_id", UUID(as_uuid=True), nullable=False),
    Column("team_id", UUID(as_uuid=True)),
    Column("partner_id", UUID(as_uuid=True)),
    Column("source_version", BigInteger, nullable=False),
    Column("synced_at", DateTime(timezone=True), nullable=False),
    Column("deleted", Boolean, nullable=False, server_default="false"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
