"""The search names cost PostgreSQL less to compute: same values, a quarter of the CPU.

Every contact written computes `crm_fold` twice (its `search_name` and `name_prefixes`)
and `word_prefixes` once. `translate` with 0017's 300 accented letters compares every
character of the name with each of them (~8 µs a name), though most names hold none:
ASCII and Chinese names now skip it, behind a regular expression that matches any
letter `translate` could change. `word_prefixes` ran as a SQL query per name (an
aggregate over a join of two set-returning functions, ~13 µs); as a PL/pgSQL loop it
takes half that. Its prefixes come in the order found, not sorted: the column is only
ever tested for containment (`&&`, `@>`).

The stored values stay valid, so nothing is rewritten: `crm_fold` returns the same text,
`word_prefixes` the same set of prefixes.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from pathlib import Path
from types import ModuleType

from alembic import op

from crm_platform.db.migrations import revision_module

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# Every letter of 0017's ACCENTED lies in these blocks: Latin-1 à-ÿ, Latin Extended-A and
# B, ɨ, Latin Extended Additional (held to it by test_search_names.py).
ACCENTED_BLOCKS = "[\u00e0-\u024f\u0268\u1e00-\u1eff]"


def _fold_accents() -> ModuleType:
    """Migration 0017, for its letters: one copy of them."""
    return revision_module(Path(__file__).parent, "0017")


def upgrade() -> None:
    letters = _fold_accents()
    # Not STRICT: PostgreSQL inlines a SQL function into the expression that calls it only
    # if the function's body is as strict as the function, and a CASE is not.
    op.execute(
        f"CREATE OR REPLACE FUNCTION crm_fold(name text) RETURNS text"
        f" LANGUAGE sql IMMUTABLE PARALLEL SAFE"
        f" RETURN CASE WHEN name ~ '{ACCENTED_BLOCKS}'"
        f" THEN translate(name, '{letters.ACCENTED}', '{letters.BASE}') ELSE name END"
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION word_prefixes(name text) RETURNS text[]
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        DECLARE
          word text;
          prefix text;
          found text[] := '{}';
        BEGIN
          FOREACH word IN ARRAY coalesce(string_to_array(name, ' '), '{}') LOOP
            FOR n IN 1 .. least(length(word), 12) LOOP
              prefix := left(word, n);
              IF NOT prefix = ANY(found) THEN
                found := found || prefix;
              END IF;
            END LOOP;
          END LOOP;
          RETURN found;
        END
        $$
        """
    )


def downgrade() -> None:
    letters = _fold_accents()
    op.execute(
        f"CREATE OR REPLACE FUNCTION crm_fold(name text) RETURNS text"
        f" LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT"
        f" RETURN translate(name, '{letters.ACCENTED}', '{letters.BASE}')"
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION word_prefixes(name text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT coalesce(array_agg(DISTINCT left(word, n) COLLATE "C"), '{}')
          FROM regexp_split_to_table(name, ' ') AS word,
               generate_series(1, least(length(word), 12)) AS n
          WHERE word <> ''
        $$
        """
    )
