"""Names are searched without their accents: "garcia maria" finds María García.

`search_name` and `name_prefixes` held the lower-cased name with its accents, so a query
typed without them matched only through trigram similarity, which ignores the accented
letters in the C locale: one word might be found, two were not. Both columns now fold
accented Latin letters to their base letter (`crm_fold`: one `translate`, character for
character, so prefixes keep their length), and searches fold the query the same way.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Lower-case Latin letters with diacritics (Latin-1, Extended-A/B, Vietnamese) and the
# base letter each folds to: one character for one.
ACCENTED = (
    "àáâãäåçèéêëìíîïñòóôõöùúûüýÿāăąćĉċčďēĕėęěĝğġģĥĩīĭįĵķĺļľńņňōŏő"
    "ŕŗřśŝşšţťũūŭůűųŵŷźżžơưǎǐǒǔǖǘǚǜǟǡǧǩǫǭǰǵǹǻȁȃȅȇȉȋȍȏȑȓȕȗșțȟȧȩȫȭȯ"
    "ȱȳḁḃḅḇḉḋḍḏḑḓḕḗḙḛḝḟḡḣḥḧḩḫḭḯḱḳḵḷḹḻḽḿṁṃṅṇṉṋṍṏṑṓṕṗṙṛṝṟṡṣṥṧṩṫṭṯṱṳ"
    "ṵṷṹṻṽṿẁẃẅẇẉẋẍẏẑẓẕẖẗẘẙẛạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừ"
    "ửữựỳỵỷỹøđłħıŧƀɨ"
)
BASE = (
    "aaaaaaceeeeiiiinooooouuuuyyaaaccccdeeeeegggghiiiijklllnnnooo"
    "rrrssssttuuuuuuwyzzzouaiouuuuuaagkoojgnaaaeeiioorruusthaeooo"
    "oyabbbcdddddeeeeefghhhhhiikkkllllmmmnnnnoooopprrrrsssssttttu"
    "uuuuvvwwwwwxxyzzzhtwysaaaaaaaaaaaaeeeeeeeeiioooooooooooouuuu"
    "uuuyyyyodlhitbi"
)
# The search names of repository/tables.py, before (lower) and after (folded).
_NAMES = {
    "accounts": "lower((name || ' ' || legal_name) COLLATE pg_c_utf8)",
    "contacts": (
        "lower((first_name || ' ' || last_name || ' ' || last_name || first_name)"
        " COLLATE pg_c_utf8)"
    ),
}


def upgrade() -> None:
    op.execute(
        f"CREATE FUNCTION crm_fold(name text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE"
        f" STRICT RETURN translate(name, '{ACCENTED}', '{BASE}')"
    )
    for table, name in _NAMES.items():
        _set(table, f"crm_fold({name})")


def downgrade() -> None:
    for table, name in _NAMES.items():
        _set(table, name)
    op.execute("DROP FUNCTION crm_fold(text)")


def _set(table: str, search_name: str) -> None:
    # PostgreSQL 17+: the table is rewritten once, its indexes rebuilt.
    op.execute(
        f"ALTER TABLE {table}"
        f" ALTER COLUMN search_name SET EXPRESSION AS ({search_name}),"
        f" ALTER COLUMN name_prefixes SET EXPRESSION AS (word_prefixes({search_name}))"
    )
