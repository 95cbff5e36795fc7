"""The gateway's read cache against real NATS: served from memory until the owning service
publishes an event about the record, and never trusted while events may be missed."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import nats
import pytest

from crm_gateway.clients.read_cache import ReadCache
from crm_gateway.identity.domain import User
from crm_platform.events.envelope import AGGREGATE_ID, AGGREGATE_VERSION
from crm_platform.ids import uuid7
from crm_platform.testing.nats import NatsServer

from .conftest import FakeAccounts, Gateway, fake_customer_service, running_gateway, settings_for


@dataclass
class CachedGateway:
    gateway: Gateway
    auth: dict[str, str]
    cache: ReadCache[object]

    @property
    def fake(self) -> FakeAccounts:
        return self.gateway.fake

    async def read(self, account_id: str) -> httpx.Response:
        reply = await self.gateway.client.get(f"/api/v1/accounts/{account_id}", headers=self.auth)
        assert reply.status_code == 200, reply.text
        return reply

    async def service_calls_for(self, account_id: str) -> int:
        """How many GetAccount calls reached the service while reading `account_id` once."""
        before = len(self.fake.callers)
        await self.read(account_id)
        return len(self.fake.callers) - before


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def cached(migrated_database: str, nats_url: str) -> AsyncIterator[CachedGateway]:
    async with fake_customer_service() as (target, fake):
        settings = settings_for(migrated_database, target, nats_url=nats_url)
        async with running_gateway(settings) as (app, client):
            gateway = Gateway(client, app, fake, settings)
            cache = app.state.services.customer._cache
            await until(lambda: cache.enabled)
            yield CachedGateway(gateway, await gateway.login(), cache)


async def create(cached: CachedGateway, name: str) -> str:
    reply = await cached.gateway.client.post(
        "/api/v1/accounts", json={"name": name}, headers=cached.auth
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def change_behind_the_gateways_back(fake: FakeAccounts, account_id: str, name: str) -> int:
    account = fake.accounts[account_id]
    account.name, account.version = name, account.version + 1
    return account.version


async def publish_change(nats_url: str, account_id: str, version: int) -> None:
    nc = await nats.connect(nats_url)
    try:
        headers = {AGGREGATE_ID: account_id, AGGREGATE_VERSION: str(version)}
        await nc.publish("crm.customer.account.updated.v1", b"", headers=headers)
        await nc.flush()
    finally:
        await nc.close()


async def test_a_read_is_served_from_memory_until_an_event_names_the_record(
    cached: CachedGateway, nats_url: str
) -> None:
    account_id = await create(cached, "Before")
    other_id = await create(cached, "Unrelated")
    assert await cached.service_calls_for(account_id) == 1
    assert await cached.service_calls_for(account_id) == 0
    assert await cached.service_calls_for(other_id) == 1

    version = change_behind_the_gateways_back(cached.fake, account_id, "After")
    assert (await cached.read(account_id)).json()["name"] == "Before"  # no event yet
    await publish_change(nats_url, account_id, version)
    await until(lambda: len(cached.cache) == 1)

    fresh = await cached.read(account_id)
    assert fresh.json()["name"] == "After"
    assert fresh.headers["ETag"] == f'"{version}"'
    assert await cached.service_calls_for(other_id) == 0  # the event named only one record


async def test_each_caller_gets_the_answer_the_service_gave_it(cached: CachedGateway) -> None:
    account_id = await create(cached, "Shared")
    await cached.read(account_id)
    manager = User(
        id=uuid7(),
        email="manager@example.com",
        display_name="Manager",
        roles=("sales_manager",),
        team_id=uuid7(),
        active=True,
        version=1,
        password_hash="",
    )
    token = cached.gateway.app.state.services.tokens.issue(manager, uuid7()).access_token
    before = len(cached.fake.callers)
    reply = await cached.gateway.client.get(
        f"/api/v1/accounts/{account_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert reply.status_code == 200, reply.text
    assert [caller.subject_id for caller in cached.fake.callers[before:]] == [manager.id]


async def test_a_write_through_the_gateway_is_read_back_at_once(cached: CachedGateway) -> None:
    account_id = await create(cached, "Old name")
    first = await cached.read(account_id)
    patched = await cached.gateway.client.patch(
        f"/api/v1/accounts/{account_id}",
        json={"name": "New name"},
        headers={**cached.auth, "If-Match": first.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text
    again = await cached.read(account_id)
    assert again.json()["name"] == "New name"
    assert again.headers["ETag"] == patched.headers["ETag"]


async def test_without_events_every_read_asks_the_service(
    cached: CachedGateway, nats_server: NatsServer
) -> None:
    account_id = await create(cached, "Offline")
    await cached.read(account_id)
    assert await cached.service_calls_for(account_id) == 0
    nats_server.stop()
    try:
        await until(lambda: not cached.cache.enabled)
        assert await cached.service_calls_for(account_id) == 1
        assert await cached.service_calls_for(account_id) == 1
    finally:
        nats_server.start()
    await until(lambda: cached.cache.enabled)
    assert await cached.service_calls_for(account_id) == 1  # emptied on reconnect
    assert await cached.service_calls_for(account_id) == 0


async def test_a_write_through_one_gateway_process_is_read_back_from_another(
    cached: CachedGateway, nats_url: str
) -> None:
    """The fake service publishes no events: only the word between the processes helps."""
    account_id = await create(cached, "Old name")
    peer_settings = cached.gateway.settings.model_copy(update={"nats_url": nats_url})
    async with running_gateway(peer_settings) as (peer_app, peer_client):
        peer_cache = peer_app.state.services.customer._cache
        await until(lambda: peer_cache.enabled)
        path = f"/api/v1/accounts/{account_id}"
        first = await peer_client.get(path, headers=cached.auth)
        assert first.status_code == 200, first.text
        assert len(peer_cache) == 1
        patched = await cached.gateway.client.patch(
            path,
            json={"name": "New name"},
            headers={**cached.auth, "If-Match": first.headers["ETag"]},
        )
        assert patched.status_code == 200, patched.text
        await until(lambda: len(peer_cache) == 0)
        again = await peer_client.get(path, headers=cached.auth)
        assert again.json()["name"] == "New name"
