"""Shared set-up of the crm_platform.events integration tests (real PostgreSQL and NATS)."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from prometheus_client import REGISTRY
from sqlalchemy import Column, DateTime, MetaData, Table, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from crm.customer.events.v1 import events_pb2
from crm_platform.events.envelope import Envelope
from crm_platform.events.outbox import OutboxEvent
from crm_platform.events.schema import inbox_table, outbox_table
from crm_platform.events.streams import ensure_service_stream, stream_name

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
# No unique key on purpose: an effect applied twice shows up as two rows.
effects = Table(
    "effects",
    metadata,
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("applied_at", DateTime(timezone=True), server_default=func.now()),
)

EVENT_TYPE = events_pb2.AccountCreated.DESCRIPTOR.full_name


def unique_service() -> str:
    """A service name no other test uses, so each test gets its own stream on the shared NATS."""
    return f"evt{uuid.uuid4().hex[:10]}"


def subject(service: str, aggregate: str = "account", verb: str = "created") -> str:
    return f"crm.{service}.{aggregate}.{verb}.v1"


def account_event(service: str, number: int = 0) -> OutboxEvent:
    aggregate_id = str(uuid.uuid4())
    message = events_pb2.AccountCreated()
    message.account.id = aggregate_id
    message.account.name = f"account {number}"
    return OutboxEvent(
        subject=subject(service), message=message, aggregate_id=aggregate_id, aggregate_version=1
    )


@asynccontextmanager
async def database(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=5, max_overflow=5)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def nats_connection(url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)  # type: ignore[arg-type]
    try:
        yield nc
    finally:
        await nc.close()


@asynccontextmanager
async def service_stream(
    database_url: str, nats_url: str, service: str
) -> AsyncIterator[tuple[AsyncEngine, JetStreamContext]]:
    """A database, and JetStream with `service`'s stream provisioned."""
    async with database(database_url) as engine, nats_connection(nats_url) as nc:
        js = nc.jetstream()
        await ensure_service_stream(js, service)
        yield engine, js


async def count_effects(engine: AsyncEngine, event_id: uuid.UUID | None = None) -> int:
    query = "SELECT count(*) FROM effects"
    params = {}
    if event_id is not None:
        query += " WHERE event_id = :event_id"
        params["event_id"] = event_id
    async with engine.connect() as conn:
        return int(await conn.scalar(text(query), params) or 0)


async def record_effect(session: AsyncSession, envelope: Envelope) -> None:
    """A handler: its effect commits or rolls back with the inbox row."""
    events_pb2.AccountCreated.FromString(envelope.payload)  # a real handler decodes
    await session.execute(effects.insert().values(event_id=envelope.event_id))


async def unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        return int(await conn.scalar(query) or 0)


async def read_stream(js: JetStreamContext, stream: str) -> list[Msg]:
    """Every message in `stream`, in stream order, through a throw-away consumer."""
    info = await js.stream_info(stream)
    total = info.state.messages
    subscription = await js.pull_subscribe(
        ">",
        stream=stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=30.0,
            filter_subject=None,
        ),
    )
    messages: list[Msg] = []
    try:
        while len(messages) < total:
            try:
                messages += await subscription.fetch(min(1000, total - len(messages)), timeout=2)
            except TimeoutError:
                break
    finally:
        await subscription.unsubscribe()
    return messages


async def stream_count(js: JetStreamContext, service: str) -> int:
    return int((await js.stream_info(stream_name(service))).state.messages)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 20.0, interval: float = 0.05
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(interval)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
