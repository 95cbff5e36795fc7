"""The account projection knows an account's partner, and that it was deleted.

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


def upgrade() -> None:
    op.add_column("account_projection", sa.Column("partner_id", UUID(as_uuid=True)))
    op.add_column(
        "account_projection",
        sa.Column("deleted", sa.Boolean, nullable=False, server_default="false"),
    )


def downgrade() -> None:
    op.drop_column("account_projection", "deleted")
    op.drop_column("account_projection", "partner_id")
