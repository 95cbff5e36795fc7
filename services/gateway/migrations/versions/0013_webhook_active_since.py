"""When each webhook was last made active: the gateway consumes events only while one is,
and a consumer made afresh delivers from the earliest such time.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhooks", sa.Column("active_since", sa.DateTime(timezone=True)))
    # The last change is the latest it can have been made active.
    op.execute("UPDATE webhooks SET active_since = updated_at WHERE active")


def downgrade() -> None:
    op.drop_column("webhooks", "active_since")
