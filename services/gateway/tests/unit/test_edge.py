"""The edge middleware on bare ASGI apps: headers, CORS and the request timeout."""

import asyncio

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from crm_gateway.api.edge import API_CSP, DOCS_CSP, Edge, EdgeSettings

PORTAL = "https://portal.example.com"


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def token_reply(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"cache-control", b"private, max-age=5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


async def slow(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(5)
    await ok(scope, receive, send)


def client(app: object, **settings: object) -> httpx.AsyncClient:
    edge = Edge(app, EdgeSettings(**settings))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=edge), base_url="http://test")


async def test_every_response_gets_the_security_headers() -> None:
    async with client(ok) as http:
        api = await http.get("/api/v1/accounts")
        docs = await http.get("/docs")
    for reply in (api, docs):
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
        assert reply.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in reply.headers
        assert "vary" not in reply.headers
    assert api.headers["content-security-policy"] == API_CSP
    assert api.headers["content-security-policy"].startswith("default-src 'none';")
    assert "script-src" not in api.headers["content-security-policy"]
    assert docs.headers["content-security-policy"] == DOCS_CSP
    assert "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net" in DOCS_CSP


async def test_hsts_when_configured() -> None:
    async with client(ok, hsts_seconds=31_536_000) as http:
        reply = await http.get("/healthz")
    assert reply.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_api_responses_are_not_stored_unless_the_route_says_otherwise() -> None:
    async with client(ok) as http:
        assert (await http.get("/api/v1/me")).headers["cache-control"] == "no-store"
        assert "cache-control" not in (await http.get("/healthz")).headers
    async with client(token_reply) as http:
        reply = await http.get("/api/v1/auth/token")
    assert reply.headers.get_list("cache-control") == ["private, max-age=5"]


async def test_cors_answers_configured_origins_only() -> None:
    async with client(ok, cors_origins=[PORTAL]) as http:
        allowed = await http.get("/api/v1/me", headers={"Origin": PORTAL})
        other = await http.get("/api/v1/me", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert "ETag" in allowed.headers["access-control-expose-headers"]
    assert allowed.headers["vary"] == "Origin"
    assert not [name for name in other.headers if name.startswith("access-control-")]
    assert other.headers["vary"] == "Origin"


async def test_preflight_of_a_configured_origin() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["method"])
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    preflight = {
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "if-match",
    }
    async with client(app, cors_origins=[PORTAL]) as http:
        allowed = await http.options("/api/v1/accounts/1", headers={"Origin": PORTAL, **preflight})
        other = await http.options(
            "/api/v1/accounts/1", headers={"Origin": "https://evil.example", **preflight}
        )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    assert "PATCH" in allowed.headers["access-control-allow-methods"]
    assert "If-Match" in allowed.headers["access-control-allow-headers"]
    assert allowed.headers["x-content-type-options"] == "nosniff"
    assert other.status_code == 405  # the app's own answer, without CORS headers
    assert "access-control-allow-origin" not in other.headers
    assert seen == ["OPTIONS"]


async def test_a_slow_request_is_a_504_problem() -> None:
    async with client(slow, request_timeout_seconds=0.05) as http:
        reply = await http.get("/api/v1/accounts")
    assert reply.status_code == 504
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"] == "urn:crm:problem:timeout"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["cache-control"] == "no-store"


async def test_a_timeout_after_the_answer_began_is_left_to_the_server() -> None:
    async def stalls_midway(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(5)

    with pytest.raises(TimeoutError):
        async with client(stalls_midway, request_timeout_seconds=0.05) as http:
            await http.get("/api/v1/accounts")
