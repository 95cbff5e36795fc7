"""Idempotency-Key on POST: one effect per key, replays, conflicts, in the real database."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import create_async_engine

from crm_gateway.idempotency.repository import idempotency_keys

from .conftest import Gateway, assert_problem, bearer_for

pytestmark = pytest.mark.integration

ACCOUNTS = "/api/v1/accounts"


async def count_keys(database_url: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(
                await connection.scalar(select(func.count()).select_from(idempotency_keys)) or 0
            )
    finally:
        await engine.dispose()


async def test_a_repeat_replays_the_first_answer_and_makes_one_account(gateway: Gateway) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": "create-acme-1"}
    first = await gateway.client.post(ACCOUNTS, json={"name": "Acme"}, headers=headers)
    assert first.status_code == 201, first.text
    again = await gateway.client.post(ACCOUNTS, json={"name": "Acme"}, headers=headers)
    assert again.status_code == 201
    assert again.content == first.content
    for name in ("location", "etag", "content-type"):
        assert again.headers[name] == first.headers[name]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(gateway.fake.accounts) == 1


async def test_concurrent_repeats_make_one_effect(gateway: Gateway) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": str(uuid.uuid4())}
    replies = await asyncio.gather(
        *(gateway.client.post(ACCOUNTS, json={"name": "Once"}, headers=headers) for _ in range(10))
    )
    assert len(gateway.fake.accounts) == 1
    created = [r for r in replies if r.status_code == 201]
    assert created, [r.status_code for r in replies]
    assert {r.content for r in created} == {created[0].content}
    assert all(r.status_code in (201, 409) for r in replies), [r.status_code for r in replies]
    for reply in replies:
        if reply.status_code == 409:
            assert_problem(reply, 409)
    assert sum("idempotent-replayed" not in r.headers for r in created) == 1


async def test_the_same_key_for_another_request_is_422(gateway: Gateway) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": "k-1"}
    assert (
        await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=headers)
    ).status_code == 201
    other_body = await gateway.client.post(ACCOUNTS, json={"name": "B"}, headers=headers)
    assert_problem(other_body, 422)
    other_path = await gateway.client.post(
        "/api/v1/contacts", json={"first_name": "A", "last_name": "B"}, headers=headers
    )
    assert_problem(other_path, 422)
    assert len(gateway.fake.accounts) == 1


@pytest.mark.parametrize("key", ["", "   ", "k" * 256], ids=["empty", "blank", "too-long"])
async def test_unusable_keys_are_422_and_change_nothing(gateway: Gateway, key: str) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": key}
    body = assert_problem(
        await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=headers), 422
    )
    assert body["errors"] == [
        {"field": "header.idempotency-key", "message": body["errors"][0]["message"]}
    ]  # type: ignore[index]
    assert gateway.fake.accounts == {}


async def test_a_key_of_255_characters_is_fine(gateway: Gateway) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": "k" * 255}
    assert (
        await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=headers)
    ).status_code == 201


async def test_a_server_error_is_not_kept_so_a_retry_runs_again(
    gateway: Gateway, migrated_database: str
) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": "crash-1"}
    for _ in range(2):
        assert_problem(
            await gateway.client.post(ACCOUNTS, json={"name": "crash"}, headers=headers), 500
        )
    # Both reached the service: the first answer was not kept for replay.
    assert len(gateway.fake.metadata) == 2
    assert await count_keys(migrated_database) == 0


async def test_client_errors_are_kept_and_replayed(gateway: Gateway) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": "empty-name"}
    first = await gateway.client.post(ACCOUNTS, json={"name": ""}, headers=headers)
    assert_problem(first, 422)
    again = await gateway.client.post(ACCOUNTS, json={"name": ""}, headers=headers)
    assert (again.status_code, again.content) == (422, first.content)
    assert again.headers["idempotent-replayed"] == "true"


async def test_a_request_refused_for_its_form_runs_when_retried_in_the_right_one(
    gateway: Gateway,
) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": "wrong-type"}
    as_text = {**headers, "Content-Type": "text/plain"}
    refused = await gateway.client.post(ACCOUNTS, content=b'{"name": "Typed"}', headers=as_text)
    assert_problem(refused, 415)
    created = await gateway.client.post(ACCOUNTS, json={"name": "Typed"}, headers=headers)
    assert created.status_code == 201, created.text
    assert "idempotent-replayed" not in created.headers
    again = await gateway.client.post(ACCOUNTS, json={"name": "Typed"}, headers=headers)
    assert (again.status_code, again.content) == (201, created.content)


async def expire_all_keys(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            yesterday = func.now() - timedelta(days=1)
            await connection.execute(update(idempotency_keys).values(expires_at=yesterday))
    finally:
        await engine.dispose()


async def test_keys_belong_to_their_caller(gateway: Gateway) -> None:
    admin = {**await gateway.login(), "Idempotency-Key": "shared"}
    other = {**bearer_for(gateway, "sales_rep"), "Idempotency-Key": "shared"}
    for headers in (admin, other):
        reply = await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=headers)
        assert reply.status_code == 201
        assert "idempotent-replayed" not in reply.headers
    assert len(gateway.fake.accounts) == 2


async def test_an_expired_key_is_free_again_and_purged(
    gateway: Gateway, migrated_database: str
) -> None:
    headers = {**await gateway.login(), "Idempotency-Key": "old"}
    first = await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=headers)
    assert first.status_code == 201
    await expire_all_keys(migrated_database)
    reply = await gateway.client.post(ACCOUNTS, json={"name": "B"}, headers=headers)
    assert reply.status_code == 201
    assert "idempotent-replayed" not in reply.headers
    assert len(gateway.fake.accounts) == 2

    store = gateway.app.state.services.idempotency
    assert await store.purge_expired() == 0  # the key was taken over, so it lives again
    await expire_all_keys(migrated_database)
    assert await store.purge_expired() == 1
    assert await count_keys(migrated_database) == 0


async def test_without_a_key_or_a_caller_nothing_is_kept(
    gateway: Gateway, migrated_database: str
) -> None:
    auth = await gateway.login()
    for _ in range(2):
        assert (
            await gateway.client.post(ACCOUNTS, json={"name": "A"}, headers=auth)
        ).status_code == 201
    anonymous = await gateway.client.post(
        ACCOUNTS, json={"name": "A"}, headers={"Idempotency-Key": "x"}
    )
    assert_problem(anonymous, 401)
    assert len(gateway.fake.accounts) == 2
    assert await count_keys(migrated_database) == 0


async def test_openapi_declares_the_key_on_covered_posts(gateway: Gateway) -> None:
    paths = (await gateway.client.get("/openapi.json")).json()["paths"]
    create = paths[ACCOUNTS]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert create["responses"]["409"]["content"]["application/problem+json"]
    login = paths["/api/v1/auth/token"]["post"]
    assert "Idempotency-Key" not in [p["name"] for p in login.get("parameters", [])]
