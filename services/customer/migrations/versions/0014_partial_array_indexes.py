"""Other emails and phones indexed only where there are some.

Nearly every contact has one email and one phone, so `other_emails` and `other_phones` are
empty arrays in nearly every row. An import looks up thousands of keys per batch with
`other_phones && array[...]`; the planner, pricing one GIN probe per key, read the whole
table instead (9 s a batch at 230,000 contacts). Partial indexes over the non-empty
arrays are as large as the few rows they cover: GIN for searches (a few values), and
the ids, whose rows an import's lookup reads to match each element against its
thousands of values hashed once. The queries spell out `<> '{}'` to use them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_accounts_other_phones", "accounts", "other_phones"),
    ("ix_contacts_other_phones", "contacts", "other_phones"),
    ("ix_contacts_other_emails", "contacts", "other_emails"),
)


def upgrade() -> None:
    for name, table, column in _INDEXES:
        nonempty = f"WHERE {column} <> '{{}}'"
        op.drop_index(name, table_name=table)
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column}) {nonempty}")
        op.execute(f"CREATE INDEX {name}_ids ON {table} (id) {nonempty}")


def downgrade() -> None:
    for name, table, column in _INDEXES:
        op.drop_index(f"{name}_ids", table_name=table)
        op.drop_index(name, table_name=table)
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column})")
