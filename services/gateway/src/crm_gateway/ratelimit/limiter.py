"""A fixed one-minute window per principal, shared through PostgreSQL without a query per
request: each process leases a small block of the window's budget with one upsert, spends
it from memory, and leases again when it runs out.

The shared counter never grants more than the limit, so all processes together never let
more than `limit` requests through in a window. The price is the other way round: tokens a
process leased and did not spend are lost to the others until the window turns. A process
leases its next block when half of the current one is spent (so callers seldom wait for
the database), which means a caller may be refused up to (processes - 1) x 2 x block
requests early (block = limit / 20, at most 1,000).
"""

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

WINDOW_SECONDS = 60
# A block is a twentieth of the limit, so a busy caller costs one upsert per twentieth of
# its budget, and at most this many requests, so a very high limit does not strand many.
_MAX_BLOCK = 1000


class BudgetStore(Protocol):
    async def lease(self, *, key: str, window: int, block: int) -> int:
        """Add `block` to `key`'s shared count in `window`; the count after adding."""
        ...


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """The RateLimit-* headers (IETF draft) for every answer to this caller."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={WINDOW_SECONDS}",
        }


@dataclass
class _Budget:
    window: int = -1
    left: int = 0  # leased by this process and not yet spent
    shared: int = 0  # every process's leases in this window, when we last leased
    exhausted: bool = False  # the window's budget is all leased out
    refill: "asyncio.Future[None] | None" = None


class RateLimiter:
    def __init__(self, store: BudgetStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._budgets: dict[str, _Budget] = {}

    async def spend(self, key: str, limit: int) -> Decision:
        """Spend one request of `key`'s budget of `limit` per minute."""
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        reset = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        budget = self._budgets.setdefault(key, _Budget())
        if budget.window != window:
            self._budgets[key] = budget = _Budget(window=window)
            self._forget_old(window)
        block = self._block(limit)
        if budget.left <= block // 2 and not budget.exhausted and budget.refill is None:
            # The next block is leased while this one still lasts: callers seldom wait.
            budget.refill = asyncio.ensure_future(self._lease(budget, key, window, limit))
            budget.refill.add_done_callback(_retrieve_exception)
        if budget.left == 0 and budget.refill is not None:
            await asyncio.shield(budget.refill)
        if budget.left == 0:
            return Decision(False, limit, 0, reset)
        budget.left -= 1
        remaining = max(0, limit - min(budget.shared, limit) + budget.left)
        return Decision(True, limit, remaining, reset)

    async def _lease(self, budget: _Budget, key: str, window: int, limit: int) -> None:
        block = self._block(limit)
        try:
            shared = await self._store.lease(key=key, window=window, block=block)
        finally:
            budget.refill = None
        # Whatever the count went past the limit by was never ours to spend.
        budget.left += max(0, min(block, block - (shared - limit)))
        budget.shared = shared
        budget.exhausted = shared >= limit

    @staticmethod
    def _block(limit: int) -> int:
        return max(1, min(limit // 20, _MAX_BLOCK))

    def _forget_old(self, window: int) -> None:
        if len(self._budgets) > 10_000:
            stale = [k for k, b in self._budgets.items() if b.window != window]
            for key in stale:
                del self._budgets[key]


def _retrieve_exception(lease: "asyncio.Future[None]") -> None:
    # A failed lease is the waiting caller's error (503 when the database is away); when
    # none waited, the next request leases again.
    if not lease.cancelled():
        lease.exception()
