"""The last-resort handler and the RED metrics middleware, on bare ASGI apps."""

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from crm_gateway.api.middleware import UNMATCHED, BodyLimit, LastResort, RedMetrics


async def crash(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("a bug")


async def database_away(scope: Scope, receive: Receive, send: Send) -> None:
    raise ConnectionRefusedError("connection refused")


async def teapot(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")  # type: ignore[arg-type]


@pytest.mark.parametrize(("app", "status"), [(crash, 500), (database_away, 503)])
async def test_unexpected_errors_become_problems(app: object, status: int) -> None:
    async with client(LastResort(app)) as http:  # type: ignore[arg-type]
        reply = await http.get("/anything")
    assert reply.status_code == status
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["status"] == status
    assert ("retry-after" in reply.headers) is (status == 503)


async def test_requests_outside_any_route_share_one_label() -> None:
    def count() -> float:
        labels = {"route": UNMATCHED, "method": "GET", "status": "418"}
        return REGISTRY.get_sample_value("crm_http_requests_total", labels) or 0.0

    before = count()
    async with client(RedMetrics(teapot)) as http:
        await http.get("/scanner/probe/1")
        await http.get("/scanner/probe/2")
    assert count() == before + 2


async def crash_midway(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise RuntimeError("a bug after the answer began")


async def test_a_crash_after_the_response_began_is_left_to_the_server() -> None:
    with pytest.raises(RuntimeError):
        async with client(LastResort(crash_midway)) as http:
            await http.get("/stream")


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    size, more = 0, True
    while more:
        message = await receive()
        size, more = size + len(message.get("body", b"")), message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


async def test_bodies_past_the_limit_are_413_problems() -> None:
    async with client(BodyLimit(echo_length, max_bytes=10)) as http:
        assert (await http.post("/", content=b"x" * 10)).text == "10"
        declared = await http.post("/", content=b"x" * 11)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted on arrival
            for _ in range(3):
                yield b"x" * 6

        with pytest.raises(HTTPException) as caught:  # the app's handlers make it a problem
            await http.post("/", content=chunks())
        assert caught.value.status_code == 413
