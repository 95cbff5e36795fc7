"""Accounts, contacts, field history, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from crm_platform.events.schema import create_event_tables, drop_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
    ]


def _ownership_columns() -> list[sa.Column]:
    return [
        sa.Column("owner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("team_id", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "accounts",
        *_record_columns(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("industry", sa.String(100), nullable=False, server_default=""),
        sa.Column("website", sa.String(500), nullable=False, server_default=""),
        sa.Column("phone", sa.String(32), nullable=False, server_default=""),
        sa.Column("tags", ARRAY(sa.String(50)), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("parent_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id", name="fk_accounts_parent_id_accounts")),
        *_ownership_columns(),
    )
    op.create_index("ix_accounts_owner_id", "accounts", ["owner_id", "id"])
    op.create_index("ix_accounts_team_id", "accounts", ["team_id", "id"])
    op.create_table(
        "contacts",
        *_record_columns(),
        sa.Column("first_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("last_name", sa.String(100), nullable=False, server_default=""),
        sa.Column("email", sa.String(254), nullable=False, server_default=""),
        sa.Column("phone", sa.String(32), nullable=False, server_default=""),
        sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id", name="fk_contacts_account_id_accounts")),
        sa.Column("title", sa.String(100), nullable=False, server_default=""),
        *_ownership_columns(),
    )
    op.create_index("ix_contacts_owner_id", "contacts", ["owner_id", "id"])
    op.create_index("ix_contacts_team_id", "contacts", ["team_id", "id"])
    op.create_index("ix_contacts_account_id", "contacts", ["account_id", "id"])
    op.create_table(
        "field_history",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("record_type", sa.String(50), nullable=False),
        sa.Column("record_id", UUID(as_uuid=True), nullable=False),
        sa.Column("field", sa.String(100), nullable=False),
        sa.Column("old_value", JSONB),
        sa.Column("new_value", JSONB),
        sa.Column("actor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_field_history_record", "field_history", ["record_id", "changed_at"])
    create_event_tables(op)


def downgrade() -> None:
    drop_event_tables(op)
    op.drop_table("field_history")
    op.drop_table("contacts")
    op.drop_table("accounts")
