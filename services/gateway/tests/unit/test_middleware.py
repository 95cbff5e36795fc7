"""The last-resort handler and the RED metrics middleware, on bare ASGI apps."""

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from crm_gateway.api.middleware import UNMATCHED, LastResort, RedMetrics


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
