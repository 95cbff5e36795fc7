"""Merging duplicates: a merged-away record names the record it was merged into.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_TABLES = ("accounts", "contacts")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(
            table,
            sa.Column(
                "merged_into_id",
                UUID(as_uuid=True),
                sa.ForeignKey(f"{table}.id", name=f"fk_{table}_merged_into_id_{table}"),
            ),
        )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_column(table, "merged_into_id")
