"""Loyalty points: an append-only ledger of entries per account or contact.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_entries",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("record_type", sa.String(20), nullable=False),
        sa.Column("record_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False, server_default=""),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("actor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_loyalty_entries"),
        sa.CheckConstraint(
            "record_type IN ('account', 'contact')", name="ck_loyalty_entries_record_type"
        ),
        sa.CheckConstraint("kind IN ('earn', 'redeem', 'expire')", name="ck_loyalty_entries_kind"),
        sa.CheckConstraint("points BETWEEN 1 AND 1000000000", name="ck_loyalty_entries_points"),
        sa.CheckConstraint("balance_after >= 0", name="ck_loyalty_entries_balance_after"),
    )
    op.create_index(
        "ix_loyalty_entries_ledger", "loyalty_entries", ["record_type", "record_id", "id"]
    )
    op.create_index(
        "ix_loyalty_entries_reference",
        "loyalty_entries",
        ["record_type", "record_id", "kind", "reference"],
        unique=True,
        postgresql_where=sa.text("reference <> ''"),
    )
    op.create_index(
        "ix_loyalty_entries_expiring",
        "loyalty_entries",
        ["record_type", "record_id", "expires_at"],
        postgresql_where=sa.text("kind = 'earn' AND expires_at IS NOT NULL"),
    )
    # Append-only for every role, the owner included: a ledger is corrected by new entries.
    op.execute(
        """
        CREATE FUNCTION loyalty_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'loyalty_entries is append-only: % is not allowed', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER loyalty_entries_no_change BEFORE UPDATE OR DELETE ON loyalty_entries"
        " FOR EACH ROW EXECUTE FUNCTION loyalty_entries_append_only()"
    )
    op.execute(
        "CREATE TRIGGER loyalty_entries_no_truncate BEFORE TRUNCATE ON loyalty_entries"
        " FOR EACH STATEMENT EXECUTE FUNCTION loyalty_entries_append_only()"
    )


def downgrade() -> None:
    op.drop_table("loyalty_entries")
    op.execute("DROP FUNCTION loyalty_entries_append_only()")
