"""The edge settings on the real app: CORS for the portal, headers on every answer."""

import pytest

from .conftest import Gateway, assert_problem, fake_customer_service, running_gateway, settings_for

pytestmark = pytest.mark.integration

PORTAL = "https://portal.example.com"


async def test_the_portal_calls_the_api_from_a_browser(migrated_database: str) -> None:
    async with fake_customer_service() as (target, fake):
        settings = settings_for(migrated_database, target, cors_origins=PORTAL, hsts_seconds=600)
        async with running_gateway(settings) as (app, client):
            auth = await Gateway(client, app, fake, settings).login()
            preflight = await client.options(
                "/api/v1/accounts",
                headers={
                    "Origin": PORTAL,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            created = await client.post(
                "/api/v1/accounts", json={"name": "CORS"}, headers={**auth, "Origin": PORTAL}
            )
            foreign = await client.get(
                "/api/v1/accounts", headers={**auth, "Origin": "https://elsewhere.example"}
            )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == PORTAL
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == PORTAL
    assert "Location" in created.headers["access-control-expose-headers"]
    assert created.headers["strict-transport-security"] == "max-age=600; includeSubDomains"
    assert foreign.status_code == 200
    assert "access-control-allow-origin" not in foreign.headers


async def test_every_answer_carries_the_security_headers(gateway: Gateway) -> None:
    auth = await gateway.login()
    replies = {
        "record": await gateway.client.get("/api/v1/accounts", headers=auth),
        "unauthenticated": await gateway.client.get("/api/v1/me"),
        "too large": await gateway.client.post(
            "/api/v1/accounts", content=b"x" * 70_000, headers=auth
        ),
        "crash": await gateway.client.get("/api/v1/accounts/crash", headers=auth),
        "no route": await gateway.client.get("/nowhere"),
        "probe": await gateway.client.get("/healthz"),
    }
    for why, reply in replies.items():
        assert reply.headers["x-content-type-options"] == "nosniff", why
        assert reply.headers["x-frame-options"] == "DENY", why
        assert reply.headers["content-security-policy"].startswith("default-src 'none'"), why
        assert "access-control-allow-origin" not in reply.headers, why  # no origins configured
    for why in ("record", "unauthenticated", "too large", "crash"):
        assert replies[why].headers["cache-control"] == "no-store", why
    docs = await gateway.client.get("/docs")
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    token = await gateway.client.post(
        "/api/v1/auth/token", data={"username": "a@example.com", "password": "x"}
    )
    assert token.headers.get_list("cache-control") == ["no-store"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/api/v1/contacts/%00"),
        ("DELETE", "/api/v1/accounts/%00"),
        ("POST", "/api/v1/contacts/%00/merge"),
        ("POST", "/api/v1/accounts/%00/loyalty-entries"),
        ("PATCH", "/api/v1/segments/%00"),
        ("DELETE", "/api/v1/custom-fields/contacts/%00"),
        ("PATCH", "/api/v1/users/%00"),
        ("DELETE", "/api/v1/teams/%00"),
        ("DELETE", "/api/v1/roles/%00"),
        ("GET", "/api/v1/roles/%00"),
        ("GET", "/api/v1/contacts/a%00b"),
    ],
)
async def test_a_path_holding_nul_names_nothing(gateway: Gateway, method: str, path: str) -> None:
    """No id or name the API keeps can hold NUL: none reaches a route (nor a database)."""
    auth = await gateway.login()
    reply = await gateway.client.request(method, path, json={}, headers={**auth, "If-Match": "*"})
    assert assert_problem(reply, 404)["detail"] == "Not Found"
    assert reply.headers["x-frame-options"] == "DENY"
