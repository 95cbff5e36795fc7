"""Imports: the jobs, their uploaded files (kept until the job ends) and the rows they did
not import.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_accounts_lower_name ON accounts (lower(name))")
    op.create_table(
        "imports",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("default_region", sa.String(2)),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("mapping", JSONB, nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("headers", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("ignored_columns", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("total", sa.BigInteger, nullable=False, server_default="0"),
        *(
            sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
            for name in ("processed", "created", "updated", "skipped", "failed")
        ),
        sa.Column("owner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("team_id", UUID(as_uuid=True)),
        sa.Column("partner_id", UUID(as_uuid=True)),
        sa.Column("principal", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("lease_holder", UUID(as_uuid=True)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
    )
    op.execute("CREATE INDEX ix_imports_unfinished ON imports (created_at) "
               "WHERE status IN ('queued', 'running')")
    op.create_table(
        "import_file_chunks",
        sa.Column("import_id", UUID(as_uuid=True),
                  sa.ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    # Uploads are mostly compressed already (XLSX) or compress slowly (pglz): stored as is.
    op.execute("ALTER TABLE import_file_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    op.create_table(
        "import_problems",
        sa.Column("import_id", UUID(as_uuid=True),
                  sa.ForeignKey("imports.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("line", sa.BigInteger, primary_key=True),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("cells", ARRAY(sa.Text), nullable=False),
    )


def downgrade() -> None:
    op.drop_index("ix_accounts_lower_name", table_name="accounts")
    op.drop_table("import_problems")
    op.drop_table("import_file_chunks")
    op.drop_table("imports")
