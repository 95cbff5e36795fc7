"""Accounts are found by name lower-cased by Unicode, not by the database's locale.

`lower(name)` follows the database's collation; in the C locale it lower-cases ASCII only,
so an import looking up "österreich ag" (lower-cased by Python) never found the account
"Österreich AG", and made another. The index and the lookup now lower-case in the
built-in `pg_c_utf8` collation (PostgreSQL 17+), as the search names do.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_accounts_lower_name", table_name="accounts")
    op.execute("CREATE INDEX ix_accounts_lower_name ON accounts (lower(name COLLATE pg_c_utf8))")


def downgrade() -> None:
    op.drop_index("ix_accounts_lower_name", table_name="accounts")
    op.execute("CREATE INDEX ix_accounts_lower_name ON accounts (lower(name))")
