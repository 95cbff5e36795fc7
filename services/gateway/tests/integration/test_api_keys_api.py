"""API keys: issued once, used as `X-API-Key`, rotated with overlap, revoked, expiring."""

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest

from crm_gateway.identity.domain import User
from crm_platform.ids import uuid7

from .conftest import Gateway, assert_problem, fake_customer_service, running_gateway, settings_for

PATH = "/api/v1/api-keys"


@pytest.fixture
async def keys_gateway(migrated_database: str) -> AsyncIterator[Gateway]:
    """A gateway that trusts a checked key for no time at all, so revocation shows at once."""
    async with fake_customer_service() as (target, fake):
        settings = settings_for(migrated_database, target, api_key_cache_seconds=0)
        async with running_gateway(settings) as (app, client):
            yield Gateway(client, app, fake, settings)


async def issue(gateway: Gateway, auth: dict[str, str], **body: object) -> dict[str, object]:
    reply = await gateway.client.post(PATH, json={"name": "ERP", **body}, headers=auth)
    assert reply.status_code == 201, reply.text
    assert reply.headers["Location"] == f"{PATH}/{reply.json()['id']}"
    issued: dict[str, object] = reply.json()
    return issued


async def read_account(gateway: Gateway, secret: object, account_id: str) -> int:
    reply = await gateway.client.get(
        f"/api/v1/accounts/{account_id}", headers={"X-API-Key": str(secret)}
    )
    return reply.status_code


async def an_account(gateway: Gateway, auth: dict[str, str]) -> str:
    reply = await gateway.client.post("/api/v1/accounts", json={"name": "Acme"}, headers=auth)
    return str(reply.json()["id"])


async def test_a_partner_key_calls_services_as_that_partner(keys_gateway: Gateway) -> None:
    auth = await keys_gateway.login()
    partner = uuid.uuid4()
    issued = await issue(keys_gateway, auth, roles=["partner"], partner_id=str(partner))
    secret = str(issued["secret"])
    assert secret.startswith(f"crm_{issued['prefix']}_")
    account_id = await an_account(keys_gateway, auth)

    assert await read_account(keys_gateway, secret, account_id) == 200
    principal = keys_gateway.fake.callers[-1]
    assert (principal.kind, principal.subject_id) == ("api_key", uuid.UUID(str(issued["id"])))
    assert principal.partner_id == partner
    assert principal.roles == frozenset({"partner"})


async def test_the_secret_is_shown_once(keys_gateway: Gateway) -> None:
    auth = await keys_gateway.login()
    issued = await issue(keys_gateway, auth, roles=["erp_integration"])
    one = await keys_gateway.client.get(f"{PATH}/{issued['id']}", headers=auth)
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert one.json()["prefix"] == issued["prefix"]
    listed = await keys_gateway.client.get(PATH, headers=auth)
    assert issued["id"] in [k["id"] for k in listed.json()["items"]]
    assert all("secret" not in k for k in listed.json()["items"])


async def test_a_keys_use_is_recorded_without_changing_its_version(keys_gateway: Gateway) -> None:
    auth = await keys_gateway.login()
    account_id = await an_account(keys_gateway, auth)
    issued = await issue(keys_gateway, auth, roles=["erp_integration"])
    path = f"{PATH}/{issued['id']}"
    assert (await keys_gateway.client.get(path, headers=auth)).json()["last_used_at"] is None
    started = dt.datetime.now(dt.UTC)
    assert await read_account(keys_gateway, issued["secret"], account_id) == 200
    used = (await keys_gateway.client.get(path, headers=auth)).json()
    assert started <= dt.datetime.fromisoformat(used["last_used_at"]) <= dt.datetime.now(dt.UTC)
    assert used["version"] == issued["version"]


async def test_rotation_keeps_the_old_secret_for_the_overlap_only(keys_gateway: Gateway) -> None:
    auth = await keys_gateway.login()
    account_id = await an_account(keys_gateway, auth)
    issued = await issue(keys_gateway, auth, roles=["erp_integration"])
    rotated = await keys_gateway.client.post(
        f"{PATH}/{issued['id']}/rotate", json={"overlap_seconds": 1}, headers=auth
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != issued["secret"]
    assert await read_account(keys_gateway, issued["secret"], account_id) == 200
    assert await read_account(keys_gateway, new_secret, account_id) == 200
    await asyncio.sleep(1.2)
    assert await read_account(keys_gateway, issued["secret"], account_id) == 401
    assert await read_account(keys_gateway, new_secret, account_id) == 200


async def test_a_revoked_or_expired_key_is_refused(keys_gateway: Gateway) -> None:
    auth = await keys_gateway.login()
    account_id = await an_account(keys_gateway, auth)
    issued = await issue(keys_gateway, auth, roles=["erp_integration"])
    path = f"{PATH}/{issued['id']}"
    assert (await keys_gateway.client.delete(path, headers=auth)).status_code == 428
    stale = await keys_gateway.client.delete(path, headers={**auth, "If-Match": '"5"'})
    assert_problem(stale, 412)
    revoked = await keys_gateway.client.delete(path, headers={**auth, "If-Match": '"1"'})
    assert revoked.status_code == 204
    refused = await keys_gateway.client.get(
        f"/api/v1/accounts/{account_id}", headers={"X-API-Key": str(issued["secret"])}
    )
    assert_problem(refused, 401)

    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    expiring = await issue(
        keys_gateway, auth, roles=["erp_integration"], expires_at=soon.isoformat()
    )
    assert await read_account(keys_gateway, expiring["secret"], account_id) == 200
    await asyncio.sleep(1.2)
    assert await read_account(keys_gateway, expiring["secret"], account_id) == 401


async def test_only_admins_manage_keys(keys_gateway: Gateway) -> None:
    rep = User(
        id=uuid7(),
        email="rep@example.com",
        display_name="Rep",
        roles=("sales_rep",),
        team_id=None,
        active=True,
        version=1,
        password_hash="",
    )
    token = keys_gateway.app.state.services.tokens.issue(rep, uuid7()).access_token
    headers = {"Authorization": f"Bearer {token}"}
    refused = await keys_gateway.client.post(
        PATH, json={"name": "Mine", "roles": ["admin"]}, headers=headers
    )
    assert_problem(refused, 403)
    assert_problem(await keys_gateway.client.get(PATH, headers=headers), 403)


async def test_bad_requests_and_bad_keys_change_nothing(keys_gateway: Gateway) -> None:
    auth = await keys_gateway.login()
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    naive = dt.datetime.now().replace(tzinfo=None).isoformat()
    partner = {"roles": ["partner"], "partner_id": str(uuid.uuid4())}
    for body in (
        {"name": "x", "roles": ["wizard"]},
        {"name": "x", "roles": []},
        {"name": "x", **partner, "expires_at": past},
        {"name": "x", **partner, "expires_at": naive},
        {"name": "x", **partner, "rate_limit_per_minute": 0},
        {"name": "x", **partner, "secret": "mine"},
        {"name": "", **partner},
        {"name": "x", "roles": ["partner"]},  # a partner key reaching no partner's records
    ):
        assert_problem(await keys_gateway.client.post(PATH, json=body, headers=auth), 422)
    listed = await keys_gateway.client.get(PATH, headers=auth)
    assert listed.json()["items"] == []
    assert_problem(await keys_gateway.client.get(f"{PATH}/not-an-id", headers=auth), 404)
    assert_problem(await keys_gateway.client.get(f"{PATH}/{uuid7()}", headers=auth), 404)
    assert_problem(await keys_gateway.client.get(PATH, params={"cursor": "!!"}, headers=auth), 422)
    for secret in ("nonsense", "crm_abcdefgh_" + "x" * 43):
        reply = await keys_gateway.client.get(PATH, headers={"X-API-Key": secret})
        assert_problem(reply, 401)


async def test_a_key_may_hold_custom_roles_which_then_stay(keys_gateway: Gateway) -> None:
    auth = await keys_gateway.login()
    unknown = await keys_gateway.client.post(
        PATH, json={"name": "ERP", "roles": ["no_such_role"]}, headers=auth
    )
    assert_problem(unknown, 422)
    assert unknown.json()["errors"][0]["field"] == "roles"
    role = {"name": "portal_writer", "permissions": {"account": {"create": "own"}}}
    created = await keys_gateway.client.post("/api/v1/roles", json=role, headers=auth)
    assert created.status_code == 201, created.text
    issued = await issue(
        keys_gateway, auth, roles=["partner", "portal_writer"], partner_id=str(uuid.uuid4())
    )

    made = await keys_gateway.client.post(
        "/api/v1/accounts",
        json={"name": "Made by a key"},
        headers={"X-API-Key": str(issued["secret"])},
    )
    assert made.status_code == 201, made.text
    principal = keys_gateway.fake.callers[-1]
    assert principal.grants["account"]["create"] == "own"
    me = await keys_gateway.client.get("/api/v1/me", headers={"X-API-Key": str(issued["secret"])})
    assert me.status_code == 200, me.text
    assert (me.json()["kind"], me.json()["display_name"], me.json()["email"]) == (
        "api_key",
        "ERP",
        None,
    )
    assert me.json()["permissions"]["account"] == {
        "read": "partner",
        "edit": "partner",
        "create": "own",
    }
    held = await keys_gateway.client.delete(
        "/api/v1/roles/portal_writer", headers={**auth, "If-Match": created.headers["ETag"]}
    )
    assert_problem(held, 409)
    assert "API keys" in held.json()["detail"]
