"""Async engine and session factory (SQLAlchemy 2 + asyncpg)."""

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from crm_platform.db.pool_metrics import POOLS

# What repositories and the outbox writer execute statements on.
Executor = AsyncSession | AsyncConnection

T = TypeVar("T")


def create_engine(
    url: str, *, pool_size: int = 10, server_settings: Mapping[str, str] | None = None
) -> AsyncEngine:
    """`server_settings` are set on every connection (PostgreSQL run-time parameters)."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip per checkout. A connection broken by a database
        # restart fails its call (UNAVAILABLE, retried by the client) and leaves the pool.
        # Fail fast when the database is away, so callers answer UNAVAILABLE quickly.
        connect_args={
            "timeout": 5,
            "command_timeout": 30,
            "server_settings": dict(server_settings or {}),
        },
    )
    POOLS.watch(engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The plain libpq DSN asyncpg.connect() accepts, from an SQLAlchemy URL."""
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool without BEGIN/ROLLBACK around each use: for single-statement reads,
    where a transaction only adds two round trips."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def once_more_if_disconnected(operation: Callable[[], Awaitable[T]]) -> T:
    """`operation()`, run again if it failed on a pooled connection the database had closed
    (it restarted since): the pool then drops its connections, so the second try connects
    afresh instead of failing a request that nothing else stood in the way of. Only for
    operations that are safe to repeat."""
    try:
        return await operation()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await operation()
