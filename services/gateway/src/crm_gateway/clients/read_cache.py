"""Single records the services have already answered, kept until an event says they changed.

A read through the gateway costs two Python processes a gRPC hop (~2 ms of CPU together on
the development machine); most reads ask again for a record that has not changed. So a
record is kept per caller — exactly what the service let that caller see, fields and all,
so no rule is re-implemented here — and dropped when the owning service publishes any event
about it. See docs/architecture.md, "Gateway read cache".

Staleness is bounded three ways: events (tens of milliseconds), a TTL (when events stop
arriving, e.g. the owning service's relay is down), and switching the cache off whenever the
gateway is not subscribed to events at all.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar, cast

from prometheus_client import Counter

from crm_platform.ids import parse_uuid

READS = Counter(
    "crm_gateway_read_cache_reads_total", "Single-record reads, by cache outcome.", ["outcome"]
)
_HIT, _MISS = READS.labels("hit"), READS.labels("miss")


class Versioned(Protocol):
    version: int


Record = TypeVar("Record", bound=Versioned)
Kind = TypeVar("Kind", bound=Versioned)

# The caller's signed principal metadata: what the service authorized the answer for.
CallerKey = tuple[tuple[str, str], ...]


class ReadCache(Generic[Record]):
    def __init__(
        self, *, max_records: int, ttl_seconds: float, max_callers_per_record: int = 64
    ) -> None:
        self._max_records = max_records
        self._max_callers = max_callers_per_record
        self._ttl = ttl_seconds
        # Record id -> caller -> (stored at, record); least recently used id first.
        self._records: OrderedDict[str, dict[CallerKey, tuple[float, Record]]] = OrderedDict()
        # Record id -> the newest version an event announced. An answer read before that
        # event but stored after it must not be kept; remembered for as many ids as we cache.
        self._announced: OrderedDict[str, int] = OrderedDict()
        # Record id -> caller -> the fetch under way: concurrent misses share one call, so
        # a burst of readers of a record the cache has not got (or just dropped) asks once.
        self._in_flight: dict[str, dict[CallerKey, asyncio.Future[Versioned]]] = {}
        # Set while events flow: tells the other gateway processes about a change made here
        # at once, rather than after the owning service's event comes round (~10 ms).
        self.tell_peers: Callable[[str, int], Awaitable[None]] | None = None
        self._enabled = False
        # Changes whenever events may have been missed; an answer read under an older epoch
        # is not kept, since the event that would have dropped it may be among those missed.
        self.epoch = 0

    @property
    def enabled(self) -> bool:
        return self._enabled

    def enable(self) -> None:
        """Events are flowing: from now on every change will reach `invalidate`."""
        self.epoch += 1
        self._records.clear()
        self._enabled = True

    def disable(self) -> None:
        """Events may be missed from now on: forget everything and stop keeping records."""
        self.epoch += 1
        self._enabled = False
        self._records.clear()

    def __len__(self) -> int:
        return sum(len(callers) for callers in self._records.values())

    def get(self, record_id: str, caller: CallerKey) -> Record | None:
        entry = self._entry(_key(record_id), caller)
        return entry[1] if entry is not None else None

    def _entry(self, record_id: str, caller: CallerKey) -> tuple[float, Record] | None:
        """(age in seconds, record) of a live copy, counted as a hit or a miss."""
        if not self._enabled:
            return None
        entry = self._live(record_id, caller)
        if entry is None:
            _MISS.inc()
            return None
        self._hit(record_id)
        return entry

    def _live(self, record_id: str, caller: CallerKey) -> tuple[float, Record] | None:
        """(age in seconds, record) of a copy within its TTL, counted as nothing."""
        callers = self._records.get(record_id) if self._enabled else None
        entry = callers.get(caller) if callers is not None else None
        if entry is None:
            return None
        age = time.monotonic() - entry[0]
        return (age, entry[1]) if age <= self._ttl else None

    def _hit(self, record_id: str) -> None:
        self._records.move_to_end(record_id)
        _HIT.inc()

    def put(
        self, record_id: str, caller: CallerKey, version: int, record: Record, *, epoch: int
    ) -> None:
        """Keep what the service answered; `epoch` is the one read before asking it."""
        record_id = _key(record_id)
        if not self._enabled or epoch != self.epoch or version < self._announced.get(record_id, 0):
            return
        callers = self._records.get(record_id)
        if callers is None:
            callers = self._records[record_id] = {}
            if len(self._records) > self._max_records:
                self._records.popitem(last=False)
        elif len(callers) >= self._max_callers:
            callers.clear()
        callers[caller] = (time.monotonic(), record)

    def fresh(self, kind: type[Kind], record_id: str, caller: CallerKey) -> Kind | None:
        """The record if memory holds a copy not due for a refresh, counted as a hit; else
        None, counted as nothing: the caller then reads through, which counts it."""
        record_id = _key(record_id)
        entry = self._live(record_id, caller)
        if entry is None or entry[0] > self._ttl / 2 or not isinstance(entry[1], kind):
            return None
        self._hit(record_id)
        return entry[1]

    async def read_through(
        self,
        kind: type[Kind],
        record_id: str,
        caller: CallerKey,
        fetch: Callable[[], Awaitable[Kind]],
    ) -> Kind:
        """The record from memory, else from `fetch` (shared with concurrent readers).

        A copy past half its TTL is still served, and refreshed in the background: records
        read all the time then never expire all at once into a burst of misses."""
        record_id = _key(record_id)
        entry = self._entry(record_id, caller)
        if entry is not None and isinstance(entry[1], kind):
            if entry[0] > self._ttl / 2:
                self._fetching(record_id, caller, fetch)
            return entry[1]
        # Shielded: one reader hanging up must not cancel the others' answer.
        return cast(Kind, await asyncio.shield(self._fetching(record_id, caller, fetch)))

    def _fetching(
        self, record_id: str, caller: CallerKey, fetch: Callable[[], Awaitable[Versioned]]
    ) -> "asyncio.Future[Versioned]":
        """The fetch of this record for this caller under way, started if there is none."""
        fetches = self._in_flight.setdefault(record_id, {})
        pending = fetches.get(caller)
        if pending is None:
            pending = fetches[caller] = asyncio.ensure_future(self._fetch(record_id, caller, fetch))
            pending.add_done_callback(_retrieve_exception)
        return pending

    async def _fetch(
        self, record_id: str, caller: CallerKey, fetch: Callable[[], Awaitable[Versioned]]
    ) -> Versioned:
        epoch = self.epoch
        try:
            record = await fetch()
        except BaseException:
            # A refresh that finds the record gone (or no longer this caller's to see).
            self._records.get(record_id, {}).pop(caller, None)
            raise
        finally:
            fetches = self._in_flight.get(record_id, {})
            if fetches.get(caller) is asyncio.current_task():
                del fetches[caller]
                if not fetches:
                    del self._in_flight[record_id]
        self.put(record_id, caller, record.version, cast(Record, record), epoch=epoch)
        return record

    async def changed_here(self, record_id: str, version: int) -> None:
        """This process changed the record: drop our copies, then every other process's,
        before the caller hears back, so its next read sees its write on any of them."""
        record_id = _key(record_id)
        self.invalidate(record_id, version)
        if self.tell_peers is not None:
            await self.tell_peers(record_id, version)

    def invalidate(self, record_id: str, version: int = 0) -> None:
        """Record `record_id` changed (to `version`, when known): no caller's copy is current."""
        record_id = _key(record_id)
        self._records.pop(record_id, None)
        # Readers from now on must not join a fetch that may have read the old version.
        self._in_flight.pop(record_id, None)
        if version > self._announced.get(record_id, 0):
            self._announced[record_id] = version
            self._announced.move_to_end(record_id)
            if len(self._announced) > self._max_records:
                self._announced.popitem(last=False)


def _key(record_id: str) -> str:
    """One key per record, however the caller spelt its id: the services take upper-case,
    hyphen-less, `{...}` and `urn:uuid:` UUIDs too, and events name it canonically."""
    parsed = parse_uuid(record_id)
    return str(parsed) if parsed is not None else record_id


def _retrieve_exception(fetch: "asyncio.Future[Versioned]") -> None:
    # Every reader may have hung up; the failure was theirs to see, not the event loop's.
    if not fetch.cancelled():
        fetch.exception()
