"""Telling a database outage (retry later: UNAVAILABLE / 503) or a lost race between two
transactions (ABORTED: re-read and retry) from a bug."""

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

_OUTAGE = (
    OSError,
    TimeoutError,
    PoolTimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
)


_LOST_RACE = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)


def is_database_outage(exc: BaseException) -> bool:
    return _caused_by(exc, _OUTAGE, invalidated=True)


def is_lost_race(exc: BaseException) -> bool:
    """A deadlock or serialization failure: the database aborted one of two transactions
    changing the same rows at once; the same request may succeed when sent again."""
    return _caused_by(exc, _LOST_RACE, invalidated=False)


def _caused_by(
    exc: BaseException, kinds: tuple[type[BaseException], ...], *, invalidated: bool
) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        if isinstance(current, DBAPIError):
            if invalidated and current.connection_invalidated:
                return True
            if isinstance(current.orig, BaseException):
                current = current.orig  # the driver's own error
                continue
        current = current.__cause__ or current.__context__
    return False
