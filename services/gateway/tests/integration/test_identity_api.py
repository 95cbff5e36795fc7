"""Identity over HTTP: login, tokens, /me, the bootstrap admin, in the gateway's own PostgreSQL."""

import asyncio
import time
import uuid

import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from crm_gateway.identity.repository import users
from crm_gateway.storage import metadata  # every table: bootstrap (via conftest) imports them
from crm_platform.auth.principal import Action, Scope
from crm_platform.db.migrations import schema_drift
from crm_platform.testing.ports import free_port

from .conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    JWT_SECRET,
    Gateway,
    assert_problem,
    fake_customer_service,
    running_gateway,
    settings_for,
)

pytestmark = pytest.mark.integration


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
        "kind": "user",
        "email": ADMIN_EMAIL.lower(),
        "display_name": "Administrator",
        "roles": ["admin"],
        "team_id": None,
        "partner_id": None,
        "permissions": me.json()["permissions"],
    }
    every_action = {a: "all" for a in ("read", "create", "edit", "delete", "transfer", "export")}
    assert me.json()["permissions"]["account"] == every_action


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


async def test_the_service_gets_the_callers_signed_principal(gateway: Gateway) -> None:
    await gateway.client.get("/api/v1/accounts", headers=await gateway.login())
    (principal,) = gateway.fake.callers
    assert principal.kind == "user"
    assert principal.roles == frozenset({"admin"})
    assert principal.scope("account", Action.TRANSFER) is Scope.ALL


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
