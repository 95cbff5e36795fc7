"""Schemathesis over `/openapi.json`: the gateway, in-process over ASGI, in front of the real
customer service (its own PostgreSQL database and NATS), called as the bootstrap admin.

Every operation gets valid and invalid requests, a bounded number each; no answer may be a
5xx, and every answer must match what the document says of its status. Generation is
derandomized, so a run in `make test` is repeatable; a failure names the operation and the
request, and `hypothesis` has shrunk it.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

import crm_customer
from crm_customer.bootstrap import bootstrap
from crm_customer.config import CustomerSettings
from crm_platform.db.migrations import upgrade_to_head
from crm_platform.service import running
from crm_platform.testing.ports import free_port
from crm_platform.testing.postgres import PostgresServer

from .conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PRINCIPAL_SECRET, running_gateway, settings_for

pytestmark = pytest.mark.integration

CUSTOMER_MIGRATIONS = Path(crm_customer.__file__).resolve().parents[2] / "migrations"
BASE_URL = "http://gateway"
# Per operation and generation mode; ~13 operations x 2 modes keep the run near 20 s.
EXAMPLES = 15
CHECKS = [not_a_server_error, response_schema_conformance]

T = TypeVar("T")


@dataclass
class Stack:
    client: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop
    auth: dict[str, str]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        # The test is synchronous (Hypothesis drives it); the apps live on the session loop,
        # which runs only while a coroutine of ours does.
        return self.loop.run_until_complete(coroutine)


@pytest.fixture
async def customer_database(postgres_server: PostgresServer) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:16]}"
    password = uuid.uuid4().hex
    await postgres_server.create_database(name, owner=name, password=password)
    try:
        url = postgres_server.url(name, user=name, password=password)
        await asyncio.to_thread(upgrade_to_head, CUSTOMER_MIGRATIONS, url)
        yield url
    finally:
        await postgres_server.drop_database(name, drop_role=name)


@pytest.fixture
async def stack(
    migrated_database: str, customer_database: str, nats_url: str
) -> AsyncIterator[Stack]:
    customer = CustomerSettings(
        database_url=customer_database,
        nats_url=nats_url,
        grpc_port=free_port(),
        principal_secret=PRINCIPAL_SECRET,
    )
    async with running(customer, await bootstrap(customer)) as server:
        settings = settings_for(migrated_database, server.address)
        async with running_gateway(settings) as (_, client):
            login = await client.post(
                "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
            yield Stack(client, asyncio.get_running_loop(), auth)


async def send(client: httpx.AsyncClient, case: Case, auth: dict[str, str]) -> httpx.Response:
    """The case as schemathesis would send it with `requests`, sent with httpx over ASGI."""
    sent = case.as_transport_kwargs(base_url=BASE_URL, headers=auth)
    request: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "headers": dict(sent["headers"]),
        "params": sent.get("params"),
    }
    if "json" in sent:
        request["json"] = sent["json"]
    data = sent.get("data")
    if isinstance(data, bytes | str):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    return await client.request(**request)


def test_every_answer_keeps_the_openapi_contract(stack: Stack) -> None:
    document = stack.run(stack.client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def answers_as_documented(case: Case) -> None:
                response = stack.run(send(stack.client, case, stack.auth))
                case.validate_response(response, checks=CHECKS)

            try:
                answers_as_documented()
            except Unsatisfiable:
                pass  # nothing of this operation can be made invalid (no inputs)
            except Exception as failure:  # every operation is tried; all failures are told
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)
