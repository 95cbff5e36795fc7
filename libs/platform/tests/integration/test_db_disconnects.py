"""A pooled connection the database closed (a restart, a failover) costs a retry, not a
failed request, where the operation is safe to repeat."""

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from crm_platform.db.engine import asyncpg_dsn, create_engine, once_more_if_disconnected

pytestmark = pytest.mark.integration


async def terminate_other_backends(database_url: str) -> int:
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return int(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await admin.close()


async def test_a_dead_pooled_connection_is_replaced_once(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    calls = 0

    async def select_one() -> int:
        nonlocal calls
        calls += 1
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT 1"))).scalar_one())

    try:
        assert await select_one() == 1  # the pool now holds one open connection
        assert await terminate_other_backends(database_url) == 1
        assert await once_more_if_disconnected(select_one) == 1
        assert calls == 3  # the first try on the dead connection, then one more
    finally:
        await engine.dispose()


async def test_other_database_errors_are_not_repeated(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    calls = 0

    async def divide_by_zero() -> None:
        nonlocal calls
        calls += 1
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1 / 0"))

    try:
        with pytest.raises(DBAPIError):
            await once_more_if_disconnected(divide_by_zero)
        assert calls == 1
    finally:
        await engine.dispose()
