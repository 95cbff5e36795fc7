"""Consumers apply each event once, dead-letter poison and re-drive it, and carry the trace."""

import asyncio
import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_platform.events.consumer import EventConsumer, Handler, Outcome
from crm_platform.events.deadletter import (
    CONSUMER,
    ORIGINAL_SUBJECT,
    REASON,
    dead_letters,
    redrive,
)
from crm_platform.events.envelope import EVENT_ID, MSG_ID, Envelope
from crm_platform.events.outbox import write_events
from crm_platform.events.relay import OutboxRelay
from crm_platform.events.streams import ensure_service_stream, stream_name

from .events_support import (
    EVENT_TYPE,
    account_event,
    count_effects,
    database,
    eventually,
    nats_connection,
    read_stream,
    record_effect,
    sample,
    service_stream,
    subject,
    unique_service,
)

pytestmark = pytest.mark.integration


@asynccontextmanager
async def consuming(consumer: EventConsumer) -> AsyncIterator[EventConsumer]:
    running = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 10)


def make_consumer(
    js: JetStreamContext,
    engine: AsyncEngine,
    service: str,
    handler: Handler = record_effect,
    **options: Any,
) -> EventConsumer:
    return EventConsumer(
        js,
        async_sessionmaker(engine, expire_on_commit=False),
        stream=stream_name(service),
        durable=f"{service}-worker",
        subjects=[f"crm.{service}.>"],
        handlers={EVENT_TYPE: handler},
        retry_delays=(0.05,),
        fetch_timeout=0.2,
        **options,
    )


def envelope_for(service: str) -> Envelope:
    event = account_event(service)
    return Envelope.for_message(
        subject=event.subject,
        message=event.message,
        aggregate_id=event.aggregate_id,
        aggregate_version=1,
    )


async def publish(js: JetStreamContext, envelope: Envelope, msg_id: str | None = None) -> None:
    headers = envelope.to_headers()
    if msg_id is not None:
        headers[MSG_ID] = msg_id
    await js.publish(envelope.subject, envelope.payload, headers=headers)


async def test_the_same_event_twice_is_applied_once(database_url: str, nats_url: str) -> None:
    service = unique_service()
    async with service_stream(database_url, nats_url, service) as (engine, js):
        twice, once = envelope_for(service), envelope_for(service)
        await publish(js, twice)
        # A different Nats-Msg-Id gets past JetStream's dedupe, as a re-drive does.
        await publish(js, twice, msg_id=f"{twice.event_id}:again")
        await publish(js, once)
        assert (await js.stream_info(stream_name(service))).state.messages == 3

        consumer = make_consumer(js, engine, service)
        async with consuming(consumer):
            await eventually(lambda: _at_least("crm_consumer_processed_total", consumer, 2))
            await eventually(
                lambda: _at_least("crm_consumer_duplicates_skipped_total", consumer, 1)
            )
        assert await count_effects(engine, twice.event_id) == 1
        assert await count_effects(engine, once.event_id) == 1
        assert await count_effects(engine) == 2


async def test_a_redelivery_after_a_lost_ack_is_applied_once(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    async with service_stream(database_url, nats_url, service) as (engine, js):
        consumer = make_consumer(js, engine, service, ack_wait=1.0)
        await consumer.ensure()
        envelope = envelope_for(service)
        await publish(js, envelope)

        # An earlier instance took the message, committed its effect, and died before the ack.
        earlier = await js.pull_subscribe_bind(
            durable=consumer.durable, stream=stream_name(service)
        )
        [msg] = await earlier.fetch(1, timeout=5)
        assert msg.metadata.num_delivered == 1
        assert await consumer.apply(Envelope.from_message(msg)) is Outcome.APPLIED
        await earlier.unsubscribe()
        assert await count_effects(engine, envelope.event_id) == 1

        async with consuming(consumer):
            await eventually(
                lambda: _at_least("crm_consumer_duplicates_skipped_total", consumer, 1)
            )
            assert sample("crm_consumer_redeliveries_total", consumer=consumer.durable) >= 1
            await eventually(lambda: _no_ack_pending(js, service, consumer))
        assert await count_effects(engine, envelope.event_id) == 1
        assert sample("crm_consumer_processed_total", consumer=consumer.durable) == 0


async def test_poison_is_dead_lettered_after_max_deliver_and_redrive_applies_it_once(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    attempts = 0
    fixed = False

    async def flaky(session: AsyncSession, envelope: Envelope) -> None:
        nonlocal attempts
        attempts += 1
        await record_effect(session, envelope)  # rolled back with the failure
        if not fixed:
            raise ValueError("cannot apply\nthis event")

    async with service_stream(database_url, nats_url, service) as (engine, js):
        consumer = make_consumer(js, engine, service, flaky, max_deliver=3)
        envelope = envelope_for(service)
        await publish(js, envelope)
        async with consuming(consumer):
            await eventually(lambda: _at_least("crm_consumer_dead_letters_total", consumer, 1))
            await asyncio.sleep(0.3)  # no further attempt follows the dead letter
            assert attempts == 3
            assert await count_effects(engine) == 0

            [letter] = await dead_letters(js, consumer=consumer.durable)
            headers = letter.headers or {}
            assert letter.subject == f"crm_deadletter.{consumer.durable}"
            assert letter.data == envelope.payload
            assert headers[EVENT_ID] == str(envelope.event_id)
            assert headers[ORIGINAL_SUBJECT] == envelope.subject
            assert headers[CONSUMER] == consumer.durable
            assert headers[REASON] == "ValueError: cannot apply this event"

            fixed = True
            assert await redrive(js, durable=consumer.durable) == 1
            await eventually(lambda: _effects_are(engine, 1))
            assert await dead_letters(js, consumer=consumer.durable) == []
            assert await redrive(js, durable=consumer.durable) == 0
            await asyncio.sleep(0.3)
        assert attempts == 4
        assert await count_effects(engine, envelope.event_id) == 1
        assert sample("crm_consumer_dead_letters_total", consumer=consumer.durable) == 1
        replayed = (await read_stream(js, stream_name(service)))[-1]
        assert replayed.headers is not None
        assert replayed.headers[MSG_ID] == f"{envelope.event_id}:redrive:{letter.seq}"
        assert replayed.headers[EVENT_ID] == str(envelope.event_id)


async def test_garbled_envelopes_go_straight_to_dead_letters_and_the_cli_redrives(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    calls = 0

    async def never(session: AsyncSession, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1

    async with service_stream(database_url, nats_url, service) as (engine, js):
        consumer = make_consumer(js, engine, service, never, max_deliver=5)
        headers = envelope_for(service).to_headers()
        headers["Crm-Aggregate-Version"] = "seven"
        await js.publish(subject(service), b"\x00garbage", headers=headers)
        async with consuming(consumer):
            await eventually(lambda: _at_least("crm_consumer_dead_letters_total", consumer, 1))
            listed = await _cli("list", nats_url, consumer.durable)
            assert "Crm-Aggregate-Version is garbled" in listed
            assert "re-drove 1 dead letter(s)" in await _cli("redrive", nats_url, consumer.durable)
            # Still garbled, so it comes straight back: one delivery each time, no handler call.
            await eventually(lambda: _at_least("crm_consumer_dead_letters_total", consumer, 2))
        assert calls == 0
        assert sample("crm_consumer_redeliveries_total", consumer=consumer.durable) == 0
        assert len(await dead_letters(js, consumer=consumer.durable)) == 1


async def test_unknown_event_types_are_recorded_and_acked(database_url: str, nats_url: str) -> None:
    service = unique_service()
    async with service_stream(database_url, nats_url, service) as (engine, js):
        consumer = make_consumer(js, engine, service)
        known = envelope_for(service)
        unknown = Envelope(
            event_id=uuid.uuid4(),
            event_type="crm.other.events.v1.SomethingNew",
            subject=subject(service, "thing", "appeared"),
            aggregate_id="x",
            aggregate_version=1,
            occurred_at=dt.datetime.now(dt.UTC),
            payload=b"\x08\x01",
        )
        await publish(js, unknown)
        await publish(js, known)
        async with consuming(consumer):
            await eventually(lambda: _at_least("crm_consumer_processed_total", consumer, 1))
            await eventually(lambda: _no_ack_pending(js, service, consumer))
        assert sample("crm_consumer_unhandled_total", consumer=consumer.durable) == 1
        assert sample("crm_consumer_dead_letters_total", consumer=consumer.durable) == 0
        assert await count_effects(engine) == 1
        async with engine.connect() as conn:
            recorded = await conn.scalar(
                text("SELECT count(*) FROM inbox WHERE consumer = :c AND event_id = :e"),
                {"c": consumer.durable, "e": unknown.event_id},
            )
        assert recorded == 1


async def test_a_fallback_handler_applies_event_types_without_their_own(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    async with service_stream(database_url, nats_url, service) as (engine, js):
        seen: list[str] = []

        async def fallback(session: AsyncSession, envelope: Envelope) -> None:
            seen.append(envelope.event_type)
            await session.execute(text("SELECT 1"))

        consumer = EventConsumer(
            js,
            async_sessionmaker(engine, expire_on_commit=False),
            stream=stream_name(service),
            durable=f"{service}-worker",
            subjects=[f"crm.{service}.>"],
            handlers={EVENT_TYPE: record_effect},
            fallback=fallback,
        )
        known = envelope_for(service)
        other = Envelope(
            event_id=uuid.uuid4(),
            event_type="crm.other.events.v1.SomethingNew",
            subject=subject(service, "thing", "appeared"),
            aggregate_id="x",
            aggregate_version=1,
            occurred_at=dt.datetime.now(dt.UTC),
            payload=b"",
        )
        assert await consumer.apply(other) is Outcome.APPLIED
        assert await consumer.apply(known) is Outcome.APPLIED
        assert await consumer.apply(other) is Outcome.DUPLICATE
        assert seen == ["crm.other.events.v1.SomethingNew"]
        assert await count_effects(engine) == 1


async def test_the_consumer_span_continues_the_producers_trace(
    database_url: str, nats_url: str
) -> None:
    provider = _sdk_tracer_provider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    seen: list[SpanContext] = []

    async def traced(session: AsyncSession, envelope: Envelope) -> None:
        seen.append(trace.get_current_span().get_span_context())
        await record_effect(session, envelope)

    service = unique_service()
    try:
        async with database(database_url) as engine, nats_connection(nats_url) as nc:
            js = nc.jetstream()
            await ensure_service_stream(js, service)
            with provider.get_tracer("test").start_as_current_span("request") as request:
                async with AsyncSession(engine) as session, session.begin():
                    event = account_event(service)
                    await write_events(session, [event])
            relay = OutboxRelay(engine, nc)
            assert await relay.publish_pending() == 1
            async with consuming(make_consumer(js, engine, service, traced)):
                await eventually(lambda: _effects_are(engine, 1))
    finally:
        exporter.shutdown()
    produced = request.get_span_context()
    [consumed] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert consumed.name == f"{event.subject} process"
    assert consumed.parent is not None
    assert consumed.parent.span_id == produced.span_id
    assert consumed.context is not None
    assert consumed.context.trace_id == produced.trace_id
    assert seen[0].span_id == consumed.context.span_id  # the handler ran inside it
    assert (consumed.attributes or {})["messaging.message.id"] == str(event.event_id)


def _sdk_tracer_provider() -> TracerProvider:
    # The global provider can be set once per process; reuse one another test installed.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    return provider


async def _cli(command: str, nats_url: str, consumer: str) -> str:
    args = [sys.executable, "-m", "crm_platform.events.deadletter", command]
    args += ["--nats-url", nats_url, "--consumer", consumer]
    result = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout


async def _at_least(metric: str, consumer: EventConsumer, value: float) -> bool:
    return sample(metric, consumer=consumer.durable) >= value


async def _effects_are(engine: AsyncEngine, value: int) -> bool:
    return await count_effects(engine) == value


async def _no_ack_pending(js: JetStreamContext, service: str, consumer: EventConsumer) -> bool:
    info = await js.consumer_info(stream_name(service), consumer.durable)
    return info.num_ack_pending == 0 and info.num_pending == 0


async def _durable_exists(js: JetStreamContext, service: str, consumer: EventConsumer) -> bool:
    try:
        await js.consumer_info(stream_name(service), consumer.durable)
    except NotFoundError:
        return False
    return True


async def test_while_no_event_is_wanted_there_is_no_durable_then_it_delivers_from_the_time_given(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    async with service_stream(database_url, nats_url, service) as (engine, js):
        wanted: dict[str, dt.datetime | None] = {"since": None}

        async def wanted_since() -> dt.datetime | None:
            return wanted["since"]

        consumer = make_consumer(js, engine, service, wanted_since=wanted_since, start_margin=0)
        await consumer.ensure()  # a durable left from when events were wanted
        async with consuming(consumer):
            await eventually(lambda: _not(_durable_exists(js, service, consumer)))
            unwanted = [envelope_for(service) for _ in range(3)]
            for envelope in unwanted:
                await publish(js, envelope)
            wanted["since"] = dt.datetime.now(dt.UTC)
            later = envelope_for(service)
            await publish(js, later)
            await eventually(lambda: _at_least("crm_consumer_processed_total", consumer, 1))

            # Deleted under it by another process's stale answer: made again from the same
            # time, and what comes twice is dropped by the inbox.
            await js.delete_consumer(stream_name(service), consumer.durable)
            last = envelope_for(service)
            await publish(js, last)
            await eventually(lambda: _applied(engine, last.event_id))
        async with engine.connect() as conn:
            inbox = await conn.scalar(
                text("SELECT count(*) FROM inbox WHERE consumer = :c"), {"c": consumer.durable}
            )
        assert inbox == 2
        assert await count_effects(engine) == 2
        assert await count_effects(engine, later.event_id) == 1
        assert await count_effects(engine, last.event_id) == 1


async def _not(check: Awaitable[bool]) -> bool:
    return not await check


async def _applied(engine: AsyncEngine, event_id: uuid.UUID) -> bool:
    return await count_effects(engine, event_id) == 1


async def test_a_batch_is_applied_in_one_go_and_a_poison_event_falls_back_to_one_by_one(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    batches: list[int] = []
    poison: set[uuid.UUID] = set()

    async def one(session: AsyncSession, envelope: Envelope) -> None:
        await record_effect(session, envelope)  # rolled back with the failure
        if envelope.event_id in poison:
            raise ValueError("cannot apply this event")

    async def many(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        batches.append(len(envelopes))
        for envelope in envelopes:
            await one(session, envelope)

    async with service_stream(database_url, nats_url, service) as (engine, js):
        consumer = make_consumer(js, engine, service, one, batch_handler=many, max_deliver=2)
        first = [envelope_for(service) for _ in range(5)]
        for envelope in first:
            await publish(js, envelope)
        await publish(js, first[0], msg_id=f"{first[0].event_id}:again")  # a re-drive
        async with consuming(consumer):
            await eventually(lambda: _effects_are(engine, 5))
            await eventually(lambda: _no_ack_pending(js, service, consumer))
            assert max(batches) > 1  # not one by one
            assert sample("crm_consumer_duplicates_skipped_total", consumer=consumer.durable) == 1

            second = [envelope_for(service) for _ in range(4)]
            poison.add(second[1].event_id)
            for envelope in second:
                await publish(js, envelope)
            await eventually(lambda: _at_least("crm_consumer_dead_letters_total", consumer, 1))
            await eventually(lambda: _effects_are(engine, 8))
        [letter] = await dead_letters(js, consumer=consumer.durable)
        assert (letter.headers or {})[EVENT_ID] == str(second[1].event_id)
        for envelope in first + second:
            applied = 0 if envelope.event_id in poison else 1
            assert await count_effects(engine, envelope.event_id) == applied


async def test_without_a_batch_handler_a_batch_shares_one_transaction(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    transactions: dict[uuid.UUID, int] = {}

    async def noting(session: AsyncSession, envelope: Envelope) -> None:
        transactions[envelope.event_id] = int(await session.scalar(text("SELECT txid_current()")))
        await record_effect(session, envelope)

    async with service_stream(database_url, nats_url, service) as (engine, js):
        consumer = make_consumer(js, engine, service, noting)
        await consumer.ensure()  # the events wait for it, and come in one fetch
        published = [envelope_for(service) for _ in range(6)]
        for envelope in published:
            await publish(js, envelope)
        async with consuming(consumer):
            await eventually(lambda: _effects_are(engine, 6))
            await eventually(lambda: _no_ack_pending(js, service, consumer))
    assert set(transactions) == {envelope.event_id for envelope in published}
    assert len(set(transactions.values())) < len(published)  # some applied together
    assert sample("crm_consumer_processed_total", consumer=consumer.durable) == 6
