"""Nothing is lost and nothing applies twice when NATS or the relay dies mid-flight."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from nats.js.client import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_platform.events.connection import connect_nats
from crm_platform.events.consumer import EventConsumer
from crm_platform.events.envelope import EVENT_ID, Envelope
from crm_platform.events.outbox import write_events
from crm_platform.events.relay import OutboxRelay
from crm_platform.events.streams import ensure_service_stream, stream_name
from crm_platform.testing.nats import NatsServer
from crm_platform.testing.plugin import make_state_dir
from crm_platform.testing.ports import free_port
from crm_platform.testing.postgres import PostgresServer

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
    stream_count,
    unique_service,
    unpublished,
)

pytestmark = pytest.mark.integration


async def test_events_written_while_nats_is_dead_arrive_after_it_returns(
    database_url: str, nats_server: NatsServer, nats_url: str
) -> None:
    service = unique_service()
    written: list[uuid.UUID] = []

    async def write(count: int) -> None:
        events = [account_event(service, len(written) + n) for n in range(count)]
        async with AsyncSession(engine) as session, session.begin():
            await write_events(session, events)
        written.extend(e.event_id for e in events)

    async with database(database_url) as engine:
        relay_nc = await connect_nats(nats_url, "test-relay")
        consumer_nc = await connect_nats(nats_url, "test-consumer")
        relay = OutboxRelay(
            engine,
            relay_nc,
            poll_interval=0.2,
            on_connect=lambda js: ensure_service_stream(js, service),
        )
        consumer = EventConsumer(
            consumer_nc,
            async_sessionmaker(engine, expire_on_commit=False),
            stream=stream_name(service),
            durable=f"{service}-worker",
            subjects=[f"crm.{service}.>"],
            handlers={EVENT_TYPE: record_effect},
            fetch_timeout=0.2,
        )
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
        try:
            await write(20)
            await eventually(lambda: _effects_are(engine, 20))

            nats_server.kill()
            for _ in range(20):
                started = time.monotonic()
                await write(10)
                assert time.monotonic() - started < 1.0  # writes do not wait for NATS
            await asyncio.sleep(1.0)
            assert await unpublished(engine) == 200
            await eventually(lambda: _gauge_is("crm_outbox_backlog", 200))
            assert sample("crm_outbox_oldest_unpublished_age_seconds") > 0

            nats_server.start()
            await eventually(lambda: _effects_are(engine, 220), within=30)
            assert await unpublished(engine) == 0
        finally:
            nats_server.start()
            relay.stop()
            consumer.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 15)
            await relay_nc.close()
            await consumer_nc.close()

    async with nats_connection(nats_url) as nc:
        messages = await read_stream(nc.jetstream(), stream_name(service))
    ids = [uuid.UUID(m.headers[EVENT_ID]) for m in messages if m.headers]
    assert sorted(ids) == sorted(written)
    assert len(ids) == len(set(ids)) == 220


async def test_a_database_outage_delays_events_but_dead_letters_none(
    database_url: str, postgres_server: PostgresServer, nats_url: str
) -> None:
    service = unique_service()
    async with database(database_url) as engine, nats_connection(nats_url) as nc:
        js = nc.jetstream()
        await ensure_service_stream(js, service)
        # No polling to speak of: only NOTIFY, on a listener that must reconnect, wakes it.
        relay = OutboxRelay(engine, nc, poll_interval=600)
        consumer = EventConsumer(
            nc,
            async_sessionmaker(engine, expire_on_commit=False),
            stream=stream_name(service),
            durable=f"{service}-worker",
            subjects=[f"crm.{service}.>"],
            handlers={EVENT_TYPE: record_effect},
            max_deliver=2,  # a few transient failures would use these up
            retry_delays=(0.05,),
            fetch_timeout=0.2,
        )
        tasks = [asyncio.create_task(relay.run()), asyncio.create_task(consumer.run())]
        try:
            async with AsyncSession(engine) as session, session.begin():
                await write_events(session, [account_event(service, n) for n in range(10)])
            await eventually(lambda: _effects_are(engine, 10))

            postgres_server.kill()
            # Events from elsewhere keep arriving while our database is down.
            for n in range(10):
                event = account_event(service, n)
                envelope = Envelope.for_message(
                    subject=event.subject,
                    message=event.message,
                    aggregate_id=event.aggregate_id,
                    aggregate_version=1,
                )
                await js.publish(event.subject, envelope.payload, headers=envelope.to_headers())
            await asyncio.sleep(1.5)
            await asyncio.to_thread(postgres_server.start)

            async with AsyncSession(engine) as session, session.begin():
                await write_events(session, [account_event(service, n) for n in range(10)])
            await eventually(lambda: _effects_are(engine, 30), within=30)
            await eventually(lambda: _drained(engine))
        finally:
            if not postgres_server.is_running():
                await asyncio.to_thread(postgres_server.start)
            relay.stop()
            consumer.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 15)
    durable = f"{service}-worker"
    assert sample("crm_consumer_redeliveries_total", consumer=durable) > 0  # it did retry
    assert sample("crm_consumer_dead_letters_total", consumer=durable) == 0
    assert sample("crm_consumer_processed_total", consumer=durable) == 30


async def test_a_service_starts_and_writes_while_nats_has_never_been_up(
    database_url: str,
) -> None:
    root = make_state_dir("crm-test-nats-late-")
    late = NatsServer(root / "store", free_port(), free_port())
    service = unique_service()
    try:
        async with database(database_url) as engine:
            started = time.monotonic()
            nc = await connect_nats(late.url, "test-late", first_connect_timeout=0.5)
            assert time.monotonic() - started < 2.0
            assert not nc.is_connected
            relay = OutboxRelay(
                engine,
                nc,
                poll_interval=0.2,
                on_connect=lambda js: ensure_service_stream(js, service),
            )
            running = asyncio.create_task(relay.run())
            try:
                async with AsyncSession(engine) as session, session.begin():
                    await write_events(session, [account_event(service, n) for n in range(30)])
                await asyncio.sleep(0.5)
                assert await unpublished(engine) == 30

                late.start()
                await eventually(lambda: _drained(engine), within=20)
                assert nc.is_connected
                assert await stream_count(nc.jetstream(), service) == 30
            finally:
                relay.stop()
                await asyncio.wait_for(running, 10)
                await nc.close()
    finally:
        late.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_a_relay_killed_mid_batch_loses_nothing_and_duplicates_nothing(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    service = unique_service()
    total = 20_000
    async with database(database_url) as engine, nats_connection(nats_url) as nc:
        js = nc.jetstream()
        await ensure_service_stream(js, service)
        written: set[uuid.UUID] = set()
        for _ in range(4):
            events = [account_event(service, n) for n in range(total // 4)]
            async with AsyncSession(engine) as session, session.begin():
                await write_events(session, events)
            written.update(e.event_id for e in events)

        log = tmp_path / "relay.log"
        command = [sys.executable, "-m", "crm_platform.events.relay"]
        command += ["--database-url", database_url, "--nats-url", nats_url]
        command += ["--batch-size", "5000"]
        with log.open("wb") as output:
            relay = await asyncio.create_subprocess_exec(
                *command, stdout=output, stderr=subprocess.STDOUT
            )
        try:
            await eventually(
                lambda: _stream_has_at_least(js, service, 2000), within=30, interval=0.01
            )
        finally:
            os.kill(relay.pid, signal.SIGKILL)
            await asyncio.wait_for(relay.wait(), 10)
        await asyncio.sleep(0.3)  # acks in flight settle
        in_stream = await stream_count(js, service)
        marked = total - await unpublished(engine)
        assert 0 < in_stream < total, log.read_text()
        # The kill hit a batch that JetStream had (partly) stored but PostgreSQL never marked:
        # the next relay republishes those rows, and only the duplicate window saves us.
        assert in_stream > marked

        second = OutboxRelay(engine, nc, batch_size=2000)
        # The dead relay's transaction (and advisory lock) ends once PostgreSQL notices.
        await eventually(lambda: _publish_all(second, engine), within=30)
        messages = await read_stream(js, stream_name(service))
    ids = [uuid.UUID(m.headers[EVENT_ID]) for m in messages if m.headers]
    assert len(ids) == total
    assert set(ids) == written


async def _publish_all(relay: OutboxRelay, engine: AsyncEngine) -> bool:
    await relay.publish_pending()
    return await unpublished(engine) == 0


async def _drained(engine: AsyncEngine) -> bool:
    return await unpublished(engine) == 0


async def _stream_has_at_least(js: JetStreamContext, service: str, count: int) -> bool:
    return await stream_count(js, service) >= count


async def _effects_are(engine: AsyncEngine, value: int) -> bool:
    return await count_effects(engine) == value


async def _gauge_is(name: str, value: float) -> bool:
    return sample(name) == value
