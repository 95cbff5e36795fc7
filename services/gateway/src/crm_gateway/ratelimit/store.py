"""The shared budget counters: one row per principal and minute, in the gateway's database."""

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.storage import metadata
from crm_platform.db.engine import once_more_if_disconnected

rate_limit_windows = Table(
    "rate_limit_windows",
    metadata,
    Column("key", String(100), nullable=False),
    Column("minute", BigInteger, nullable=False),  # unix time // 60
    Column("used", Integer, nullable=False),
    PrimaryKeyConstraint("key", "minute"),
)

# Rows of windows this far back are of no use to anyone; purged now and then.
_KEEP_WINDOWS = 2
_PURGE_EVERY = 500


class SqlBudgetStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._leases = 0

    async def lease(self, *, key: str, window: int, block: int) -> int:
        upsert = (
            insert(rate_limit_windows)
            .values(key=key, minute=window, used=block)
            .on_conflict_do_update(
                index_elements=[rate_limit_windows.c.key, rate_limit_windows.c.minute],
                set_={"used": rate_limit_windows.c.used + block},
            )
            .returning(rate_limit_windows.c.used)
        )

        async def lease_block() -> int:
            async with self._engine.begin() as connection:
                # A counter lost in a crash costs a few requests of budget; waiting for the
                # WAL flush on every lease would cost every caller of that key its latency.
                await connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
                shared = int((await connection.execute(upsert)).scalar_one())
                self._leases += 1
                if self._leases % _PURGE_EVERY == 0:
                    await connection.execute(
                        delete(rate_limit_windows).where(
                            rate_limit_windows.c.minute < window - _KEEP_WINDOWS
                        )
                    )
            return shared

        # Repeating a lease whose answer was lost spends a block of budget, no more.
        shared = await once_more_if_disconnected(lease_block)
        return shared
