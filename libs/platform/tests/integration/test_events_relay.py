"""Outbox writes and the relay, against real PostgreSQL and JetStream."""

import asyncio
import datetime as dt
import time
import uuid

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import Connection, MetaData, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from crm_platform.db.engine import asyncpg_dsn
from crm_platform.events.envelope import EVENT_ID, MSG_ID, Envelope
from crm_platform.events.outbox import NOTIFY_CHANNEL, write_events
from crm_platform.events.relay import OutboxRelay
from crm_platform.events.schema import (
    create_event_tables,
    drop_event_tables,
    inbox_table,
    outbox_table,
)
from crm_platform.events.streams import ensure_service_stream, stream_name

from .events_support import (
    account_event,
    database,
    eventually,
    nats_connection,
    read_stream,
    sample,
    unique_service,
    unpublished,
)

pytestmark = pytest.mark.integration


async def test_write_events_is_one_insert_and_one_notify_at_commit(database_url: str) -> None:
    service = unique_service()
    async with database(database_url) as engine:
        statements: list[str] = []

        def remember(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", remember)
        listener = await asyncpg.connect(asyncpg_dsn(database_url))
        notified: list[str] = []
        await listener.add_listener(NOTIFY_CHANNEL, lambda *args: notified.append(args[2]))
        tracer = TracerProvider().get_tracer("test")
        events = [account_event(service, n) for n in range(5000)]
        try:
            async with AsyncSession(engine) as session, session.begin():
                with tracer.start_as_current_span("request") as span:
                    await write_events(session, events)
                trace_id = format(span.get_span_context().trace_id, "032x")
                await asyncio.sleep(0.2)
                assert notified == []  # nothing before commit
            await eventually(lambda: _true(len(notified) == 1), within=5)
            await asyncio.sleep(0.2)
            assert len(notified) == 1
        finally:
            await listener.close()
        inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1

        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT id, event_type, payload, trace_headers FROM outbox ORDER BY seq")
                )
            ).all()
    assert [row.id for row in rows] == [e.event_id for e in events]
    assert rows[0].event_type == "crm.customer.events.v1.AccountCreated"
    assert rows[-1].payload == events[-1].message.SerializeToString()
    assert trace_id in rows[0].trace_headers["traceparent"]


async def test_rolled_back_events_are_not_in_the_outbox(database_url: str) -> None:
    async with database(database_url) as engine:

        async def failing_change() -> None:
            async with AsyncSession(engine) as session, session.begin():
                await write_events(session, [account_event(unique_service())])
                raise RuntimeError("the business change failed")

        with pytest.raises(RuntimeError):
            await failing_change()
        assert await unpublished(engine) == 0


async def test_migration_helpers_create_the_same_schema_as_the_tables(database_url: str) -> None:
    def migrate_and_compare(connection: Connection) -> list[object]:
        op = Operations(MigrationContext.configure(connection))
        create_event_tables(op)
        metadata = MetaData()
        outbox_table(metadata)
        inbox_table(metadata)
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    def indexes(connection: Connection) -> list[str]:
        query = text("SELECT indexdef FROM pg_indexes WHERE tablename = 'outbox' ORDER BY 1")
        return [row[0] for row in connection.execute(query)]

    def drop(connection: Connection) -> None:
        drop_event_tables(Operations(MigrationContext.configure(connection)))

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            assert await conn.run_sync(migrate_and_compare) == []
            found = await conn.run_sync(indexes)
            assert any("WHERE (published_at IS NULL)" in index for index in found)
            assert any("WHERE (published_at IS NOT NULL)" in index for index in found)
            await conn.run_sync(drop)
            assert await conn.scalar(text("SELECT to_regclass('outbox')")) is None
    finally:
        await engine.dispose()


async def test_relay_publishes_every_event_exactly_once_in_order(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    published_before = sample("crm_outbox_published_total")
    async with database(database_url) as engine, nats_connection(nats_url) as nc:
        js = nc.jetstream()
        relay = OutboxRelay(
            engine,
            nc,
            poll_interval=0.2,
            metrics_interval=0.0,
            on_connect=lambda js: ensure_service_stream(js, service),
        )
        running = asyncio.create_task(relay.run())
        written: list[uuid.UUID] = []
        try:
            # Many small transactions while the relay runs, one import-sized batch, more small.
            for chunk in (*[10] * 50, 1000, *[10] * 50):
                events = [account_event(service, len(written) + n) for n in range(chunk)]
                async with AsyncSession(engine) as session, session.begin():
                    await write_events(session, events)
                written += [e.event_id for e in events]
            await eventually(lambda: _drained(engine), within=30)
        finally:
            relay.stop()
            await asyncio.wait_for(running, 10)

        messages = await read_stream(js, stream_name(service))
    ids = [uuid.UUID(m.headers[EVENT_ID]) for m in messages if m.headers]
    assert len(written) == 2000
    assert len(messages) == len(written)
    assert ids == written  # every event once, in commit order
    first = Envelope.from_message(messages[0])
    assert messages[0].headers is not None
    assert messages[0].headers[MSG_ID] == str(first.event_id)
    assert first.aggregate_version == 1
    assert first.event_type == "crm.customer.events.v1.AccountCreated"
    assert sample("crm_outbox_published_total") - published_before == 2000
    assert sample("crm_outbox_backlog") == 0


async def test_a_commit_wakes_the_relay_without_waiting_for_the_poll(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    async with database(database_url) as engine, nats_connection(nats_url) as nc:
        await ensure_service_stream(nc.jetstream(), service)
        relay = OutboxRelay(engine, nc, poll_interval=600)
        running = asyncio.create_task(relay.run())
        try:
            await asyncio.sleep(0.5)  # the first pass (and the listener) are done
            for _ in range(3):
                async with AsyncSession(engine) as session, session.begin():
                    await write_events(session, [account_event(service)])
                started = time.monotonic()
                await eventually(lambda: _drained(engine), within=5, interval=0.01)
                assert time.monotonic() - started < 1.0
        finally:
            relay.stop()
            await asyncio.wait_for(running, 10)


async def test_relay_throughput(database_url: str, nats_url: str) -> None:
    """Not a pass/fail on speed: prints the figure, and checks the batch all arrived."""
    service = unique_service()
    count = 20_000
    async with database(database_url) as engine, nats_connection(nats_url) as nc:
        js = nc.jetstream()
        await ensure_service_stream(js, service)
        async with AsyncSession(engine) as session, session.begin():
            await write_events(session, [account_event(service, n) for n in range(count)])
        relay = OutboxRelay(engine, nc, batch_size=1000)
        started = time.perf_counter()
        assert await relay.publish_pending() == count
        elapsed = time.perf_counter() - started
        info = await js.stream_info(stream_name(service))
    print(f"\nrelay: {count} events in {elapsed:.2f}s = {count / elapsed:,.0f} events/s")
    assert info.state.messages == count


async def test_relay_retries_rows_whose_publish_failed(database_url: str, nats_url: str) -> None:
    """Rows without a stream are never acked; they stay unpublished and are retried, while
    the rows around them go out."""
    service = unique_service()
    orphan = unique_service()  # no stream for its subjects
    failures_before = sample("crm_outbox_publish_failures_total")
    async with database(database_url) as engine, nats_connection(nats_url) as nc:
        js = nc.jetstream()
        await ensure_service_stream(js, service)
        good = [account_event(service, n) for n in range(20)]
        bad = account_event(orphan)
        async with AsyncSession(engine) as session, session.begin():
            await write_events(session, [*good[:10], bad, *good[10:]])
        relay = OutboxRelay(engine, nc, publish_timeout=1.0)
        assert await relay.publish_pending() == 20
        assert await unpublished(engine) == 1
        assert sample("crm_outbox_publish_failures_total") - failures_before == 1

        await ensure_service_stream(js, orphan)  # the route appears: the row goes out
        assert await relay.publish_pending() == 1
        assert await unpublished(engine) == 0
        messages = await read_stream(js, stream_name(orphan))
    assert [m.headers[EVENT_ID] for m in messages if m.headers] == [str(bad.event_id)]


async def test_published_rows_are_kept_for_the_retention_window(
    database_url: str, nats_url: str
) -> None:
    service = unique_service()
    async with database(database_url) as engine, nats_connection(nats_url) as nc:
        await ensure_service_stream(nc.jetstream(), service)
        async with AsyncSession(engine) as session, session.begin():
            await write_events(session, [account_event(service, n) for n in range(30)])
        relay = OutboxRelay(engine, nc, retention=dt.timedelta(days=7))
        assert await relay.publish_pending() == 30
        async with AsyncSession(engine) as session, session.begin():
            await write_events(session, [account_event(service, n) for n in range(5)])
            # Ten of the published rows went out eight days ago.
            await session.execute(
                text(
                    "UPDATE outbox SET published_at = now() - interval '8 days' "
                    "WHERE id IN (SELECT id FROM outbox WHERE published_at IS NOT NULL LIMIT 10)"
                )
            )
        assert await relay.purge() == 10
        async with engine.connect() as conn:
            published = await conn.scalar(
                text("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
            )
        assert published == 20
        assert await unpublished(engine) == 5  # never purged, whatever their age


async def _drained(engine: AsyncEngine) -> bool:
    return await unpublished(engine) == 0


async def _true(value: bool) -> bool:
    return value
