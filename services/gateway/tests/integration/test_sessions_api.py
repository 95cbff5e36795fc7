"""Sessions over HTTP: login throttling, refresh token rotation and reuse, logout reaching
every gateway process."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from .conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Gateway,
    assert_problem,
    fake_customer_service,
    running_gateway,
    settings_for,
)

pytestmark = pytest.mark.integration

TOKEN = "/api/v1/auth/token"


def bearer(token: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


async def log_in(
    client: httpx.AsyncClient, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD
) -> httpx.Response:
    return await client.post(TOKEN, data={"username": email, "password": password})


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


@pytest.fixture
async def two_gateways(
    migrated_database: str,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two gateway processes' worth of state on one database, as with several workers."""
    async with AsyncExitStack() as stack:
        target, _ = await stack.enter_async_context(fake_customer_service())
        settings = settings_for(
            migrated_database, target, identity_refresh_seconds=0.2,
            login_failures_per_email=3, login_failures_per_ip=5, login_failure_window_seconds=60,
        )  # fmt: skip
        _, first = await stack.enter_async_context(running_gateway(settings))
        _, second = await stack.enter_async_context(running_gateway(settings))
        yield first, second


async def test_failed_logins_for_an_email_are_throttled_in_every_process(
    two_gateways: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = two_gateways
    for client in (first, second):  # a success clears the email's failures
        assert_problem(await log_in(client, password="wrong password"), 401)
    assert (await log_in(first)).status_code == 200
    for client in (first, second, first):
        assert_problem(await log_in(client, password="wrong password"), 401)
    for client in (second, first):
        throttled = await log_in(client)  # even the right password waits now
        body = assert_problem(throttled, 429)
        assert 0 < int(throttled.headers["retry-after"]) <= 60
        assert "too many failed logins" in str(body["detail"])


async def test_failed_logins_from_one_address_are_throttled(
    two_gateways: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = two_gateways
    for number in range(5):
        client = (first, second)[number % 2]
        assert_problem(await log_in(client, f"nobody{number}@example.com", "guess"), 401)
    assert_problem(await log_in(second, "someone.else@example.com", "guess"), 429)
    assert_problem(await log_in(first), 429)


async def test_a_refresh_token_rotates_and_its_reuse_ends_the_session(gateway: Gateway) -> None:
    login = await log_in(gateway.client)
    issued = login.json()
    assert issued["refresh_token"]
    assert issued["refresh_expires_in"] == gateway.settings.refresh_token_ttl_seconds
    rotated = await refresh(gateway.client, issued["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    fresh = rotated.json()
    assert fresh["refresh_token"] != issued["refresh_token"]
    assert fresh["access_token"] != issued["access_token"]
    assert (await gateway.client.get("/api/v1/me", headers=bearer(fresh))).status_code == 200

    assert_problem(await refresh(gateway.client, issued["refresh_token"]), 401)  # replayed
    # The whole family is revoked: the latest refresh token and the access tokens too.
    assert_problem(await refresh(gateway.client, fresh["refresh_token"]), 401)
    assert_problem(await gateway.client.get("/api/v1/me", headers=bearer(fresh)), 401)
    assert_problem(await gateway.client.get("/api/v1/me", headers=bearer(issued)), 401)
    # Another login is a session of its own.
    assert (
        await gateway.client.get("/api/v1/me", headers=await gateway.login())
    ).status_code == 200


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "refresh_token"},
        {"grant_type": "refresh_token", "refresh_token": "made-up"},
        {"grant_type": "client_credentials", "username": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        {"username": ADMIN_EMAIL},
    ],
    ids=["missing-token", "unknown-token", "unknown-grant", "missing-password"],
)
async def test_bad_token_requests(gateway: Gateway, form: dict[str, str]) -> None:
    reply = await gateway.client.post(TOKEN, data=form)
    assert reply.status_code in (401, 422)
    assert_problem(reply, 401 if form.get("refresh_token") else 422)


async def test_logout_cuts_access_in_every_process_within_the_bound(
    two_gateways: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    first, second = two_gateways
    token = (await log_in(first)).json()
    other = (await log_in(first)).json()  # a second session of the same user
    assert (await second.get("/api/v1/accounts", headers=bearer(token))).status_code == 200
    assert (await first.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
    assert_problem(await first.get("/api/v1/accounts", headers=bearer(token)), 401)
    assert_problem(await refresh(first, token["refresh_token"]), 401)

    started = time.monotonic()
    while (await second.get("/api/v1/accounts", headers=bearer(token))).status_code != 401:
        assert time.monotonic() - started < 2.0, "the other process still accepts the token"
        await asyncio.sleep(0.05)
    assert (await second.get("/api/v1/accounts", headers=bearer(other))).status_code == 200
