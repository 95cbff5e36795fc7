"""Search: lower-cased names kept by the database, and the indexes that find records by
name prefix, similar name (pg_trgm), email, phone, tag and custom field.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NAMES = {
    "accounts": "lower((name || ' ' || legal_name) COLLATE pg_c_utf8)",
    "contacts": (
        "lower((first_name || ' ' || last_name || ' ' || last_name || first_name)"
        " COLLATE pg_c_utf8)"
    ),
}


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, expression in NAMES.items():
        op.add_column(
            table,
            sa.Column(
                "search_name",
                sa.Text(collation="C"),
                sa.Computed(expression, persisted=True),
                nullable=False,
            ),
        )
        op.create_index(f"ix_{table}_search_name", table, ["search_name", "id"])
        op.execute(
            f"CREATE INDEX ix_{table}_search_name_trgm ON {table} "
            "USING gin (search_name gin_trgm_ops)"
        )
        op.execute(f"CREATE INDEX ix_{table}_phone ON {table} (phone) WHERE phone <> ''")
        op.execute(
            f"CREATE INDEX ix_{table}_other_phones ON {table} USING gin (other_phones)"
        )
        op.execute(f"CREATE INDEX ix_{table}_tags ON {table} USING gin (tags)")
        op.execute(
            f"CREATE INDEX ix_{table}_custom_fields ON {table} "
            "USING gin (custom_fields jsonb_path_ops)"
        )
    op.execute("CREATE INDEX ix_contacts_email ON contacts (email text_pattern_ops)")
    op.execute("CREATE INDEX ix_contacts_other_emails ON contacts USING gin (other_emails)")
    op.execute(
        "CREATE INDEX ix_contacts_account_roles ON contacts "
        "USING gin (account_roles jsonb_path_ops)"
    )


def downgrade() -> None:
    for name in ("email", "other_emails", "account_roles"):
        op.drop_index(f"ix_contacts_{name}", table_name="contacts")
    for table in NAMES:
        for name in ("custom_fields", "tags", "other_phones", "phone", "search_name_trgm"):
            op.drop_index(f"ix_{table}_{name}", table_name=table)
        op.drop_index(f"ix_{table}_search_name", table_name=table)
        op.drop_column(table, "search_name")
