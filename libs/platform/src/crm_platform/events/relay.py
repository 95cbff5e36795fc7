"""The outbox relay: publishes committed outbox rows to JetStream, oldest first.

Each batch is one transaction: lock the oldest unpublished rows, publish them all (pipelined:
send every message, then await the acks together), mark exactly the acked rows published,
commit. A crash anywhere leaves unacked or unmarked rows unpublished, so they go out again;
JetStream drops the repeats inside its duplicate window because Nats-Msg-Id is the event id,
and consumers' inboxes drop any that arrive later.

Only one relay per database publishes at a time (a transaction-scoped advisory lock), so
events leave in `seq` order even with several service replicas: for one aggregate that is
commit order, which consumers' projections rely on. The others poll and take over within a
poll interval when the active one dies. `FOR UPDATE SKIP LOCKED` still guards the rows.

Run it standalone with `python -m crm_platform.events.relay --database-url ... --nats-url ...`
(see `relay_cli`).
"""

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.js.api import PubAck
from nats.js.client import JetStreamContext
from sqlalchemy import MetaData, Row, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_platform.db.engine import asyncpg_dsn
from crm_platform.events import metrics
from crm_platform.events.envelope import Envelope
from crm_platform.events.failures import is_transient
from crm_platform.events.listener import Notifications
from crm_platform.events.outbox import NOTIFY_CHANNEL
from crm_platform.events.schema import outbox_table

log = logging.getLogger(__name__)

OnConnect = Callable[[JetStreamContext], Awaitable[object]]

# Any fixed key works: advisory locks are scoped to the database, and each service has its own.
_RELAY_LOCK_KEY = 0x63726D5F6F757478  # "crm_outx"
_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)").bindparams(key=_RELAY_LOCK_KEY)
_MARK = text(
    "UPDATE outbox SET published_at = clock_timestamp() WHERE id = ANY(CAST(:ids AS uuid[]))"
)
# Both through the partial index of unpublished rows: cheap while the backlog is small, and
# bounded by the backlog when it is not (and then refreshed at most once per interval).
_GAUGES = text(
    """
    SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL),
           (SELECT greatest(extract(epoch FROM clock_timestamp() - occurred_at), 0)
              FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1)
    """
)
_PURGE = text(
    """
    DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox WHERE published_at < clock_timestamp() - CAST(:retention AS interval)
        ORDER BY published_at LIMIT :limit)
    """
)
_PURGE_CHUNK = 10_000

_outbox = outbox_table(MetaData())
_COLUMNS = [
    _outbox.c[name]
    for name in (
        "id",
        "subject",
        "event_type",
        "aggregate_id",
        "aggregate_version",
        "occurred_at",
        "payload",
        "trace_headers",
    )
]


@dataclass(frozen=True)
class _Batch:
    selected: int = 0
    acked: int = 0
    locked_out: bool = False  # another relay holds the lock


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        nats_client: Client,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        publish_timeout: float = 5.0,
        retention: dt.timedelta = dt.timedelta(days=7),
        purge_interval: float = 60.0,
        metrics_interval: float = 1.0,
        on_connect: OnConnect | None = None,
    ) -> None:
        """`on_connect(js)` runs before publishing after every (re)connect, e.g. to
        provision the service's stream; it is retried until it succeeds."""
        self._engine = engine
        self._nc = nats_client
        # Room for a whole batch: each batch's futures are settled before the next one, so
        # publish_async never has to wait for a slot (waiting would yield per message).
        self._js = nats_client.jetstream(
            timeout=publish_timeout, publish_async_max_pending=max(batch_size, 4000)
        )
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._retention = retention
        self._purge_interval = purge_interval
        self._metrics_interval = metrics_interval
        self._on_connect = on_connect
        self._connected_generation: int | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._backoff = 0.0
        self._gauges_at = 0.0
        self._purged_at = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Publish until `stop()`; survives NATS and database outages."""
        self._stopping.clear()
        dsn = asyncpg_dsn(self._engine.url.render_as_string(hide_password=False))
        listener = asyncio.create_task(Notifications(dsn, NOTIFY_CHANNEL, self._wake).run())
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                pause = await self._cycle()
                if pause is None:
                    await self._wait(self._poll_interval, wake_early=True)
                else:
                    await self._wait(pause, wake_early=False)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def publish_pending(self) -> int:
        """Publish until the outbox is empty or a publish fails; the number acked."""
        total = 0
        while True:
            batch = await self._publish_batch()
            total += batch.acked
            full = batch.selected == self._batch_size
            if batch.locked_out or batch.acked < batch.selected or not full:
                return total

    async def _cycle(self) -> float | None:
        """One wake-up's work; how long to pause before the next (None: until woken)."""
        try:
            if not self._nc.is_connected:
                # The backlog matters most now: keep the gauges moving while NATS is away.
                await self._refresh_gauges(force=False)
                return self._poll_interval
            if not await self._provisioned():
                return self._next_backoff()
            outcome = await self._drain()
            await self._housekeeping()
        except Exception as exc:  # keep the process alive, whatever failed, and try again
            if is_transient(exc):
                log.warning("outbox relay: database unavailable: %r", exc)
            else:
                log.exception("outbox relay cycle failed")
            return self._next_backoff()
        return outcome

    async def _drain(self) -> float | None:
        while not self._stopping.is_set():
            batch = await self._publish_batch()
            await self._refresh_gauges(force=False)
            if batch.locked_out:
                return self._poll_interval
            if batch.selected and not batch.acked:  # nothing got through: NATS trouble
                return self._next_backoff()
            self._backoff = 0.0
            # Rows that failed beside acked ones are retried by the next batch straight away,
            # so one unroutable row cannot throttle the rest of the outbox.
            if batch.selected < self._batch_size:
                return None
        return None

    async def _publish_batch(self) -> _Batch:
        async with self._engine.begin() as conn:
            if not await conn.scalar(_LOCK):
                return _Batch(locked_out=True)
            query = (
                select(*_COLUMNS)
                .where(_outbox.c.published_at.is_(None))
                .order_by(_outbox.c.seq)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            )
            rows = (await conn.execute(query)).all()
            if not rows:
                return _Batch()
            acked = await self._publish(rows)
            if acked:
                await conn.execute(_MARK, {"ids": acked})
        metrics.OUTBOX_PUBLISHED.inc(len(acked))
        return _Batch(selected=len(rows), acked=len(acked))

    async def _publish(self, rows: Sequence[Row[Any]]) -> list[uuid.UUID]:
        """Send every row, then await the acks together; the ids JetStream acknowledged."""
        sent: list[tuple[uuid.UUID, asyncio.Future[PubAck]]] = []
        error: BaseException | None = None
        try:
            for row in rows:
                envelope = Envelope(
                    event_id=row.id,
                    event_type=row.event_type,
                    subject=row.subject,
                    aggregate_id=row.aggregate_id,
                    aggregate_version=row.aggregate_version,
                    occurred_at=row.occurred_at,
                    payload=row.payload,
                    trace_headers=dict(row.trace_headers or {}),
                )
                # No wait_stall: with a timeout every call would go through a task and a
                # loop iteration, and every message would leave in its own write(2).
                future = await self._js.publish_async(
                    row.subject, row.payload, headers=envelope.to_headers()
                )
                sent.append((row.id, future))
        except (nats.errors.Error, OSError) as exc:  # connection lost mid-batch
            error = exc
        if sent:
            _, pending = await asyncio.wait(
                [future for _, future in sent], timeout=self._publish_timeout
            )
            for future in pending:
                future.cancel()
        acked = []
        for event_id, future in sent:
            if future.cancelled():
                error = error or TimeoutError("no ack from JetStream")
            elif (failure := future.exception()) is not None:
                error = error or failure
            else:
                acked.append(event_id)
        failures = len(rows) - len(acked)
        if failures:
            metrics.OUTBOX_PUBLISH_FAILURES.inc(failures)
            log.warning("outbox publish failed for %d of %d events: %r", failures, len(rows), error)
        return acked

    async def _provisioned(self) -> bool:
        generation = int(self._nc.stats["reconnects"])
        if self._on_connect is None or self._connected_generation == generation:
            return True
        try:
            await self._on_connect(self._js)
        except Exception:
            log.exception("outbox relay on_connect failed; retrying")
            return False
        self._connected_generation = generation
        return True

    async def _housekeeping(self) -> None:
        await self._refresh_gauges(force=True)
        if time.monotonic() - self._purged_at >= self._purge_interval:
            await self.purge()
            self._purged_at = time.monotonic()

    async def _refresh_gauges(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._gauges_at < self._metrics_interval:
            return
        self._gauges_at = now
        async with self._engine.connect() as conn:
            backlog, age = (await conn.execute(_GAUGES)).one()
        metrics.OUTBOX_BACKLOG.set(backlog)
        metrics.OUTBOX_OLDEST_AGE.set(float(age or 0.0))

    async def purge(self) -> int:
        """Delete rows published longer than `retention` ago, in bounded chunks."""
        total = 0
        while not self._stopping.is_set():
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    _PURGE, {"retention": self._retention, "limit": _PURGE_CHUNK}
                )
            total += result.rowcount
            if result.rowcount < _PURGE_CHUNK:
                break
        return total

    def _next_backoff(self) -> float:
        self._backoff = min(max(self._backoff * 2, 0.1), 5.0)
        return self._backoff

    async def _wait(self, seconds: float, *, wake_early: bool) -> None:
        waits = [asyncio.ensure_future(self._stopping.wait())]
        if wake_early:
            waits.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()


if __name__ == "__main__":
    # `python -m crm_platform.events.relay`; the CLI lives beside, to keep this module small.
    from crm_platform.events.relay_cli import main

    main()
