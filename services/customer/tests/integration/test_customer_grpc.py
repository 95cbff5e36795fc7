"""The customer service over real gRPC, PostgreSQL and NATS."""

import uuid
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_customer.repository import tables
from crm_platform.auth.principal import Action, Scope
from crm_platform.testing.services import (
    assert_schema_matches,
    call_metadata,
    principal,
)

from .conftest import MIGRATIONS

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])


async def test_migrations_match_the_tables(database_url: str) -> None:
    await assert_schema_matches(MIGRATIONS, database_url, tables.metadata)


async def test_create_get_update_writes_history_and_outbox(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    accounts = pb_grpc.AccountServiceStub(customer)
    created = (
        await accounts.CreateAccount(
            pb.CreateAccountRequest(account=pb.Account(name="Acme", tags=["b2b"])),
            metadata=call_metadata(ADMIN),
        )
    ).account
    assert created.version == 1
    assert created.owner_id == str(ADMIN.subject_id)

    fetched = (
        await accounts.GetAccount(
            pb.GetAccountRequest(id=created.id), metadata=call_metadata(ADMIN)
        )
    ).account
    assert fetched == created

    updated = (
        await accounts.UpdateAccount(
            pb.UpdateAccountRequest(
                account=pb.Account(id=created.id, industry="Retail"),
                update_mask=FieldMask(paths=["industry"]),
                expected_version=1,
            ),
            metadata=call_metadata(ADMIN),
        )
    ).account
    assert (updated.version, updated.industry, updated.name) == (2, "Retail", "Acme")

    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        subjects = (await conn.execute(select(tables.outbox.c.subject))).scalars().all()
        history = (await conn.execute(select(tables.field_history.c.field))).scalars().all()
    await engine.dispose()
    assert sorted(subjects) == [
        "crm.customer.account.created.v1",
        "crm.customer.account.updated.v1",
    ]
    assert sorted(history) == ["created", "industry"]


async def test_stale_version_is_failed_precondition_and_changes_nothing(
    customer: grpc.aio.Channel,
) -> None:
    accounts = pb_grpc.AccountServiceStub(customer)
    meta = call_metadata(ADMIN)
    created = (
        await accounts.CreateAccount(
            pb.CreateAccountRequest(account=pb.Account(name="A")), metadata=meta
        )
    ).account
    stale = pb.UpdateAccountRequest(
        account=pb.Account(id=created.id, name="B"),
        update_mask=FieldMask(paths=["name"]),
        expected_version=7,
    )
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await accounts.UpdateAccount(stale, metadata=meta)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    again = (await accounts.GetAccount(pb.GetAccountRequest(id=created.id), metadata=meta)).account
    assert (again.name, again.version) == ("A", 1)


async def test_bad_input_gets_field_violations_and_writes_nothing(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    contacts = pb_grpc.ContactServiceStub(customer)
    invalid = pb.Contact(first_name="Ann", email="not-an-email", phone="call me")
    assert await violated_fields(
        contacts.CreateContact(
            pb.CreateContactRequest(contact=invalid), metadata=call_metadata(ADMIN)
        )
    ) == [
        "email",
        "phone",
    ]
    dangling = pb.Contact(first_name="Ann", account_id=str(uuid.uuid4()))
    assert await violated_fields(
        contacts.CreateContact(
            pb.CreateContactRequest(contact=dangling), metadata=call_metadata(ADMIN)
        )
    ) == ["account_id"]
    assert await _count(database_url, tables.contacts) == 0
    assert await _count(database_url, tables.outbox) == 0

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await contacts.GetContact(
            pb.GetContactRequest(id="not-a-uuid"), metadata=call_metadata(ADMIN)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def violated_fields(call: Any) -> list[str]:
    """The fields named in the google.rpc.BadRequest of a call that must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(raised.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    return sorted(v.field for v in bad_request.field_violations)


async def test_missing_or_forged_principal_is_unauthenticated(customer: grpc.aio.Channel) -> None:
    accounts = pb_grpc.AccountServiceStub(customer)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await accounts.ListAccounts(pb.ListAccountsRequest())
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await accounts.ListAccounts(
            pb.ListAccountsRequest(), metadata=call_metadata(ADMIN, "x" * 40)
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_visibility_own_scope_sees_only_own_records(customer: grpc.aio.Channel) -> None:
    accounts = pb_grpc.AccountServiceStub(customer)
    alice = principal(objects=["account"], scope=Scope.OWN)
    bob = principal(objects=["account"], scope=Scope.OWN)
    alices = (
        await accounts.CreateAccount(
            pb.CreateAccountRequest(account=pb.Account(name="Alice's")),
            metadata=call_metadata(alice),
        )
    ).account
    await accounts.CreateAccount(
        pb.CreateAccountRequest(account=pb.Account(name="Bob's")), metadata=call_metadata(bob)
    )
    listed = await accounts.ListAccounts(pb.ListAccountsRequest(), metadata=call_metadata(bob))
    assert [a.name for a in listed.accounts] == ["Bob's"]
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await accounts.GetAccount(pb.GetAccountRequest(id=alices.id), metadata=call_metadata(bob))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    reader = principal(objects=["account"], actions=[Action.READ])
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await accounts.CreateAccount(
            pb.CreateAccountRequest(account=pb.Account(name="x")), metadata=call_metadata(reader)
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_list_pages_through_everything_once(customer: grpc.aio.Channel) -> None:
    contacts = pb_grpc.ContactServiceStub(customer)
    meta = call_metadata(ADMIN)
    for n in range(7):
        await contacts.CreateContact(
            pb.CreateContactRequest(contact=pb.Contact(last_name=f"N{n}")), metadata=meta
        )
    seen: list[str] = []
    token = ""
    while True:
        page = await contacts.ListContacts(
            pb.ListContactsRequest(page_size=3, page_token=token), metadata=meta
        )
        seen += [c.last_name for c in page.contacts]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"N{n}" for n in reversed(range(7))]
    assert len(set(seen)) == 7
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await contacts.ListContacts(pb.ListContactsRequest(page_size=501), metadata=meta)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def _count(database_url: str, table: Table) -> int:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(table))
    await engine.dispose()
    return int(count or 0)
