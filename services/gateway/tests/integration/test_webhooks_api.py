"""Outbound webhooks end to end on real PostgreSQL and NATS: customer events published to
JetStream reach a receiver on 127.0.0.1, signed, retried while it fails, filtered by the
subscriber's visibility, and the webhook is disabled after a run of failures."""

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import nats
import pytest
import uvicorn

from crm.customer.events.v1 import events_pb2 as customer_events
from crm.customer.v1 import customer_pb2 as pb
from crm_platform.events.envelope import Envelope
from crm_platform.events.streams import ensure_service_stream
from crm_platform.ids import uuid7
from crm_platform.testing.ports import free_port

from .conftest import (
    Gateway,
    assert_problem,
    bearer_for,
    fake_customer_service,
    running_gateway,
    settings_for,
)

PATH = "/api/v1/webhooks"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


@dataclass
class Receiver:
    """An HTTP endpoint that answers `failing` with 503 until told otherwise."""

    url: str = ""
    failing: bool = False
    accepted: list[Received] = field(default_factory=list)
    refused: list[Received] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = 503 if self.failing else 204
        (self.refused if self.failing else self.accepted).append(Received(headers, body))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    port = free_port()
    config = uvicorn.Config(receiver, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await until(lambda: server.started)
        receiver.url = f"http://127.0.0.1:{port}/hooks"
        yield receiver
    finally:
        server.should_exit = True
        await task


@dataclass
class Hooked:
    gateway: Gateway
    auth: dict[str, str]
    receiver: Receiver
    nats_url: str

    async def subscribe(
        self, headers: dict[str, str] | None = None, **body: object
    ) -> dict[str, Any]:
        wanted = {"url": self.receiver.url, "event_types": ["account.*"], **body}
        reply = await self.gateway.client.post(PATH, json=wanted, headers=headers or self.auth)
        assert reply.status_code == 201, reply.text
        found: dict[str, Any] = reply.json()
        return found

    async def get(self, path: str) -> dict[str, Any]:
        reply = await self.gateway.client.get(path, headers=self.auth)
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    async def publish(
        self,
        account: pb.Account,
        *,
        event_id: uuid.UUID | None = None,
        occurred_at: dt.datetime | None = None,
    ) -> Envelope:
        envelope = Envelope.for_message(
            subject="crm.customer.account.created.v1",
            message=customer_events.AccountCreated(account=account),
            aggregate_id=account.id,
            aggregate_version=account.version,
            event_id=event_id,
            occurred_at=occurred_at,
        )
        nc = await nats.connect(self.nats_url)
        try:
            js = nc.jetstream()
            await ensure_service_stream(js, "customer")
            await js.publish(envelope.subject, envelope.payload, headers=envelope.to_headers())
        finally:
            await nc.close()
        return envelope


async def until(condition: Callable[[], bool | Awaitable[bool]], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while True:
        met = condition()
        if not isinstance(met, bool):
            met = await met
        if met:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def hooked(migrated_database: str, nats_url: str) -> AsyncIterator[Hooked]:
    async with serving(Receiver()) as receiver, fake_customer_service() as (target, fake):
        settings = settings_for(
            migrated_database,
            target,
            nats_url=nats_url,
            webhook_allow_http=True,
            webhook_allow_private_addresses=True,
            webhook_retry_base_seconds=0.05,
            webhook_retry_cap_seconds=0.2,
            webhook_disable_after_failures=4,
            webhook_timeout_seconds=2,
        )
        async with running_gateway(settings) as (app, client):
            gateway = Gateway(client, app, fake, settings)
            yield Hooked(gateway, await gateway.login(), receiver, nats_url)


def an_account(*, partner_id: str = "", notes: str | None = None) -> pb.Account:
    account = pb.Account(
        id=str(uuid7()),
        version=1,
        name="Acme",
        owner_id=str(uuid7()),
        partner_id=partner_id,
    )
    if notes is not None:
        account.internal_notes = notes
    return account


def signed_by(secret: str, received: Received) -> bool:
    timestamp = received.headers["x-crm-timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(received.headers["x-crm-signature"], f"v1={expected}")


async def test_deliveries_are_signed_and_retried_until_the_receiver_recovers(
    hooked: Hooked,
) -> None:
    hook = await hooked.subscribe()
    assert hook["secret"].startswith("whsec_")
    hooked.receiver.failing = True
    account = an_account(notes="pays late")
    envelope = await hooked.publish(account)

    await until(lambda: len(hooked.receiver.refused) >= 2)
    hooked.receiver.failing = False
    await until(lambda: len(hooked.receiver.accepted) == 1)

    delivered = hooked.receiver.accepted[0]
    assert signed_by(hook["secret"], delivered)
    assert not signed_by("whsec_another", delivered)
    assert all(signed_by(hook["secret"], r) for r in hooked.receiver.refused)
    assert abs(int(delivered.headers["x-crm-timestamp"]) - time.time()) < 30
    assert delivered.headers["x-crm-webhook-id"] == hook["id"]
    assert delivered.headers["x-crm-event-id"] == str(envelope.event_id)
    assert delivered.headers["x-crm-event-type"] == "account.created"
    body = delivered.json()
    assert (body["id"], body["type"]) == (str(envelope.event_id), "account.created")
    assert body["data"]["id"] == account.id
    assert body["data"]["internal_notes"] == "pays late"  # the admin may see it

    log = await hooked.get(f"{PATH}/{hook['id']}/deliveries")
    [entry] = log["items"]
    assert entry["status"] == "delivered"
    assert entry["attempts"] == len(hooked.receiver.refused) + 1
    assert entry["last_status_code"] == 204
    webhook = await hooked.get(f"{PATH}/{hook['id']}")
    assert webhook["consecutive_failures"] == 0
    assert "secret" not in webhook


async def test_an_event_seen_twice_is_delivered_once(hooked: Hooked) -> None:
    hook = await hooked.subscribe()
    first = await hooked.publish(an_account())
    account = an_account()
    await hooked.publish(account, event_id=first.event_id)  # a redelivered event
    second = await hooked.publish(account)
    await until(lambda: len(hooked.receiver.accepted) == 2)
    await asyncio.sleep(1)  # time for a wrong third delivery to arrive
    ids = [r.headers["x-crm-event-id"] for r in hooked.receiver.accepted]
    assert sorted(ids) == sorted([str(first.event_id), str(second.event_id)])
    log = await hooked.get(f"{PATH}/{hook['id']}/deliveries")
    assert len(log["items"]) == 2


async def test_a_webhook_gets_what_happens_while_it_is_active(hooked: Hooked) -> None:
    before = dt.datetime.now(dt.UTC)
    hook = await hooked.subscribe()
    # Published now, but it happened before the webhook was made (a relay catching up).
    await hooked.publish(an_account(), occurred_at=before)
    change = {**hooked.auth, "If-Match": '"1"'}
    off = await hooked.gateway.client.patch(
        f"{PATH}/{hook['id']}", json={"active": False}, headers=change
    )
    assert off.status_code == 200, off.text
    while_off = dt.datetime.now(dt.UTC)
    change = {**hooked.auth, "If-Match": '"2"'}
    on = await hooked.gateway.client.patch(
        f"{PATH}/{hook['id']}", json={"active": True}, headers=change
    )
    assert on.status_code == 200, on.text
    await hooked.publish(an_account(), occurred_at=while_off)
    now = await hooked.publish(an_account())
    await until(lambda: len(hooked.receiver.accepted) == 1)
    await asyncio.sleep(1)  # time for a wrong second delivery to arrive
    assert [r.headers["x-crm-event-id"] for r in hooked.receiver.accepted] == [str(now.event_id)]


async def test_a_partner_keys_webhook_gets_only_its_partners_records_without_internal_fields(
    hooked: Hooked,
) -> None:
    partner = str(uuid.uuid4())
    reply = await hooked.gateway.client.post(
        "/api/v1/api-keys",
        json={"name": "Partner portal", "roles": ["partner"], "partner_id": partner},
        headers=hooked.auth,
    )
    assert reply.status_code == 201, reply.text
    key = {"X-API-Key": reply.json()["secret"]}
    hook = await hooked.subscribe(key, event_types=["*"])
    assert hook["owner_kind"] == "api_key"

    theirs = an_account(partner_id=partner, notes="margin is thin")
    await hooked.publish(an_account(partner_id=str(uuid.uuid4()), notes="another partner"))
    await hooked.publish(an_account(notes="no partner"))
    await hooked.publish(theirs)
    await until(lambda: len(hooked.receiver.accepted) == 1)
    await asyncio.sleep(1)  # time for a wrong second delivery to arrive
    [only] = hooked.receiver.accepted
    assert only.json()["data"]["id"] == theirs.id
    assert "internal_notes" not in only.json()["data"]

    # The key sees its own webhook; the admin sees it too; another key does not.
    listed = await hooked.gateway.client.get(PATH, headers=key)
    assert [w["id"] for w in listed.json()["items"]] == [hook["id"]]
    assert hook["id"] in [w["id"] for w in (await hooked.get(PATH))["items"]]

    # With the key revoked its webhook stops: it would deliver what nobody may see.
    revoked = await hooked.gateway.client.delete(
        f"/api/v1/api-keys/{reply.json()['id']}", headers={**hooked.auth, "If-Match": '"1"'}
    )
    assert revoked.status_code == 204, revoked.text
    webhook = await hooked.get(f"{PATH}/{hook['id']}")
    assert not webhook["active"]
    assert webhook["disabled_reason"] == "the API key that owned it was revoked"


async def test_repeated_failures_disable_the_webhook_until_it_is_enabled_again(
    hooked: Hooked,
) -> None:
    hook = await hooked.subscribe()
    hooked.receiver.failing = True
    await hooked.publish(an_account())

    async def disabled() -> bool:
        return not (await hooked.get(f"{PATH}/{hook['id']}"))["active"]

    await until(disabled)
    await asyncio.sleep(0.5)
    assert len(hooked.receiver.refused) == hooked.gateway.settings.webhook_disable_after_failures
    webhook = await hooked.get(f"{PATH}/{hook['id']}")
    assert webhook["disabled_reason"] == "4 delivery attempts failed in a row"
    [entry] = (await hooked.get(f"{PATH}/{hook['id']}/deliveries"))["items"]
    assert (entry["status"], entry["last_status_code"]) == ("pending", 503)

    hooked.receiver.failing = False
    reply = await hooked.gateway.client.patch(
        f"{PATH}/{hook['id']}",
        json={"active": True},
        headers={**hooked.auth, "If-Match": f'"{webhook["version"]}"'},
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["disabled_reason"], reply.json()["consecutive_failures"]) == (None, 0)
    await until(lambda: len(hooked.receiver.accepted) == 1)

    resent = await hooked.gateway.client.post(
        f"{PATH}/{hook['id']}/deliveries/{entry['id']}/resend", headers=hooked.auth
    )
    assert resent.status_code == 202, resent.text
    await until(lambda: len(hooked.receiver.accepted) == 2)
    first, again = hooked.receiver.accepted
    assert first.headers["x-crm-event-id"] == again.headers["x-crm-event-id"]


async def test_a_rotated_secret_signs_the_next_deliveries(hooked: Hooked) -> None:
    hook = await hooked.subscribe()
    reply = await hooked.gateway.client.post(
        f"{PATH}/{hook['id']}/rotate-secret", headers={**hooked.auth, "If-Match": '"1"'}
    )
    assert reply.status_code == 200, reply.text
    secret = reply.json()["secret"]
    assert secret != hook["secret"]
    await hooked.publish(an_account())
    await until(lambda: len(hooked.receiver.accepted) == 1)
    assert signed_by(secret, hooked.receiver.accepted[0])
    assert not signed_by(hook["secret"], hooked.receiver.accepted[0])


async def test_bad_requests_change_nothing(hooked: Hooked) -> None:
    client, auth = hooked.gateway.client, hooked.auth
    url = hooked.receiver.url
    for body, field_name in (
        ({"url": "ftp://example.com/x", "event_types": ["*"]}, "url"),
        ({"url": "http://user:pw@example.com/x", "event_types": ["*"]}, "url"),
        ({"url": url, "event_types": ["invoice.paid"]}, "event_types"),
        ({"url": url, "event_types": []}, "event_types"),
        ({"url": url, "event_types": ["*"], "secret": "mine"}, "secret"),
        ({"url": url, "event_types": ["*"], "owner_id": str(uuid7())}, "owner_id"),
    ):
        problem = assert_problem(await client.post(PATH, json=body, headers=auth), 422)
        assert field_name in json.dumps(problem["errors"]), (body, problem)
    assert (await hooked.get(PATH))["items"] == []

    hook = await hooked.subscribe()
    target = f"{PATH}/{hook['id']}"
    assert_problem(await client.patch(target, json={"active": False}, headers=auth), 428)
    stale = {**auth, "If-Match": '"7"'}
    assert_problem(await client.patch(target, json={"active": False}, headers=stale), 412)
    assert_problem(await client.delete(target, headers=stale), 412)
    assert_problem(await client.get(f"{PATH}/{uuid7()}", headers=auth), 404)
    assert_problem(await client.get(f"{PATH}/not-an-id", headers=auth), 404)
    missing = f"{target}/deliveries/{uuid7()}/resend"
    assert_problem(await client.post(missing, headers=auth), 404)
    assert (await hooked.get(target))["version"] == 1

    # A rep may not subscribe, nor see the admin's webhook (404, not 403).
    rep = bearer_for(hooked.gateway, "sales_rep")
    body = {"url": url, "event_types": ["*"]}
    assert_problem(await client.post(PATH, json=body, headers=rep), 403)
    assert_problem(await client.get(target, headers=rep), 404)
    assert (await client.get(PATH, headers=rep)).json()["items"] == []

    reply = await client.delete(target, headers={**auth, "If-Match": '"1"'})
    assert reply.status_code == 204, reply.text
    assert_problem(await client.get(target, headers=auth), 404)


async def test_a_patch_that_changes_nothing_keeps_the_version(gateway: Gateway) -> None:
    auth = await gateway.login()
    wanted = {"url": "https://hooks.example.com/crm", "event_types": ["account.*"]}
    created = await gateway.client.post(PATH, json={**wanted, "description": "ERP"}, headers=auth)
    assert created.status_code == 201, created.text
    hook = {k: v for k, v in created.json().items() if k != "secret"}
    target, current = f"{PATH}/{hook['id']}", {**auth, "If-Match": '"1"'}
    nulls = dict.fromkeys(("url", "event_types", "description", "active"))
    same = {**wanted, "description": "ERP", "active": True}
    for body in ({}, nulls, same):
        reply = await gateway.client.patch(target, json=body, headers=current)
        assert reply.status_code == 200, (body, reply.text)
        assert (reply.json(), reply.headers["etag"]) == (hook, '"1"'), body
    # As for a real change, the version named must be current.
    stale = {**auth, "If-Match": '"2"'}
    assert_problem(await gateway.client.patch(target, json=same, headers=stale), 412)
    assert (await gateway.client.get(target, headers=auth)).json() == hook

    changed = await gateway.client.patch(target, json={"description": "ERP 2"}, headers=current)
    assert (changed.json()["version"], changed.headers["etag"]) == (2, '"2"')


async def test_an_if_match_list_names_the_webhooks_versions(gateway: Gateway) -> None:
    auth = await gateway.login()
    wanted = {"url": "https://hooks.example.com/crm", "event_types": ["*"]}
    hook = (await gateway.client.post(PATH, json=wanted, headers=auth)).json()
    target = f"{PATH}/{hook['id']}"
    stale = {**auth, "If-Match": '"2", "3"'}
    assert_problem(await gateway.client.patch(target, json={"active": False}, headers=stale), 412)
    assert_problem(await gateway.client.delete(target, headers=stale), 412)
    listed = {**auth, "If-Match": '"0", "1"'}
    reply = await gateway.client.patch(target, json={"active": False}, headers=listed)
    assert (reply.status_code, reply.headers.get("etag")) == (200, '"2"'), reply.text
    reply = await gateway.client.delete(target, headers={**auth, "If-Match": '"1", "2"'})
    assert reply.status_code == 204, reply.text


async def test_private_addresses_are_refused_unless_allowed(
    migrated_database: str, nats_url: str
) -> None:
    async with fake_customer_service() as (target, fake):
        settings = settings_for(migrated_database, target, webhook_allow_http=True)
        async with running_gateway(settings) as (app, client):
            auth = await Gateway(client, app, fake, settings).login()
            for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://[::1]/x"):
                body = {"url": url, "event_types": ["*"]}
                reply = await client.post(PATH, json=body, headers=auth)
                problem = assert_problem(reply, 422)
                assert "private" in json.dumps(problem["errors"]), url
