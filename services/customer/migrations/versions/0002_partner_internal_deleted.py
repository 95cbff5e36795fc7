"""Partner link, internal notes and soft delete on accounts and contacts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ("accounts", "contacts")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("partner_id", UUID(as_uuid=True)))
        op.add_column(
            table, sa.Column("internal_notes", sa.Text, nullable=False, server_default="")
        )
        op.add_column(table, sa.Column("deleted_at", sa.DateTime(timezone=True)))
        op.create_index(f"ix_{table}_partner_id", table, ["partner_id", "id"])


def downgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_partner_id", table_name=table)
        for column in ("deleted_at", "internal_notes", "partner_id"):
            op.drop_column(table, column)
