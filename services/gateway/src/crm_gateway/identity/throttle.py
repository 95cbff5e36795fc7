"""Failed logins counted per key ("email:<address>", "ip:<address>") in PostgreSQL, so every
gateway process sees the same counts. A key's window starts at its first failure; once its
failures reach the limit, logins for that key wait until the window ends."""

import datetime as dt
import math
from collections.abc import Mapping

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.identity.schema import login_failures


class SqlLoginThrottle:
    def __init__(self, engine: AsyncEngine, *, window_seconds: int) -> None:
        self._engine = engine
        self._window = dt.timedelta(seconds=window_seconds)

    async def retry_after(self, limits: Mapping[str, int]) -> int | None:
        """Seconds until a key at its limit (key -> most failures allowed) opens again;
        None when no key is at its limit."""
        window_end = login_failures.c.window_started_at + self._window
        statement = select(
            login_failures.c.key,
            login_failures.c.failures,
            func.extract("epoch", window_end - func.now()).label("remaining"),
        ).where(login_failures.c.key.in_(list(limits)), window_end > func.now())
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        waits = [float(row.remaining) for row in rows if row.failures >= limits[row.key]]
        return max(1, math.ceil(max(waits))) if waits else None

    async def record_failure(self, keys: list[str]) -> None:
        statement = insert(login_failures).values(
            # One order for every writer, so two logins locking the same keys cannot deadlock.
            [{"key": key, "failures": 1, "window_started_at": func.now()} for key in sorted(keys)]
        )
        expired = login_failures.c.window_started_at <= func.now() - self._window
        statement = statement.on_conflict_do_update(
            index_elements=[login_failures.c.key],
            set_={
                "failures": case((expired, 1), else_=login_failures.c.failures + 1),
                "window_started_at": case(
                    (expired, func.now()), else_=login_failures.c.window_started_at
                ),
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)
        # Keys nobody retried would stay forever. Rows another login holds are skipped, so
        # the sweep never waits or deadlocks; a later one takes them.
        stale = (
            select(login_failures.c.key)
            .where(login_failures.c.window_started_at <= func.now() - self._window)
            .with_for_update(skip_locked=True)
        )
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(login_failures).where(login_failures.c.key.in_(stale.scalar_subquery()))
            )

    async def clear(self, key: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(login_failures).where(login_failures.c.key == key))
