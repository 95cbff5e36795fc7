"""The database's search-name functions (migrations 0017 and 0019) against what they are
meant to compute, written out in Python."""

import re
from types import ModuleType

import asyncpg
import pytest

from crm_platform.db.engine import asyncpg_dsn
from crm_platform.db.migrations import revision_module
from crm_platform.testing.services import migrated

from .conftest import MIGRATIONS

pytestmark = pytest.mark.integration

NAMES = [
    "anna schmidt schmidtanna",
    "maría garcía garcíamaría",
    "王 伟 王伟",
    "łukasz żółć ǖ ḁ ỹ ɨ ø đ",
    "  two  spaces ",
    "abcdefghijklmnopqrstuvwxyz",
    "",
    "Ωmega кирилл ⅷ",
]


def _migration(revision: str) -> ModuleType:
    return revision_module(MIGRATIONS / "versions", revision)


def test_every_accented_letter_is_in_the_blocks_that_skip_no_translation() -> None:
    accented = _migration("0017").ACCENTED
    blocks = _migration("0019").ACCENTED_BLOCKS
    assert [letter for letter in accented if not re.fullmatch(blocks, letter)] == []


async def test_fold_and_prefixes_are_what_they_were_meant_to_be(database_url: str) -> None:
    await migrated(MIGRATIONS, database_url)
    fold_accents = _migration("0017")
    folding = str.maketrans(fold_accents.ACCENTED, fold_accents.BASE)
    every_accent = fold_accents.ACCENTED + " " + fold_accents.ACCENTED.upper()
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for name in [*NAMES, every_accent]:
            folded, prefixes = await connection.fetchrow(
                "SELECT crm_fold($1), word_prefixes($1)", name
            )
            assert folded == name.translate(folding)
            words = [word for word in name.split(" ") if word]
            expected = {word[:n] for word in words for n in range(1, min(len(word), 12) + 1)}
            assert sorted(prefixes) == sorted(expected)
            assert len(prefixes) == len(expected)  # each once
        letters = list(fold_accents.ACCENTED)
        one_by_one = await connection.fetchval(
            "SELECT array_agg(crm_fold(letter) ORDER BY n) FROM unnest($1::text[])"
            " WITH ORDINALITY AS t(letter, n)",
            letters,
        )
        assert one_by_one == list(fold_accents.BASE)
        assert await connection.fetchval("SELECT word_prefixes(NULL)") == []
        assert await connection.fetchval("SELECT crm_fold(NULL)") is None
    finally:
        await connection.close()
