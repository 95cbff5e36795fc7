"""Word prefixes of every name, GIN-indexed: "begins a word of the name" for any script.

pg_trgm only makes trigrams of the letters its locale knows (ASCII in the C locale), so a
Chinese name's `LIKE '% 张%'` scanned the whole trigram index. Every prefix of every word
(up to 12 characters; longer queries are checked against `search_name` as well) is kept
in an array instead, and a name search is one containment lookup whose selectivity the
planner knows from the array's statistics.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The same expressions as repository/tables.py's search names (a generated column cannot
# read another one).
_NAMES = {
    "accounts": "lower((name || ' ' || legal_name) COLLATE pg_c_utf8)",
    "contacts": (
        "lower((first_name || ' ' || last_name || ' ' || last_name || first_name)"
        " COLLATE pg_c_utf8)"
    ),
}


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION word_prefixes(name text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT coalesce(array_agg(DISTINCT left(word, n) COLLATE "C"), '{}')
          FROM regexp_split_to_table(name, ' ') AS word,
               generate_series(1, least(length(word), 12)) AS n
          WHERE word <> ''
        $$
        """
    )
    for table, name in _NAMES.items():
        op.add_column(
            table,
            sa.Column(
                "name_prefixes",
                sa.ARRAY(sa.Text(collation="C")),
                sa.Computed(f"word_prefixes({name})", persisted=True),
                nullable=False,
            ),
        )
        op.create_index(
            f"ix_{table}_name_prefixes", table, ["name_prefixes"], postgresql_using="gin"
        )


def downgrade() -> None:
    for table in _NAMES:
        op.drop_index(f"ix_{table}_name_prefixes", table)
        op.drop_column(table, "name_prefixes")
    op.execute("DROP FUNCTION word_prefixes(text)")
