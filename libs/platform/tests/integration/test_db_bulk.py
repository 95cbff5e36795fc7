"""copy_rows on real PostgreSQL: values arrive as an INSERT would store them, inside the
caller's transaction."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Date,
    DateTime,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_platform.db.bulk import copy_rows
from crm_platform.db.engine import create_engine

pytestmark = pytest.mark.integration

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(50), nullable=False),
    Column("tags", ARRAY(String(20)), nullable=False),
    Column("data", JSONB, nullable=False),
    Column("maybe", JSONB),
    Column("strict", JSON(none_as_null=True)),
    Column("born", Date),
    Column("seen_at", DateTime(timezone=True)),
)
ROW = {
    "name": "Zoë 张",
    "tags": ["a", "b"],
    "data": {"addresses": [{"city": "北京"}], "n": 1.5},
    "maybe": None,
    "strict": None,
    "born": dt.date(1990, 5, 1),
    "seen_at": dt.datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=dt.UTC),
}


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


async def stored(engine: AsyncEngine) -> dict[str, dict[str, object]]:
    """Each row by name, JSON columns as the database holds them (null vs JSON null)."""
    query = select(
        things, func.jsonb_typeof(things.c.maybe).label("maybe_type"), things.c.strict.is_(None)
    )
    async with engine.connect() as conn:
        return {row.name: dict(row._mapping) for row in await conn.execute(query)}


async def test_copied_rows_read_back_as_inserted_ones(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(things), [{**ROW, "id": uuid.uuid4(), "name": "inserted"}])
        await copy_rows(conn, things, [{**ROW, "id": uuid.uuid4(), "name": "copied"}])

    found = await stored(engine)
    inserted, copied = found["inserted"], found["copied"]
    for row in (inserted, copied):
        del row["id"], row["name"]
    assert copied == inserted
    assert copied["data"] == ROW["data"]
    assert copied["maybe_type"] == "null"  # JSON null, as SQLAlchemy stores None by default


async def test_copy_is_part_of_the_callers_transaction(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        # The first statement of the transaction: COPY must not run on its own, committed.
        await copy_rows(conn, things, [{**ROW, "id": uuid.uuid4(), "name": "rolled back"}])
        await conn.rollback()
    async with engine.connect() as conn:
        await copy_rows(conn, things, [{**ROW, "id": uuid.uuid4(), "name": "committed"}])
        await conn.commit()
    assert list(await stored(engine)) == ["committed"]
