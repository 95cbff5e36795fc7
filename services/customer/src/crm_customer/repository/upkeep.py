"""Table upkeep after bulk writes."""

from sqlalchemy.ext.asyncio import AsyncEngine

from crm_customer.repository import tables
from crm_platform.db.engine import autocommit

_TABLES = {"contacts": tables.contacts, "accounts": tables.accounts}


async def vacuum_analyze(engine: AsyncEngine, entity: str) -> None:
    """VACUUM (ANALYZE) the table of `entity` ("contacts" or "accounts"); skipped when
    another VACUUM of it is under way. Without a ring buffer: the pages it reads, those a
    bulk import just wrote, stay in shared buffers for the searches that follow."""
    name = _TABLES[entity].name
    async with autocommit(engine).connect() as connection:
        # asyncpg's plain execute() speaks the simple query protocol: VACUUM refuses to run
        # inside the implicit transaction of a prepared statement.
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute(f"VACUUM (ANALYZE, SKIP_LOCKED, BUFFER_USAGE_LIMIT 0) {name}")
