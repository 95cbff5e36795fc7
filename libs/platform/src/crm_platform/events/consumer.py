"""Durable, idempotent event consumers: JetStream pull consumer + inbox table.

JetStream delivers at least once, so each message is applied in one database transaction
that first records `(consumer, event_id)` in the inbox: a second delivery of the same event
(a redelivery, a republish after a relay crash, a re-drive) finds the row and changes nothing.
The ack follows the commit; losing it only causes a redelivery the inbox absorbs.

Dead-lettering is ours, not the server's: the JetStream consumer redelivers without limit and
we move a message to the dead-letter stream when its handler fails on delivery number
`max_deliver` or later. Were the server to stop at `max_deliver`, a dead-letter publish
failing on the last attempt would leave the message stranded, delivered to no one.

A fetched batch of several events is applied in one transaction: one statement records
every event in the inbox, the handlers run for the new ones in order (each in its own span,
continuing its producer's trace) or a `batch_handler` gets them all at once, one commit,
then the acks. The events of a million-row import cost a few statements per hundred
instead of a transaction each. When anything in the batch fails, it is rolled back and its
events go through the one-by-one path, where a failing event is retried and dead-lettered
on its own; a lone event goes that way straight away.

A database outage is not the event's fault: such failures are naked for later and never
dead-letter, however long the outage. They do raise the delivery count, so after a long
outage a message gets fewer retries for a genuine handler failure; a re-drive fixes that.
"""

import asyncio
import contextlib
import datetime as dt
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from opentelemetry.trace import Status, StatusCode
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_platform.events import metrics
from crm_platform.events.consumer_spans import batch_span, event_span
from crm_platform.events.deadletter import dead_letter
from crm_platform.events.durable import Durable
from crm_platform.events.envelope import Envelope, EnvelopeError
from crm_platform.events.failures import is_transient
from crm_platform.events.inbox import record_new
from crm_platform.events.streams import ensure_deadletter_stream

log = logging.getLogger(__name__)
_MAX_OUTAGE_PAUSE = 10.0
# Bounds how long a message may wait behind a drain poll that found the stream empty.
_DRAIN_POLL = 0.01

# Decodes `envelope.payload` itself; runs inside the inbox transaction and must not commit.
Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
# The same for several events at once, in the order they were published.
BatchHandler = Callable[[AsyncSession, Sequence[Envelope]], Awaitable[None]]


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNHANDLED = "unhandled"  # no handler for this event type: recorded and acked


class EventConsumer:
    def __init__(
        self,
        nats_client: Client | JetStreamContext,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        stream: str,
        durable: str,
        subjects: Sequence[str],
        handlers: Mapping[str, Handler],
        fallback: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        wanted_since: Callable[[], Awaitable[dt.datetime | None]] | None = None,
        start_margin: float = 5.0,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        batch: int = 100,
        retry_delays: Sequence[float] = (1.0, 5.0, 30.0),
        fetch_timeout: float = 1.0,
        stream_replicas: int = 1,
    ) -> None:
        """`handlers` maps full proto names (`Crm-Event-Type`) to handlers; `durable` names
        the JetStream consumer, the inbox partition and the dead-letter subject.
        `fallback` handles every other type (a consumer that decodes any event generically);
        without it they are recorded in the inbox and acked unhandled.
        `batch_handler` handles the new events of a fetched batch together (module
        docstring); it must do what the handlers would do one by one.
        `wanted_since()`: since when the handlers want events, None while they want none
        (a gateway with no active webhook). It is asked before every fetch. While it says
        None the consumer keeps no durable on the server (it deletes it): JetStream then
        passes over what is published meanwhile, where a durable would deliver every event
        of a million-row import to be acked unread. When a time comes back the durable is
        made again, delivering from that time less `start_margin` seconds (for clocks that
        differ between the caller and NATS); an existing durable is bound as it is. One
        deleted under a consumer that still wants events (another process's stale answer)
        is made again when the next fetch fails, and the inbox drops what comes twice.
        `retry_delays[n-1]` is the pause before attempt n+1 (the last one repeats)."""
        if max_deliver < 1 or not subjects or not retry_delays:
            raise ValueError("need max_deliver >= 1, subjects and retry_delays")
        self._js = nats_client.jetstream() if isinstance(nats_client, Client) else nats_client
        self._sessions = session_factory
        self._durable = durable
        self._handlers = dict(handlers)
        self._fallback = fallback
        self._batch_handler = batch_handler
        self._wanted_since = wanted_since
        self._server_side = Durable(
            self._js, stream, durable, list(subjects), ack_wait, dt.timedelta(seconds=start_margin)
        )
        self._since: dt.datetime | None = None
        self._max_deliver = max_deliver
        self._batch = batch
        self._stream_replicas = stream_replicas
        self._retry_delays = list(retry_delays)
        self._fetch_timeout = fetch_timeout
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._draining = False
        self._stopping = asyncio.Event()
        self._outage_pause = self._retry_delays[0]

    @property
    def durable(self) -> str:
        return self._durable

    def stop(self) -> None:
        self._stopping.set()

    async def ensure(self, since: dt.datetime | None = None) -> None:
        """The dead-letter stream and the durable (`Durable.bind`); bound to it."""
        await ensure_deadletter_stream(self._js, replicas=self._stream_replicas)
        self._subscription = await self._server_side.bind(since)

    async def run(self) -> None:
        """Consume until `stop()`, riding out NATS and database outages."""
        self._stopping.clear()
        waiting = False
        while not self._stopping.is_set():
            if self._wanted_since is not None and not await self._wanted():
                await self._pause(self._fetch_timeout)
                continue
            if self._subscription is None:
                try:
                    await self.ensure(self._since)
                except Exception as exc:  # NATS away, or the stream not provisioned yet
                    # Once per wait: a stream whose service is not deployed may never come.
                    level = logging.DEBUG if waiting else logging.WARNING
                    log.log(level, "consumer %s cannot subscribe yet: %r", self._durable, exc)
                    waiting = True
                    await self._pause(1.0)
                    continue
                waiting = False
            assert self._subscription is not None
            try:
                messages = await self._fetch(self._subscription)
            except TimeoutError:
                continue  # nothing to do, or NATS away: the next fetch finds out
            except Exception as exc:
                log.warning("consumer %s fetch failed: %r", self._durable, exc)
                await self._resubscribe()
                await self._pause(1.0)
                continue
            await self._process_batch(messages)

    async def _fetch(self, subscription: JetStreamContext.PullSubscription) -> list[Msg]:
        """nats-py's fetch(n) returns what is already pending at once, but a long poll for n
        messages waits for all n or the timeout after the first arrives. So an idle consumer
        long-polls for one message (woken the moment it is published) and then drains with
        short polls for whole batches until the stream is quiet again."""
        if self._draining:
            try:
                return await subscription.fetch(self._batch, timeout=_DRAIN_POLL)
            except TimeoutError:
                self._draining = False
        messages = await subscription.fetch(1, timeout=self._fetch_timeout)
        self._draining = True
        return messages

    async def _process_batch(self, messages: list[Msg]) -> None:
        if len(messages) > 1 and await self._apply_together(messages):
            return
        for index, msg in enumerate(messages):
            if self._stopping.is_set():
                await self._hand_back(messages[index:])
                return
            if not await self._process_safely(msg):
                await self._hand_back(messages[index + 1 :])
                await self._pause(self._outage_pause)
                self._outage_pause = min(self._outage_pause * 2, _MAX_OUTAGE_PAUSE)
                return
            self._outage_pause = self._retry_delays[0]

    async def _apply_together(self, messages: list[Msg]) -> bool:
        """The batch applied in one transaction and acked; False if anything failed (then
        nothing was applied, and the caller goes one by one)."""
        try:
            envelopes = [Envelope.from_message(msg) for msg in messages]
        except EnvelopeError:
            return False  # the one-by-one path dead-letters it
        started = time.perf_counter()
        try:
            async with self._sessions() as session, session.begin():
                new = await record_new(session, self._durable, [e.event_id for e in envelopes])
                fresh = [envelope for envelope in envelopes if envelope.event_id in new]
                unhandled = await self._handle_together(session, fresh)
        except Exception as exc:
            log.info("consumer %s: batch failed, one by one now: %r", self._durable, exc)
            return False
        metrics.CONSUMER_HANDLER_SECONDS.labels(self._durable).observe(
            time.perf_counter() - started
        )
        metrics.CONSUMER_LAG.labels(self._durable).set(messages[-1].metadata.num_pending)
        redelivered = sum(1 for msg in messages if msg.metadata.num_delivered > 1)
        if redelivered:
            metrics.CONSUMER_REDELIVERIES.labels(self._durable).inc(redelivered)
        metrics.CONSUMER_PROCESSED.labels(self._durable).inc(len(fresh) - unhandled)
        if unhandled:
            metrics.CONSUMER_UNHANDLED.labels(self._durable).inc(unhandled)
        if len(fresh) < len(envelopes):
            metrics.CONSUMER_DUPLICATES.labels(self._durable).inc(len(envelopes) - len(fresh))
        for msg in messages:
            await self._settle(msg.ack())
        return True

    async def _handle_together(self, session: AsyncSession, fresh: list[Envelope]) -> int:
        """Run the handlers of `fresh` in `session`; how many had none."""
        if not fresh:
            return 0
        if self._batch_handler is not None:
            with batch_span(self._durable, fresh):
                await self._batch_handler(session, fresh)
            return 0
        unhandled = 0
        for envelope in fresh:
            handler = self._handlers.get(envelope.event_type, self._fallback)
            with event_span(self._durable, envelope) as span:
                if handler is None:
                    unhandled += 1
                    span.set_attribute("crm.outcome", Outcome.UNHANDLED.value)
                    continue
                await handler(session, envelope)
                span.set_attribute("crm.outcome", Outcome.APPLIED.value)
        return unhandled

    async def _wanted(self) -> bool:
        """Whether to fetch now, asking `wanted_since()` (kept for a durable made next). If
        it fails, a bound durable goes on: the handlers decide per event, in their
        transaction."""
        assert self._wanted_since is not None
        try:
            self._since = await self._wanted_since()
        except Exception as exc:
            log.warning("consumer %s: wanted_since() failed: %r", self._durable, exc)
            return self._subscription is not None
        if self._since is None:
            await self._drop_durable()
            return False
        return True

    async def _drop_durable(self) -> None:
        await self._resubscribe()
        metrics.CONSUMER_LAG.labels(self._durable).set(0)  # nothing waits for it now
        try:
            await self._server_side.delete()
        except Exception as exc:  # NATS away: asked again before the next fetch
            log.debug("consumer %s: durable not deleted: %r", self._durable, exc)

    async def _hand_back(self, messages: list[Msg]) -> None:
        # Another instance (or we, later) can take them now rather than after ack_wait.
        for msg in messages:
            await self._settle(msg.nak())

    async def _process_safely(self, msg: Msg) -> bool:
        try:
            return await self.process(msg)
        except Exception:  # our own bug: JetStream redelivers after ack_wait
            log.exception("consumer %s failed on a message", self._durable)
            return True

    async def process(self, msg: Msg) -> bool:
        """Apply, skip or dead-letter one message and settle it with JetStream. False when
        the database seems unavailable (the caller should slow down)."""
        meta = msg.metadata
        metrics.CONSUMER_LAG.labels(self._durable).set(meta.num_pending)
        if meta.num_delivered > 1:
            metrics.CONSUMER_REDELIVERIES.labels(self._durable).inc()
        try:
            envelope = Envelope.from_message(msg)
        except EnvelopeError as exc:
            await self._dead_letter(msg, f"bad envelope: {exc}")
            return True
        with event_span(self._durable, envelope) as span:
            started = time.perf_counter()
            try:
                outcome = await self.apply(envelope)
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                return await self._failed(msg, exc)
            finally:
                elapsed = time.perf_counter() - started
                metrics.CONSUMER_HANDLER_SECONDS.labels(self._durable).observe(elapsed)
            span.set_attribute("crm.outcome", outcome.value)
        self._count(outcome)
        await self._settle(msg.ack())
        return True

    async def apply(self, envelope: Envelope) -> Outcome:
        """Record the event in the inbox and run its handler, in one transaction."""
        async with self._sessions() as session, session.begin():
            if not await record_new(session, self._durable, [envelope.event_id]):
                return Outcome.DUPLICATE
            handler = self._handlers.get(envelope.event_type, self._fallback)
            if handler is None:
                return Outcome.UNHANDLED
            await handler(session, envelope)
        return Outcome.APPLIED

    def _count(self, outcome: Outcome) -> None:
        counter = {
            Outcome.APPLIED: metrics.CONSUMER_PROCESSED,
            Outcome.DUPLICATE: metrics.CONSUMER_DUPLICATES,
            Outcome.UNHANDLED: metrics.CONSUMER_UNHANDLED,
        }[outcome]
        counter.labels(self._durable).inc()

    async def _failed(self, msg: Msg, error: Exception) -> bool:
        metrics.CONSUMER_FAILURES.labels(self._durable).inc()
        attempt = msg.metadata.num_delivered
        delay = self._retry_delays[min(attempt, len(self._retry_delays)) - 1]
        # Infrastructure trouble must not use up the event's attempts: a database outage would
        # otherwise dead-letter everything that arrives meanwhile.
        if is_transient(error):
            log.warning("consumer %s: database unavailable: %r", self._durable, error)
            await self._settle(msg.nak(delay=max(delay, self._outage_pause)))
            return False
        if attempt >= self._max_deliver:
            await self._dead_letter(msg, f"{type(error).__name__}: {error}")
            return True
        log.warning(
            "consumer %s: handler failed (attempt %d of %d): %r",
            self._durable,
            attempt,
            self._max_deliver,
            error,
        )
        await self._settle(msg.nak(delay=delay))
        return True

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        try:
            await dead_letter(self._js, msg, consumer=self._durable, reason=reason)
        except Exception as exc:
            # Not acked: it comes back and is dead-lettered then.
            log.warning("consumer %s: dead-letter publish failed: %r", self._durable, exc)
            await self._settle(msg.nak(delay=self._retry_delays[0]))
            return
        metrics.CONSUMER_DEAD_LETTERS.labels(self._durable).inc()
        log.error("consumer %s: message dead-lettered: %s", self._durable, reason)
        await self._settle(msg.term())

    async def _settle(self, acknowledgement: Awaitable[None]) -> None:
        # A lost ack or nak only means a redelivery, which the inbox absorbs.
        try:
            await acknowledgement
        except Exception as exc:
            log.debug("consumer %s: ack/nak not sent: %r", self._durable, exc)

    async def _resubscribe(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                await subscription.unsubscribe()
            except Exception as exc:
                log.debug("consumer %s: unsubscribe failed: %r", self._durable, exc)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
