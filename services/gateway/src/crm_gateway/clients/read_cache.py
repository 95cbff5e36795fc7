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

import time
from collections import OrderedDict
from typing import Generic, TypeVar

from prometheus_client import Counter

READS = Counter(
    "crm_gateway_read_cache_reads_total", "Single-record reads, by cache outcome.", ["outcome"]
)
_HIT, _MISS = READS.labels("hit"), READS.labels("miss")

Record = TypeVar("Record")

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
        if not self._enabled:
            return None
        callers = self._records.get(record_id)
        entry = callers.get(caller) if callers is not None else None
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            _MISS.inc()
            return None
        self._records.move_to_end(record_id)
        _HIT.inc()
        return entry[1]

    def put(
        self, record_id: str, caller: CallerKey, version: int, record: Record, *, epoch: int
    ) -> None:
        """Keep what the service answered; `epoch` is the one read before asking it."""
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

    def invalidate(self, record_id: str, version: int = 0) -> None:
        """Record `record_id` changed (to `version`, when known): no caller's copy is current."""
        self._records.pop(record_id, None)
        if version > self._announced.get(record_id, 0):
            self._announced[record_id] = version
            self._announced.move_to_end(record_id)
            if len(self._announced) > self._max_records:
                self._announced.popitem(last=False)
