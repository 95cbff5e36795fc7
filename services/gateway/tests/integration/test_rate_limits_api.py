"""Per-principal budgets: 429 with Retry-After past the limit, RateLimit-* on every answer,
one budget shared by every gateway process on the same database."""

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from .conftest import Gateway, assert_problem, fake_customer_service, running_gateway, settings_for


async def clear_of_a_minute_boundary() -> None:
    """The budget is per clock minute: do not start a count just before one turns."""
    into_minute = time.time() % 60
    if into_minute > 50:
        await asyncio.sleep(60 - into_minute + 0.5)


@pytest.fixture
async def gateways(migrated_database: str) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    """Two gateway processes (as replicas would be) on one database."""
    async with fake_customer_service() as (target, fake):
        settings = settings_for(migrated_database, target)
        async with (
            running_gateway(settings) as (app, client),
            running_gateway(settings) as (_, other_client),
        ):
            yield Gateway(client, app, fake, settings), other_client


async def issue_key(gateway: Gateway, limit: int) -> dict[str, str]:
    auth = await gateway.login()
    reply = await gateway.client.post(
        "/api/v1/api-keys",
        json={
            "name": f"limited {limit}",
            "roles": ["erp_integration"],
            "rate_limit_per_minute": limit,
        },
        headers=auth,
    )
    assert reply.status_code == 201, reply.text
    return {"X-API-Key": reply.json()["secret"]}


async def test_a_burst_over_a_keys_limit_gets_429_and_other_keys_go_on(
    gateways: tuple[Gateway, httpx.AsyncClient],
) -> None:
    gateway, _ = gateways
    limited, other = await issue_key(gateway, 5), await issue_key(gateway, 5)
    await clear_of_a_minute_boundary()
    answers = [await gateway.client.get("/api/v1/accounts", headers=limited) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "5"
    assert answers[0].headers["RateLimit-Policy"] == "5;w=60"

    refused = await gateway.client.get("/api/v1/accounts", headers=limited)
    assert_problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert (await gateway.client.get("/api/v1/accounts", headers=other)).status_code == 200


async def test_two_gateway_processes_share_one_budget(
    gateways: tuple[Gateway, httpx.AsyncClient],
) -> None:
    gateway, other_process = gateways
    key = await issue_key(gateway, 20)
    await clear_of_a_minute_boundary()
    statuses = []
    for n in range(40):
        client = gateway.client if n % 2 else other_process
        statuses.append((await client.get("/api/v1/accounts", headers=key)).status_code)
    allowed = statuses.count(200)
    # Never more than the limit; at most two unspent blocks (limit / 20 each) short of it.
    assert 16 <= allowed <= 20
    assert statuses.count(429) == 40 - allowed


async def test_users_get_the_default_budget_in_their_headers(
    gateways: tuple[Gateway, httpx.AsyncClient],
) -> None:
    gateway, _ = gateways
    reply = await gateway.client.get("/api/v1/accounts", headers=await gateway.login())
    assert reply.status_code == 200
    assert reply.headers["RateLimit-Limit"] == str(gateway.settings.rate_limit_per_minute)
    assert int(reply.headers["RateLimit-Remaining"]) < gateway.settings.rate_limit_per_minute
