"""Outbox -> relay -> JetStream -> consumer, on real PostgreSQL and NATS.

Two figures: relay throughput draining a backlog, and end-to-end event latency (commit of
the write -> the consumer's handler) at a steady write rate.
"""

import asyncio
import contextlib
import datetime as dt
import multiprocessing
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from google.protobuf.wrappers_pb2 import StringValue
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_platform.db.engine import create_engine, create_session_factory
from crm_platform.db.schema import new_metadata
from crm_platform.events.connection import connect_nats
from crm_platform.events.consumer import EventConsumer
from crm_platform.events.envelope import Envelope
from crm_platform.events.outbox import OutboxEvent, write_events
from crm_platform.events.relay import OutboxRelay
from crm_platform.events.schema import inbox_table, outbox_table
from crm_platform.events.streams import ensure_service_stream, stream_name
from crm_platform.testing.nats import NatsServer
from crm_platform.testing.ports import free_port
from crm_platform.testing.postgres import PostgresServer

SERVICE = "bench"
BACKLOG = 50_000
WRITE_RATE = 500


def run(*, seconds: float) -> str:
    root = Path(tempfile.mkdtemp(prefix="crm-bench-events-"))
    root.chmod(0o755)  # PostgreSQL runs as nobody when we are root
    postgres = PostgresServer(root / "pg", free_port(), durable=True)
    nats_server = NatsServer(root / "nats", free_port(), free_port())
    postgres.start()
    nats_server.start()
    try:
        asyncio.run(postgres.create_database("bench", "bench", "bench"))
        url = postgres.url("bench", "bench", "bench")
        throughput = asyncio.run(_relay_throughput(url, nats_server.url))
        latencies = _latency(url, nats_server.url, seconds)
    finally:
        nats_server.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    return (
        "## Events: outbox -> relay -> JetStream -> consumer\n\n"
        "PostgreSQL with fsync on, NATS JetStream file storage, one relay and one consumer "
        "(inbox + effect in one transaction, explicit ack).\n\n"
        "| figure | value | target |\n|---|---|---|\n"
        f"| relay throughput, {BACKLOG:,}-event backlog | {throughput:,.0f} events/s | |\n"
        f"| latency at {WRITE_RATE} writes/s, p50 | {pct(50):.1f} ms | |\n"
        f"| latency at {WRITE_RATE} writes/s, p99 | {pct(99):.1f} ms | < 50 ms |\n"
        f"| events measured | {len(ordered):,} | |"
    )


def _tables() -> tuple[object, object]:
    metadata = new_metadata()
    return metadata, (outbox_table(metadata), inbox_table(metadata))


async def _fresh_engine(url: str) -> AsyncEngine:
    engine = create_engine(url)
    metadata, _ = _tables()
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)  # type: ignore[attr-defined]
        await conn.run_sync(metadata.create_all)  # type: ignore[attr-defined]
    return engine


def _event(n: int) -> OutboxEvent:
    return OutboxEvent(
        subject=f"crm.{SERVICE}.thing.created.v1",
        message=StringValue(value=f"event {n}"),
        aggregate_id=str(n),
        aggregate_version=1,
    )


async def _relay_throughput(url: str, nats_url: str) -> float:
    engine = await _fresh_engine(url)
    sessions = create_session_factory(engine)
    async with sessions() as session, session.begin():
        await write_events(session, [_event(n) for n in range(BACKLOG)])
    nc = await connect_nats(nats_url, name="bench-relay")
    js = nc.jetstream()
    await ensure_service_stream(js, SERVICE)
    relay = OutboxRelay(engine, nc, poll_interval=0.05)
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    _, (outbox, _) = _tables()
    while True:
        async with engine.connect() as conn:
            pending = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))  # type: ignore[attr-defined]
            )
        if not pending:
            break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    relay.stop()
    await task
    await js.delete_stream(stream_name(SERVICE))
    await nc.close()
    await engine.dispose()
    return BACKLOG / elapsed


def _latency(url: str, nats_url: str, seconds: float) -> list[float]:
    """Writer + relay here, the consumer in its own process: as the publishing and the
    consuming service are deployed, and so neither one's CPU delays the other's loop."""
    total = int(seconds * WRITE_RATE)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[list[float]] = context.Queue()
    ready = context.Event()
    consumer = context.Process(target=_consume, args=(url, nats_url, total, ready, results))
    consumer.start()
    try:
        ready.wait(timeout=30)
        asyncio.run(_write_steadily(url, nats_url, total))
        return results.get(timeout=60)
    finally:
        consumer.join(timeout=10)
        if consumer.is_alive():
            consumer.kill()


async def _write_steadily(url: str, nats_url: str, total: int) -> None:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    nc = await connect_nats(nats_url, name="bench-writer")
    relay = OutboxRelay(engine, nc)
    relay_task = asyncio.create_task(relay.run())
    interval = 1 / WRITE_RATE
    started = time.perf_counter()
    for n in range(total):
        async with sessions() as session, session.begin():
            await write_events(session, [_event(n)])
        delay = started + (n + 1) * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.sleep(1)  # let the relay publish the tail before it stops
    relay.stop()
    await relay_task
    await nc.close()
    await engine.dispose()


def _consume(url: str, nats_url: str, total: int, ready: Any, results: Any) -> None:
    results.put(asyncio.run(_consume_async(url, nats_url, total, ready)))


async def _consume_async(url: str, nats_url: str, total: int, ready: Any) -> list[float]:
    engine = await _fresh_engine(url)
    sessions = create_session_factory(engine)
    nc = await connect_nats(nats_url, name="bench-consumer")
    await ensure_service_stream(nc.jetstream(), SERVICE)
    latencies: list[float] = []
    all_received = asyncio.Event()

    async def handler(session: AsyncSession, envelope: Envelope) -> None:
        latencies.append((dt.datetime.now(dt.UTC) - envelope.occurred_at).total_seconds() * 1000)
        if len(latencies) >= total:
            all_received.set()

    consumer = EventConsumer(
        nc,
        sessions,
        stream=stream_name(SERVICE),
        durable="bench-latency",
        subjects=[f"crm.{SERVICE}.>"],
        handlers={StringValue.DESCRIPTOR.full_name: handler},
    )
    task = asyncio.create_task(consumer.run())
    ready.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_received.wait(), timeout=seconds_for(total) + 30)
    consumer.stop()
    await task
    await nc.close()
    await engine.dispose()
    return latencies


def seconds_for(events: int) -> float:
    return events / WRITE_RATE
