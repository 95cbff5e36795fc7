"""LISTEN on a PostgreSQL channel from a dedicated connection that comes back by itself.

A wake-up is only a hint: the relay also polls, so a notification lost while the connection
was down delays publishing by at most one poll interval and loses nothing.
"""

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped, unused-ignore]

log = logging.getLogger(__name__)

# A connection can die without the socket telling us (a dropped network path); checking it
# now and then bounds how long notifications go unheard.
_HEALTH_CHECK_SECONDS = 30.0


class Notifications:
    """Sets `wake` on every NOTIFY on `channel`, and after every (re)connect."""

    def __init__(
        self, dsn: str, channel: str, wake: asyncio.Event, *, retry_seconds: float = 1.0
    ) -> None:
        self._dsn = dsn
        self._channel = channel
        self._wake = wake
        self._retry_seconds = retry_seconds

    async def run(self) -> None:
        """Listen until cancelled."""
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure just means: reconnect a bit later
                log.debug("outbox listener connection failed: %r", exc)
            await asyncio.sleep(self._retry_seconds)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=5)
        lost = asyncio.Event()

        def on_notify(*_: Any) -> None:
            self._wake.set()

        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(self._channel, on_notify)
            # Rows committed while nobody listened would otherwise wait for the next poll.
            self._wake.set()
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=_HEALTH_CHECK_SECONDS)
                if not lost.is_set():
                    await connection.execute("SELECT 1", timeout=5)
        finally:
            connection.terminate()
