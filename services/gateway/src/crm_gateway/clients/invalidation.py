"""Keeps the read cache honest: every event a service publishes drops that record's copies.

A plain NATS subscription, not a durable consumer: the cache needs only what happens from
now on, and whenever the subscription may have missed something (disconnected, too slow)
the cache is switched off or emptied rather than trusted.
"""

import asyncio
import contextlib
import logging
from typing import Any

from nats.aio.msg import Msg
from nats.errors import SlowConsumerError

from crm_gateway.clients.read_cache import ReadCache
from crm_platform.events.connection import ResilientClient, connect_nats
from crm_platform.events.envelope import AGGREGATE_ID, AGGREGATE_VERSION

log = logging.getLogger(__name__)

# Gateway processes tell each other about their own writes here; no stream keeps these.
PEER_SUBJECT = "crm_gateway.read_cache.changed"


class CacheInvalidation:
    def __init__(self, cache: ReadCache[Any], nats_url: str, subjects: tuple[str, ...]) -> None:
        self._cache = cache
        self._url = nats_url
        self._subjects = subjects
        self._nc: ResilientClient | None = None
        self._subscribing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._nc = await connect_nats(
            self._url,
            "gateway-read-cache",
            on_disconnected=self._lost,
            on_reconnected=self._back,
            on_error=self._failed,
        )
        self._subscribing = asyncio.create_task(self._subscribe())

    async def stop(self) -> None:
        self._cache.disable()
        if self._subscribing is not None:
            self._subscribing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._subscribing
        if self._nc is not None:
            await self._nc.close()

    async def _subscribe(self) -> None:
        assert self._nc is not None
        await self._nc.connected()  # the first connection may still be under way
        for subject in (*self._subjects, PEER_SUBJECT):
            await self._nc.subscribe(subject, cb=self._on_event, pending_msgs_limit=1_000_000)
        await self._nc.flush()  # the server has our interest: no later event passes us by
        self._cache.tell_peers = self._tell_peers
        self._cache.enable()
        log.info("read cache on", extra={"subjects": list(self._subjects)})

    async def _on_event(self, msg: Msg) -> None:
        headers = msg.headers or {}
        record_id = headers.get(AGGREGATE_ID)
        if not record_id:
            return
        version = headers.get(AGGREGATE_VERSION, "")
        self._cache.invalidate(record_id, int(version) if version.isdigit() else 0)

    async def _tell_peers(self, record_id: str, version: int) -> None:
        assert self._nc is not None
        headers = {AGGREGATE_ID: record_id, AGGREGATE_VERSION: str(version)}
        try:
            await self._nc.publish(PEER_SUBJECT, b"", headers=headers)
            await self._nc.flush(timeout=1)
        except Exception:  # the write stands; peers then learn of it from the event
            log.warning("could not tell peer gateways of a change", exc_info=True)

    async def _lost(self) -> None:
        self._cache.disable()

    async def _back(self) -> None:
        # nats-py re-subscribes before it reports the reconnection.
        if self._subscribing is not None and self._subscribing.done():
            self._cache.enable()

    async def _failed(self, error: Exception) -> None:
        # Events were dropped: trust nothing held.
        if isinstance(error, SlowConsumerError) and self._cache.enabled:
            log.warning("read cache missed events; emptied")
            self._cache.enable()
