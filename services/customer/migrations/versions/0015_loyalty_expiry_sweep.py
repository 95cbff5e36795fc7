"""Earns by when they expire, across all ledgers: the expiry sweep's index.

Points used to expire only when their ledger was next read or written (lazily), so the
`loyalty.expired` event of an idle customer never came. The sweep looks for earns that
expired lately in ledgers with no entry since; `ix_loyalty_entries_expiring` starts with
the ledger and serves one ledger's question, this one serves the sweep's.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_loyalty_entries_expires_at",
        "loyalty_entries",
        ["expires_at"],
        postgresql_where="kind = 'earn' AND expires_at IS NOT NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_loyalty_entries_expires_at", table_name="loyalty_entries")
