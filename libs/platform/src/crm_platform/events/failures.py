"""Telling infrastructure trouble (retry later) from a failure of the work itself."""

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy.exc

_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    sqlalchemy.exc.TimeoutError,  # connection pool exhausted
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


def is_transient(error: BaseException) -> bool:
    """Whether `error` comes from an unreachable or restarting database, or a lost race
    (serialization failure, deadlock): retrying the same work later may well succeed."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _TRANSIENT):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        # Not __context__: an error a handler raises while handling a timeout is its own.
        pending += [current.__cause__, getattr(current, "orig", None)]
    return False
