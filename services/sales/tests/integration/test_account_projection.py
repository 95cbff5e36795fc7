"""Customer account events, published to real JetStream, land in the sales projection."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import grpc
import nats
import pytest
from google.protobuf.message import Message

from crm.customer.events.v1 import events_pb2 as customer_events
from crm.customer.v1 import customer_pb2
from crm.sales.v1 import account_projection_pb2 as pb
from crm.sales.v1 import account_projection_pb2_grpc as pb_grpc
from crm_platform.auth.principal import Principal
from crm_platform.events.envelope import Envelope
from crm_platform.events.streams import ensure_service_stream
from crm_platform.ids import uuid7
from crm_platform.testing.services import (
    assert_schema_matches,
    call_metadata,
    principal,
    running_service,
)
from crm_sales.bootstrap import bootstrap
from crm_sales.config import SalesSettings
from crm_sales.repository import tables

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
READER = principal(objects=["account"])


def sales_service(
    database_url: str, nats_url: str
) -> AbstractAsyncContextManager[grpc.aio.Channel]:
    return running_service(
        SalesSettings,
        bootstrap,
        migrations=MIGRATIONS,
        database_url=database_url,
        nats_url=nats_url,
    )


@pytest.fixture
async def sales(database_url: str, nats_url: str) -> AsyncIterator[grpc.aio.Channel]:
    async with sales_service(database_url, nats_url) as channel:
        yield channel


async def publish_account(
    nats_url: str,
    account_id: uuid.UUID,
    version: int,
    name: str,
    *,
    deleted: bool = False,
    partner_id: uuid.UUID | None = None,
) -> None:
    account = customer_pb2.Account(
        id=str(account_id),
        version=version,
        name=name,
        owner_id=str(uuid.uuid4()),
        partner_id=str(partner_id) if partner_id else "",
    )
    message: Message
    if deleted:
        message, verb = customer_events.AccountDeleted(account=account), "deleted"
    elif version == 1:
        message, verb = customer_events.AccountCreated(account=account), "created"
    else:
        message = customer_events.AccountUpdated(account=account, changed_fields=["name"])
        verb = "updated"
    envelope = Envelope.for_message(
        subject=f"crm.customer.account.{verb}.v1",
        message=message,
        aggregate_id=str(account_id),
        aggregate_version=version,
        event_id=uuid7(),
    )
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    await ensure_service_stream(js, "customer")
    await js.publish(envelope.subject, envelope.payload, headers=envelope.to_headers())
    await connection.close()


async def projected(
    channel: grpc.aio.Channel, account_id: uuid.UUID, reader: Principal = READER
) -> pb.ProjectedAccount | None:
    stub = pb_grpc.AccountProjectionServiceStub(channel)
    try:
        reply = await stub.GetProjectedAccount(
            pb.GetProjectedAccountRequest(id=str(account_id)), metadata=call_metadata(reader)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return reply.account


async def eventually(
    channel: grpc.aio.Channel, account_id: uuid.UUID, version: int
) -> pb.ProjectedAccount:
    for _ in range(200):
        account = await projected(channel, account_id)
        if account is not None and account.source_version == version:
            return account
        await asyncio.sleep(0.05)
    raise AssertionError(f"projection never reached version {version}")


async def test_migrations_match_the_tables(database_url: str) -> None:
    await assert_schema_matches(MIGRATIONS, database_url, tables.metadata)


async def test_events_update_the_projection_in_version_order(
    sales: grpc.aio.Channel, nats_url: str
) -> None:
    account_id = uuid7()
    await publish_account(nats_url, account_id, 1, "Acme")
    assert (await eventually(sales, account_id, 1)).name == "Acme"

    # Version 3 arrives before version 2: the late, older snapshot must not win.
    await publish_account(nats_url, account_id, 3, "Acme Holding")
    await eventually(sales, account_id, 3)
    await publish_account(nats_url, account_id, 2, "Acme GmbH")
    marker = uuid7()
    await publish_account(nats_url, marker, 1, "marker")
    await eventually(sales, marker, 1)  # the consumer has passed version 2 by now
    account = await projected(sales, account_id)
    assert account is not None
    assert (account.name, account.source_version) == ("Acme Holding", 3)


async def test_unknown_and_malformed_ids_are_not_found(sales: grpc.aio.Channel) -> None:
    assert await projected(sales, uuid.uuid4()) is None
    stub = pb_grpc.AccountProjectionServiceStub(sales)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetProjectedAccount(
            pb.GetProjectedAccountRequest(id="zzz"), metadata=call_metadata(READER)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_deleted_account_is_gone_and_stays_gone(
    sales: grpc.aio.Channel, nats_url: str
) -> None:
    account_id = uuid7()
    await publish_account(nats_url, account_id, 1, "Short-lived")
    await eventually(sales, account_id, 1)
    await publish_account(nats_url, account_id, 2, "Short-lived", deleted=True)
    await publish_account(nats_url, account_id, 1, "Short-lived")  # a late redelivery
    marker = uuid7()
    await publish_account(nats_url, marker, 1, "marker")
    await eventually(sales, marker, 1)
    assert await projected(sales, account_id) is None


async def test_a_partner_sees_only_its_partners_accounts(
    sales: grpc.aio.Channel, nats_url: str
) -> None:
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    linked, other = uuid7(), uuid7()
    await publish_account(nats_url, linked, 1, "Linked", partner_id=ours)
    await publish_account(nats_url, other, 1, "Other", partner_id=theirs)
    await eventually(sales, other, 1)
    await eventually(sales, linked, 1)
    partner = Principal(
        subject_id=uuid.uuid4(),
        kind="api_key",
        roles=frozenset({"partner"}),
        partner_id=ours,
        grants={"account": {"read": "partner"}},
    )
    seen = await projected(sales, linked, partner)
    assert seen is not None
    assert seen.partner_id == str(ours)
    assert await projected(sales, other, partner) is None


async def test_a_fetched_batch_is_applied_in_version_order(
    database_url: str, nats_url: str
) -> None:
    """Published before the service starts, the events after the first are fetched as one
    batch (one statement): an older snapshot later in it must not win either."""
    first, second = uuid7(), uuid7()
    for account_id, version, name in ((first, 1, "A"), (first, 3, "A3"), (first, 2, "A2")):
        await publish_account(nats_url, account_id, version, name)
    await publish_account(nats_url, second, 1, "B")
    async with sales_service(database_url, nats_url) as sales:
        assert (await eventually(sales, second, 1)).name == "B"
        account = await projected(sales, first)
        assert account is not None
        assert (account.name, account.source_version) == ("A3", 3)
