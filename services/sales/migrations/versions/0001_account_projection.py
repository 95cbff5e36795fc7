"""Account projection and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from crm_platform.events.schema import create_event_tables, drop_event_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_projection",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("team_id", UUID(as_uuid=True)),
        sa.Column("source_version", sa.BigInteger, nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )
    # The outbox comes with the inbox: sales will publish its own facts (opportunities).
    create_event_tables(op)


def downgrade() -> None:
    drop_event_tables(op)
    op.drop_table("account_projection")
