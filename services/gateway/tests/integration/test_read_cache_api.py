"""The gateway's read cache against real NATS: served from memory until the owning service
publishes an event about the record, and never trusted while events may be missed."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import nats
import pytest
from fastapi import Request
from prometheus_client import REGISTRY

from crm_gateway.api.deps import customer_client, services_of
from crm_gateway.clients.customer import CustomerClient
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


async def test_a_read_by_any_spelling_of_the_id_is_dropped_by_the_records_event(
    cached: CachedGateway, nats_url: str
) -> None:
    """The service reads an upper-case (or hyphen-less, `{...}`, `urn:uuid:`) id as the
    record's; its events name the canonical id, which must drop that copy too."""
    account_id = await create(cached, "Before")
    shouted = account_id.upper()
    assert await cached.service_calls_for(shouted) == 1
    assert await cached.service_calls_for(shouted) == 0
    assert await cached.service_calls_for(account_id) == 0  # one record, however spelt
    version = change_behind_the_gateways_back(cached.fake, account_id, "After")
    await publish_change(nats_url, account_id, version)
    await until(lambda: len(cached.cache) == 0)
    assert (await cached.read(shouted)).json()["name"] == "After"


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


def requests_counted(route: str, status: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "crm_http_requests_total", {"route": route, "method": "GET", "status": status}
        )
        or 0.0
    )


async def test_a_read_from_memory_is_answered_as_the_route_answers_it(
    cached: CachedGateway,
) -> None:
    """The second read is the cached-read middleware's (no service call): the same body and
    headers as the route's, one unit of the budget each, counted under the route."""
    account_id = await create(cached, "Twice")
    template = "/api/v1/accounts/{account_id}"
    counted = requests_counted(template, "200")
    routed: list[str] = []

    async def customer_seen_by_routes(request: Request) -> CustomerClient:
        routed.append(request.url.path)
        return services_of(request).customer

    cached.gateway.app.dependency_overrides[customer_client] = customer_seen_by_routes
    calls = len(cached.fake.callers)
    from_route = await cached.read(account_id)
    assert (len(cached.fake.callers), len(routed)) == (calls + 1, 1)
    from_memory = await cached.read(account_id)
    assert (len(cached.fake.callers), len(routed)) == (calls + 1, 1)
    assert from_memory.json() == from_route.json()
    varying = {"ratelimit-remaining", "ratelimit-reset"}
    assert {k: v for k, v in from_memory.headers.items() if k not in varying} == {
        k: v for k, v in from_route.headers.items() if k not in varying
    }
    assert int(from_memory.headers["RateLimit-Remaining"]) == (
        int(from_route.headers["RateLimit-Remaining"]) - 1
    )
    assert requests_counted(template, "200") == counted + 2

    unchanged = await cached.gateway.client.get(
        f"/api/v1/accounts/{account_id}",
        headers={**cached.auth, "If-None-Match": from_memory.headers["ETag"]},
    )
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged.headers["ETag"] == from_memory.headers["ETag"]
    assert (len(cached.fake.callers), len(routed)) == (calls + 1, 1)


async def test_a_read_with_a_query_string_is_the_routes_to_refuse(cached: CachedGateway) -> None:
    """A record read takes no query parameters: held in memory or not, `?x=` is a 422."""
    account_id = await create(cached, "Plain")
    await cached.read(account_id)
    calls = len(cached.fake.callers)
    assert (await cached.read(account_id)).status_code == 200
    assert len(cached.fake.callers) == calls  # held in memory
    with_query = await cached.gateway.client.get(
        f"/api/v1/accounts/{account_id}", params={"fields": "name"}, headers=cached.auth
    )
    assert with_query.status_code == 422, with_query.text
    assert with_query.json()["errors"][0]["field"] == "query.fields"
    assert len(cached.fake.callers) == calls


async def test_a_cached_record_is_refused_to_whoever_the_route_refuses(
    cached: CachedGateway,
) -> None:
    account_id = await create(cached, "Guarded")
    await cached.read(account_id)
    await cached.read(account_id)  # now in memory
    path = f"/api/v1/accounts/{account_id}"
    anonymous = await cached.gateway.client.get(path)
    forged = await cached.gateway.client.get(path, headers={"Authorization": "Bearer forged"})
    for refused in (anonymous, forged):
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def cached_with_a_small_budget(
    migrated_database: str, nats_url: str
) -> AsyncIterator[CachedGateway]:
    async with fake_customer_service() as (target, fake):
        settings = settings_for(
            migrated_database, target, nats_url=nats_url, rate_limit_per_minute=4
        )
        async with running_gateway(settings) as (app, client):
            gateway = Gateway(client, app, fake, settings)
            cache = app.state.services.customer._cache
            await until(lambda: cache.enabled)
            yield CachedGateway(gateway, await gateway.login(), cache)


async def test_reads_from_memory_spend_the_budget_like_any_other(
    cached_with_a_small_budget: CachedGateway,
) -> None:
    cached = cached_with_a_small_budget
    account_id = await create(cached, "Counted")  # the first of four
    path = f"/api/v1/accounts/{account_id}"
    answers = [await cached.gateway.client.get(path, headers=cached.auth) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert len(cached.fake.callers) == 1 + 1  # the create, then one read; the rest from memory
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
