"""The audit trail: written for every write request, append-only, read by admins only."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Gateway,
    assert_problem,
    bearer_for,
    running_gateway,
    settings_for,
)

pytestmark = pytest.mark.integration

EVENTS = "/api/v1/audit-events"
ACCOUNTS = "/api/v1/accounts"


@pytest.fixture
async def database(migrated_database: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(migrated_database)
    try:
        yield engine
    finally:
        await engine.dispose()


async def events(gateway: Gateway, auth: dict[str, str], **filters: Any) -> list[dict[str, Any]]:
    reply = await gateway.client.get(EVENTS, params=filters, headers=auth)
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()["items"]
    return found


async def test_account_create_and_patch_are_on_record(gateway: Gateway) -> None:
    auth = await gateway.login()
    me = (await gateway.client.get("/api/v1/me", headers=auth)).json()
    created = await gateway.client.post(
        ACCOUNTS, json={"name": "Acme", "tags": ["b2b"]}, headers={**auth, "User-Agent": "t/1"}
    )
    account_id = created.json()["id"]
    patched = await gateway.client.patch(
        f"{ACCOUNTS}/{account_id}", json={"industry": "Retail"}, headers={**auth, "If-Match": '"1"'}
    )
    assert patched.status_code == 200

    update, create = await events(gateway, auth, object_id=account_id)
    assert create["action"] == "account.create"
    assert (create["object_type"], create["object_id"]) == ("account", account_id)
    assert (create["method"], create["route"], create["status"]) == ("POST", ACCOUNTS, 201)
    assert (create["actor_id"], create["actor_kind"]) == (me["id"], "user")
    assert (create["client_ip"], create["user_agent"]) == ("127.0.0.1", "t/1")
    assert create["after"] == {"name": "Acme", "tags": ["b2b"]}
    assert create["before"] is None
    assert update["action"] == "account.update"
    assert (update["route"], update["status"]) == (f"{ACCOUNTS}/{{account_id}}", 200)
    assert update["after"] == {"industry": "Retail"}
    assert update["occurred_at"] >= create["occurred_at"]


async def test_refused_writes_are_on_record_without_their_secrets(gateway: Gateway) -> None:
    auth = await gateway.login()
    body = {"name": "X", "password": "hunter2", "nested": {"client_secret": "s", "ok": 1}}
    assert_problem(await gateway.client.post(ACCOUNTS, json=body, headers=auth), 422)
    (refused,) = await events(gateway, auth, action="account.create")
    assert refused["status"] == 422
    assert refused["after"] == {"name": "X", "nested": {"ok": 1}}
    anonymous = await gateway.client.post(ACCOUNTS, json={"name": "Y"})
    assert_problem(anonymous, 401)
    found = await events(gateway, auth, action="account.create")
    assert (found[0]["status"], found[0]["actor_id"], found[0]["actor_kind"]) == (
        401,
        None,
        "anonymous",
    )


async def test_refused_bodies_the_database_could_not_hold_are_on_record(
    gateway: Gateway,
) -> None:
    """Refused (422), not a 503 for an audit insert PostgreSQL refused."""
    auth = {**await gateway.login(), "Content-Type": "application/json"}
    deep = b'{"name": "D", "custom_fields": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    for body in (b'{"name": "N", "custom_fields": {"a": NaN, "b": 1e999}}', deep):
        assert_problem(await gateway.client.post(ACCOUNTS, content=body, headers=auth), 422)
    deep_event, nan_event = await events(gateway, auth, action="account.create")
    assert nan_event["status"] == 422
    assert nan_event["after"] == {"name": "N", "custom_fields": {"a": "NaN", "b": "Infinity"}}
    assert (deep_event["status"], deep_event["after"]) == (422, {"unparsable_bytes": len(deep)})


async def test_logins_and_failed_logins_are_on_record(gateway: Gateway) -> None:
    auth = await gateway.login()
    me = (await gateway.client.get("/api/v1/me", headers=auth)).json()
    failed = await gateway.client.post(
        "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": "wrong"}
    )
    assert_problem(failed, 401)

    (login,) = await events(gateway, auth, action="auth.login")
    assert (login["object_type"], login["object_id"], login["status"]) == ("user", me["id"], 200)
    assert (login["actor_id"], login["actor_kind"]) == (me["id"], "user")
    assert login["after"] == {"email": ADMIN_EMAIL.lower()}
    (refused,) = await events(gateway, auth, action="auth.login_failed")
    assert (refused["object_type"], refused["object_id"], refused["status"]) == ("user", None, 401)
    assert (refused["actor_id"], refused["actor_kind"]) == (None, "anonymous")
    assert refused["after"] == {"email": ADMIN_EMAIL.lower(), "reason": "invalid_credentials"}
    everything = json.dumps(await events(gateway, auth))
    assert ADMIN_PASSWORD not in everything
    assert "wrong" not in everything


async def test_the_trail_is_append_only(gateway: Gateway, database: AsyncEngine) -> None:
    auth = await gateway.login()
    await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=auth)
    for statement in (
        "UPDATE audit_events SET action = 'nothing.happened'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.begin() as connection:
                await connection.execute(text(statement))
    async with database.connect() as connection:
        count = await connection.scalar(text("SELECT count(*) FROM audit_events"))
    assert count == 2  # the login and the account


async def test_filters_and_pages(gateway: Gateway) -> None:
    auth = await gateway.login()
    ids = []
    for n in range(5):
        reply = await gateway.client.post(ACCOUNTS, json={"name": f"A{n}"}, headers=auth)
        ids.append(reply.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"action": "account.create", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await gateway.client.get(EVENTS, params=params, headers=auth)).json()
        assert len(page["items"]) <= 2
        seen.extend(e["object_id"] for e in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]  # newest first, each once

    actor = (await events(gateway, auth, object_id=ids[0]))[0]["actor_id"]
    assert len(await events(gateway, auth, actor_id=actor, object_type="account")) == 5
    assert await events(gateway, auth, actor_id=str(uuid.uuid4())) == []
    middle = (await events(gateway, auth, object_id=ids[2]))[0]["occurred_at"]
    later = await events(gateway, auth, action="account.create", since=middle)
    assert [e["object_id"] for e in later] == ids[:1:-1]
    earlier = await events(gateway, auth, action="account.create", until=middle)
    assert [e["object_id"] for e in earlier] == ids[1::-1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"actor_id": "me"}, "query.actor_id"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "query.until"),
        ({"since": "yesterday"}, "query.since"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "query.cursor"),
        ({"limit": 501}, "query.limit"),
        ({"action": "a" * 101}, "query.action"),
        ({"action": "account\x00create"}, "query.action"),  # PostgreSQL holds no NUL
        ({"object_type": "\x00"}, "query.object_type"),
        ({"object_id": "a\x00b"}, "query.object_id"),
    ],
)
async def test_bad_filters_are_problems(
    gateway: Gateway, params: dict[str, Any], field: str
) -> None:
    reply = await gateway.client.get(EVENTS, params=params, headers=await gateway.login())
    body = assert_problem(reply, 422)
    assert [e["field"] for e in body["errors"]] == [field]  # type: ignore[attr-defined]


async def test_only_admins_read_the_trail(gateway: Gateway) -> None:
    for role in ("sales_manager", "analyst", "erp_integration"):
        reply = await gateway.client.get(EVENTS, headers=bearer_for(gateway, role))
        assert_problem(reply, 403)
    # Refused before the filters are looked at.
    bad = await gateway.client.get(
        EVENTS, params={"actor_id": "x"}, headers=bearer_for(gateway, "sales_rep")
    )
    assert_problem(bad, 403)
    assert_problem(await gateway.client.get(EVENTS), 401)
    reply = await gateway.client.get(EVENTS, headers=bearer_for(gateway, "sales_rep", "admin"))
    assert reply.status_code == 200


async def test_a_replay_adds_no_event(gateway: Gateway) -> None:
    auth = await gateway.login()
    headers = {**auth, "Idempotency-Key": "once"}
    for _ in range(2):
        await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=headers)
    assert len(await events(gateway, auth, action="account.create")) == 1


async def test_a_write_that_cannot_be_audited_is_503_and_its_retry_is_replayed(
    gateway: Gateway, database: AsyncEngine
) -> None:
    auth = await gateway.login()
    headers = {**auth, "Idempotency-Key": "audit-down"}
    async with database.begin() as connection:
        await connection.execute(text("ALTER TABLE audit_events RENAME TO audit_events_away"))
    assert_problem(await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=headers), 503)
    async with database.begin() as connection:
        await connection.execute(text("ALTER TABLE audit_events_away RENAME TO audit_events"))
    retry = await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=headers)
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert len(gateway.fake.accounts) == 1


async def test_forwarded_for_is_believed_from_trusted_proxies_only(
    gateway: Gateway, migrated_database: str
) -> None:
    forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    auth = await gateway.login()
    await gateway.client.post(ACCOUNTS, json={"name": "direct"}, headers={**auth, **forwarded})
    (direct,) = await events(gateway, auth, action="account.create")
    assert direct["client_ip"] == "127.0.0.1"

    settings = settings_for(
        migrated_database, gateway.settings.customer_target, trusted_proxies="127.0.0.1"
    )
    async with running_gateway(settings) as (_, proxied):
        await proxied.post(ACCOUNTS, json={"name": "proxied"}, headers={**auth, **forwarded})
    latest = (await events(gateway, auth, action="account.create"))[0]
    assert latest["client_ip"] == "203.0.113.9"
