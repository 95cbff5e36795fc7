"""The gateway over HTTP: identity in its own PostgreSQL, records from a fake customer
service over real gRPC (see conftest)."""

import asyncio
import secrets
import time
import uuid

import httpx
import jwt
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from crm_gateway.identity.repository import metadata, users
from crm_platform.auth.principal import Action, Scope
from crm_platform.db.migrations import schema_drift
from crm_platform.testing.ports import free_port

from .conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    JWT_SECRET,
    Gateway,
    fake_customer_service,
    running_gateway,
    settings_for,
)

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def assert_problem(reply: httpx.Response, status: int) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = reply.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)
    return body


async def test_migrations_match_the_tables(migrated_database: str) -> None:
    assert await asyncio.to_thread(schema_drift, migrated_database, metadata) == []


async def test_login_and_me(gateway: Gateway) -> None:
    reply = await gateway.client.post(
        "/api/v1/auth/token", data={"username": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
    )
    assert reply.status_code == 200, reply.text
    token = reply.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 900
    assert reply.headers["cache-control"] == "no-store"
    me = await gateway.client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json() == {
        "id": me.json()["id"],
        "email": ADMIN_EMAIL.lower(),
        "display_name": "Administrator",
        "roles": ["admin"],
        "team_id": None,
    }


@pytest.mark.parametrize(
    ("username", "password"),
    [(ADMIN_EMAIL, "wrong password"), ("nobody@example.com", ADMIN_PASSWORD)],
    ids=["wrong-password", "unknown-user"],
)
async def test_bad_credentials_get_one_and_the_same_401(
    gateway: Gateway, username: str, password: str
) -> None:
    reply = await gateway.client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    body = assert_problem(reply, 401)
    assert body["detail"] == "invalid username or password"


async def test_routes_need_a_valid_bearer_token(gateway: Gateway) -> None:
    expired = jwt.encode(
        {"sub": str(uuid.uuid4()), "iat": 1, "exp": int(time.time()) - 1, "jti": "x",
         "iss": "crm-gateway", "aud": "crm-api"},
        JWT_SECRET, algorithm="HS256",
    )  # fmt: skip
    for headers in ({}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic eA=="},
                    {"Authorization": f"Bearer {expired}"}):  # fmt: skip
        reply = await gateway.client.get("/api/v1/accounts", headers=headers)
        assert_problem(reply, 401)
        assert reply.headers["www-authenticate"] == "Bearer"
    assert gateway.fake.callers == []  # nothing reached the service


async def test_create_account_and_read_it_back(gateway: Gateway) -> None:
    auth = await gateway.login()
    created = await gateway.client.post(
        "/api/v1/accounts", json={"name": "Acme GmbH", "tags": ["b2b"]}, headers=auth
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/api/v1/accounts/{account['id']}"
    assert account["version"] == 1
    assert (account["name"], account["tags"], account["industry"]) == ("Acme GmbH", ["b2b"], "")
    assert (account["parent_id"], account["team_id"]) == (None, None)
    assert account["created_at"].endswith("Z")

    fetched = await gateway.client.get(f"/api/v1/accounts/{account['id']}", headers=auth)
    assert fetched.status_code == 200
    assert fetched.json() == account
    assert fetched.headers["etag"] == '"1"'
    again = await gateway.client.get(
        f"/api/v1/accounts/{account['id']}", headers={**auth, "If-None-Match": '"1"'}
    )
    assert again.status_code == 304
    assert again.headers["etag"] == '"1"'


async def test_the_service_gets_the_callers_signed_principal(gateway: Gateway) -> None:
    await gateway.client.get("/api/v1/accounts", headers=await gateway.login())
    (principal,) = gateway.fake.callers
    assert principal.kind == "user"
    assert principal.roles == frozenset({"admin"})
    assert principal.scope("account", Action.TRANSFER) is Scope.ALL


async def test_the_trace_goes_on_to_the_service(gateway: Gateway) -> None:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())  # what setup_telemetry does in `serve`
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    auth = await gateway.login()
    reply = await gateway.client.get(
        "/api/v1/accounts", headers={**auth, "traceparent": traceparent}
    )
    assert reply.status_code == 200
    sent = gateway.fake.metadata[-1]["traceparent"]
    assert sent.split("-")[1] == trace_id
    assert sent != traceparent  # a child: the gateway's own spans sit in between


async def test_malformed_and_unknown_ids_are_404(gateway: Gateway) -> None:
    auth = await gateway.login()
    for account_id in ("not-a-uuid", str(uuid.uuid4()), "x" * 500):
        reply = await gateway.client.get(f"/api/v1/accounts/{account_id}", headers=auth)
        assert_problem(reply, 404)


async def test_updates_need_the_current_if_match(gateway: Gateway) -> None:
    auth = await gateway.login()
    account = (
        await gateway.client.post("/api/v1/accounts", json={"name": "V"}, headers=auth)
    ).json()
    url = f"/api/v1/accounts/{account['id']}"
    assert_problem(await gateway.client.patch(url, json={"name": "X"}, headers=auth), 428)
    for tag in ('"two"', 'W/"1"'):
        reply = await gateway.client.patch(
            url, json={"name": "X"}, headers={**auth, "If-Match": tag}
        )
        assert_problem(reply, 412)
    updated = await gateway.client.patch(
        url, json={"industry": "Retail"}, headers={**auth, "If-Match": '"1"'}
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["version"], updated.json()["industry"]) == (2, "Retail")
    assert updated.json()["name"] == "V"  # not in the patch, so not in the update mask
    assert updated.headers["etag"] == '"2"'
    stale = await gateway.client.patch(
        url, json={"name": "Lost"}, headers={**auth, "If-Match": '"1"'}
    )
    assert_problem(stale, 412)


async def test_bad_bodies_are_422_with_field_paths(gateway: Gateway) -> None:
    auth = await gateway.login()
    unknown = await gateway.client.post(
        "/api/v1/accounts", json={"name": "X", "owner": "me"}, headers=auth
    )
    body = assert_problem(unknown, 422)
    assert [e["field"] for e in body["errors"]] == ["owner"]  # type: ignore[attr-defined]
    from_service = await gateway.client.post("/api/v1/accounts", json={"name": ""}, headers=auth)
    assert_problem(from_service, 422)
    not_json = await gateway.client.post(
        "/api/v1/accounts", content=b"{", headers={**auth, "Content-Type": "application/json"}
    )
    assert_problem(not_json, 422)
    too_long = await gateway.client.get("/api/v1/accounts", params={"limit": 501}, headers=auth)
    assert_problem(too_long, 422)
    assert gateway.fake.accounts == {}


async def test_lists_page_with_an_opaque_cursor(gateway: Gateway) -> None:
    auth = await gateway.login()
    for name in ("A", "B", "C"):
        await gateway.client.post("/api/v1/accounts", json={"name": name}, headers=auth)
    first = (await gateway.client.get("/api/v1/accounts", params={"limit": 2}, headers=auth)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = await gateway.client.get(
        "/api/v1/accounts", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth
    )
    assert [a["name"] for a in rest.json()["items"]] == ["C"]
    assert rest.json()["next_cursor"] is None


async def test_contacts_of_an_account(gateway: Gateway) -> None:
    auth = await gateway.login()
    account = (
        await gateway.client.post("/api/v1/accounts", json={"name": "Acme"}, headers=auth)
    ).json()
    created = await gateway.client.post(
        "/api/v1/contacts",
        json={"first_name": "Li", "last_name": "Wei", "account_id": account["id"]},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert (contact["account_id"], contact["email"], contact["version"]) == (account["id"], "", 1)
    assert created.headers["location"] == f"/api/v1/contacts/{contact['id']}"
    await gateway.client.post("/api/v1/contacts", json={"first_name": "Solo"}, headers=auth)
    listed = await gateway.client.get(f"/api/v1/accounts/{account['id']}/contacts", headers=auth)
    assert [c["id"] for c in listed.json()["items"]] == [contact["id"]]
    assert listed.json()["next_cursor"] is None
    filtered = await gateway.client.get(
        "/api/v1/contacts", params={"account_id": account["id"]}, headers=auth
    )
    assert [c["id"] for c in filtered.json()["items"]] == [contact["id"]]
    unknown = await gateway.client.get(f"/api/v1/accounts/{uuid.uuid4()}/contacts", headers=auth)
    assert_problem(unknown, 404)
    orphan = await gateway.client.post(
        "/api/v1/contacts", json={"first_name": "X", "account_id": "nope"}, headers=auth
    )
    assert [e["field"] for e in assert_problem(orphan, 422)["errors"]] == ["account_id"]  # type: ignore[attr-defined]


async def test_a_failing_service_is_a_500_problem(gateway: Gateway) -> None:
    reply = await gateway.client.get("/api/v1/accounts/crash", headers=await gateway.login())
    assert_problem(reply, 500)


async def test_unknown_routes_and_methods_are_problems(gateway: Gateway) -> None:
    assert_problem(await gateway.client.get("/api/v1/nowhere"), 404)
    reply = await gateway.client.delete("/healthz")
    assert_problem(reply, 405)
    assert "GET" in reply.headers["allow"]


async def test_health_readiness_and_metrics(gateway: Gateway) -> None:
    assert (await gateway.client.get("/healthz")).status_code == 200
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "customer": "ok", "sales": "ok"}
    auth = await gateway.login()
    await gateway.client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=auth)
    metrics = (await gateway.client.get("/metrics")).text
    assert (
        'crm_http_requests_total{method="GET",route="/api/v1/accounts/{account_id}",status="404"}'
        in metrics
    )


async def test_openapi_documents_bearer_auth_and_problems(gateway: Gateway) -> None:
    schema = (await gateway.client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    patch = schema["paths"]["/api/v1/accounts/{account_id}"]["patch"]
    assert patch["security"] == [{"bearerAuth": []}]
    assert "security" not in schema["paths"]["/api/v1/auth/token"]["post"]
    assert {"401", "412", "422", "428", "503"} <= set(patch["responses"])
    assert "application/problem+json" in patch["responses"]["412"]["content"]
    assert (await gateway.client.get("/docs")).status_code == 200


async def test_a_down_service_is_503_with_retry_after(migrated_database: str) -> None:
    settings = settings_for(migrated_database, f"127.0.0.1:{free_port()}")
    async with running_gateway(settings) as (_, client):
        token = await client.post(
            "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        reply = await client.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=auth)
        assert_problem(reply, 503)
        assert reply.headers["retry-after"] == "1"
        not_ready = await client.get("/readyz")
        assert "customer" in str(assert_problem(not_ready, 503)["detail"])


async def test_a_down_identity_database_is_503_on_login() -> None:
    unreachable = f"postgresql+asyncpg://nobody:x@127.0.0.1:{free_port()}/nothing"
    async with fake_customer_service() as (target, _):
        settings = settings_for(unreachable, target, bootstrap_admin_email=None)
        async with running_gateway(settings) as (_, client):
            reply = await client.post(
                "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            assert_problem(reply, 503)
            assert reply.headers["retry-after"] == "1"


async def test_the_bootstrap_admin_is_created_once_and_then_left_alone(
    gateway: Gateway, migrated_database: str
) -> None:
    # A second gateway start, as after a restart, with another password in its environment.
    settings = settings_for(
        migrated_database, gateway.settings.customer_target, bootstrap_admin_password="changed"
    )
    async with running_gateway(settings):
        pass
    engine = create_async_engine(migrated_database)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(users))
    finally:
        await engine.dispose()
    assert count == 1
    await gateway.login()  # the first password still works
