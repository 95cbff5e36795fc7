"""Points expire on time, not only when their ledger is next used: a sweep in the service
writes the `expire` entries (and so the `loyalty.expired` events) of ledgers nobody has
touched since their points' time came.

Safe to run in every replica: each ledger is settled under its record's lock by
`expire_due_points`, which finds nothing left to do when another sweep or a caller got
there first. Earns that expired more than `lookback` ago are left to the lazy path (a
service down that long expires them when their ledger is next used)."""

import asyncio
import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable

from crm_customer.usecases.loyalty import expire_due_points
from crm_customer.usecases.ports import UnitOfWork

log = logging.getLogger(__name__)

# The author of the service's own entries, in their history and events: no person.
SYSTEM_ACTOR = uuid.UUID(int=0)
SWEEP_LEDGERS = 500  # per query; the sweep goes on at once while ledgers are due


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def sweep_expiries(
    *,
    uow: Callable[[], UnitOfWork],
    lookback: dt.timedelta,
    limit: int = SWEEP_LEDGERS,
    clock: Callable[[], dt.datetime] = _now,
) -> int:
    """Expire what is due in up to `limit` ledgers, each in its own transaction; how many
    ledgers had points due."""
    now = clock()
    async with uow() as work:
        due = await work.loyalty.due(since=now - lookback, until=now, limit=limit)
    for key in due:
        async with uow() as work:
            if await work.loyalty.lock(key):  # else deleted meanwhile: nothing to expire
                await expire_due_points(work, key, now=clock(), actor_id=SYSTEM_ACTOR)
                await work.commit()
    return len(due)


class ExpirySweeper:
    """Sweeps every `interval` seconds until `stop()`; failures are logged and retried."""

    def __init__(
        self, uow: Callable[[], UnitOfWork], *, interval: float, lookback: dt.timedelta
    ) -> None:
        self._uow = uow
        self._interval = interval
        self._lookback = lookback
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        self._stopping.clear()
        while not self._stopping.is_set():
            try:
                while await sweep_expiries(uow=self._uow, lookback=self._lookback) == (
                    SWEEP_LEDGERS
                ):
                    if self._stopping.is_set():
                        return
            except Exception as exc:  # the database away: the next round tries again
                log.warning("loyalty expiry sweep failed: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
