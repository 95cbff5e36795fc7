"""Points expire on time, not only when their ledger is next used: every replica sweeps
(`loyalty.sweep_expiries`) every `interval` seconds, writing the `expire` entries, and so
the `loyalty.expired` events, of ledgers nobody has touched since their points' time came."""

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from crm_customer.usecases.loyalty import SWEEP_LEDGERS, sweep_expiries
from crm_customer.usecases.ports import UnitOfWork

log = logging.getLogger(__name__)


class ExpirySweeper:
    """Sweeps until `stop()`; a failed sweep is logged and the next one tries again."""

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
                swept = await sweep_expiries(uow=self._uow, lookback=self._lookback)
            except Exception as exc:  # the database away: the next round tries again
                log.warning("loyalty expiry sweep failed: %r", exc)
                swept = 0
            if swept < SWEEP_LEDGERS:  # else more are due: go on at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._interval)
