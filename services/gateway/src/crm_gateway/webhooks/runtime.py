"""Webhooks in one gateway process: the dispatcher (events in, deliveries queued) and the
sender (deliveries out). Every process runs both; they share the work through JetStream's
durable consumer and the deliveries' claims, as separate replicas would."""

import asyncio
import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.webhooks.deliveries import SqlDeliveries
from crm_gateway.webhooks.dispatch import Render, queue_for_subscribers
from crm_gateway.webhooks.repository import SqlWebhooks, earliest_active_since
from crm_gateway.webhooks.sender import DeliverySender, SendPolicy
from crm_platform.db.engine import autocommit, create_session_factory
from crm_platform.events.connection import ResilientClient, connect_nats
from crm_platform.events.consumer import EventConsumer
from crm_platform.events.streams import stream_name

DURABLE = "gateway-webhooks"
# Events fetched at once. While no webhook is active the consumers keep no durable, and an
# import's hundreds of thousands of events cost the gateway nothing.
_BATCH = 500


class WebhookRuntime:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        nats_url: str | None,
        events: Mapping[str, Sequence[str]],  # service -> the `Crm-Event-Type`s it publishes
        render: Render,
        policy: SendPolicy,
        stream_replicas: int,
    ) -> None:
        self._engine = engine
        self._nats_url = nats_url
        self._events = events
        self._render = render
        self._policy = policy
        self._replicas = stream_replicas
        self._http = httpx.AsyncClient(follow_redirects=False)
        self.sender = DeliverySender(SqlDeliveries(engine), SqlWebhooks(engine), self._http, policy)
        self._consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._nats: ResilientClient | None = None

    async def start(self) -> None:
        self.sender.start()
        if not self._nats_url:
            return  # subscriptions are kept, nothing is dispatched (README: webhooks)
        nats = await connect_nats(self._nats_url, name="gateway-webhooks")
        self._nats = nats
        handler = queue_for_subscribers(self._render)
        sessions = create_session_factory(self._engine)
        reads = autocommit(self._engine)

        async def wanted_since() -> dt.datetime | None:
            # Checked again, with the subscriptions' types and owners, in the handler's
            # transaction; a webhook made after this check gets the events that follow it.
            return await earliest_active_since(reads)

        for service, names in self._events.items():
            consumer = EventConsumer(
                nats,
                sessions,
                stream=stream_name(service),
                durable=f"{DURABLE}-{service}",
                subjects=[f"crm.{service}.>"],
                handlers=dict.fromkeys(names, handler),
                wanted_since=wanted_since,
                batch=_BATCH,
                stream_replicas=self._replicas,
            )
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run(), name=consumer.durable))

    async def stop(self) -> None:
        for consumer in self._consumers:
            consumer.stop()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.sender.stop()
        if self._nats is not None:
            await self._nats.close()
        await self._http.aclose()
