"""Holding a route's answer back until a middleware has recorded it.

Write answers are small JSON documents, so keeping one in memory is cheap; in exchange a
middleware can store it (idempotency) or write the audit row first, and answer otherwise
when that fails, before the client has seen anything.
"""

from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Send


class HeldResponse:
    def __init__(self) -> None:
        self.status = 0
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self._start: Message | None = None
        self._body = bytearray()
        self.complete = False

    async def hold(self, message: Message) -> None:
        """An ASGI `send` that keeps the response instead of sending it."""
        if message["type"] == "http.response.start":
            self._start = message
            self.status = message["status"]
            self.raw_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self._body.extend(message.get("body", b""))
            self.complete = not message.get("more_body", False)

    @property
    def started(self) -> bool:
        return self._start is not None

    @property
    def headers(self) -> Headers:
        return Headers(raw=self.raw_headers)

    @property
    def body(self) -> bytes:
        return bytes(self._body)

    async def release(self, send: Send) -> None:
        """Send what was held, as one start and one body message."""
        if self._start is None:
            return
        await send(self._start)
        await send({"type": "http.response.body", "body": bytes(self._body)})


async def read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the route will see the same
        body.extend(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return bytes(body)


def replaying(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A `receive` that hands over a body read earlier, then listens to the client again."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
