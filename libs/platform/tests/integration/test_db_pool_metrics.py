import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.engine import make_url

from crm_platform.db.engine import create_engine

pytestmark = pytest.mark.integration


def in_use(database: str) -> float | None:
    return REGISTRY.get_sample_value(
        "crm_db_pool_connections", {"database": database, "state": "in_use"}
    )


async def test_pool_gauges_follow_checkouts(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=3)
    database = make_url(database_url).database or ""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            assert in_use(database) == 1
        assert in_use(database) == 0
        assert REGISTRY.get_sample_value("crm_db_pool_max_connections", {"database": database}) == 6
    finally:
        await engine.dispose()
