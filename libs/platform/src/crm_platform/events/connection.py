"""A NATS connection that never gives up, and never holds up the service that owns it.

A service must start, serve and write (to its outbox) while NATS is away; its relay and
consumers pick up once the connection is there. So the first connection is attempted in
the background when NATS does not answer within a moment, and reconnects never stop.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.client import Client

log = logging.getLogger(__name__)

RECONNECT_WAIT_SECONDS = 0.5
CONNECT_TIMEOUT_SECONDS = 2


class ResilientClient(Client):
    """A nats-py client whose first connection may still be under way in the background."""

    _connecting: asyncio.Task[None] | None = None

    async def connected(self) -> None:
        """Returns once the first connection is made (at once if it already is)."""
        if self._connecting is not None:
            await asyncio.shield(self._connecting)

    async def close(self) -> None:
        # A never-ending first-connect loop would otherwise keep running after close.
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        await super().close()


Hook = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


async def _ignore(_: Exception) -> None:
    return None


async def connect_nats(
    url: str,
    name: str,
    *,
    first_connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    on_disconnected: Hook = _nothing,
    on_reconnected: Hook = _nothing,
    on_error: Callable[[Exception], Awaitable[None]] = _ignore,
) -> ResilientClient:
    """Connected when NATS answers within `first_connect_timeout`; otherwise returned at once
    while connecting in the background (check `is_connected`, or just let calls fail).
    The hooks let an owner react to losing and regaining the connection."""
    client = ResilientClient()

    async def errored(error: Exception) -> None:
        # Every failed reconnect attempt reports here; a traceback each time is only noise.
        log.debug("nats error: %r", error)
        await on_error(error)

    async def disconnected() -> None:
        log.warning("nats disconnected", extra={"nats_url": url})
        await on_disconnected()

    async def reconnected() -> None:
        log.info("nats reconnected", extra={"nats_url": url})
        await on_reconnected()

    client._connecting = asyncio.create_task(
        client.connect(
            url,
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=RECONNECT_WAIT_SECONDS,  # type: ignore[arg-type]
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            error_cb=errored,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
        )
    )
    done, _ = await asyncio.wait({client._connecting}, timeout=first_connect_timeout)
    if done:
        client._connecting.result()  # a configuration error (bad URL, auth) surfaces here
    else:
        log.warning("nats not reachable yet; connecting in the background", extra={"url": url})
    return client
