"""Calls and database reads shared by the merge and history tests."""

import uuid
from typing import Any

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm.customer.v1 import merge_pb2 as mpb
from crm.customer.v1 import merge_pb2_grpc as mpb_grpc
from crm_customer.repository import tables
from crm_platform.auth.principal import Principal
from crm_platform.testing.services import call_metadata


class Customer:
    """The customer service's record, merge and history RPCs, as one caller."""

    def __init__(self, channel: grpc.aio.Channel, who: Principal) -> None:
        self.who = who
        self._accounts = pb_grpc.AccountServiceStub(channel)
        self._contacts = pb_grpc.ContactServiceStub(channel)
        self._merges = mpb_grpc.MergeServiceStub(channel)
        self._history = mpb_grpc.HistoryServiceStub(channel)

    def _md(self) -> Any:
        return call_metadata(self.who)

    async def contact(self, **fields: Any) -> pb.Contact:
        request = pb.CreateContactRequest(contact=pb.Contact(**fields))
        return (await self._contacts.CreateContact(request, metadata=self._md())).contact

    async def account(self, **fields: Any) -> pb.Account:
        request = pb.CreateAccountRequest(account=pb.Account(**fields))
        return (await self._accounts.CreateAccount(request, metadata=self._md())).account

    async def get_contact(self, contact_id: str) -> pb.Contact:
        request = pb.GetContactRequest(id=contact_id)
        return (await self._contacts.GetContact(request, metadata=self._md())).contact

    async def get_account(self, account_id: str) -> pb.Account:
        request = pb.GetAccountRequest(id=account_id)
        return (await self._accounts.GetAccount(request, metadata=self._md())).account

    async def update_account(self, account: pb.Account, **fields: Any) -> pb.Account:
        request = pb.UpdateAccountRequest(
            account=pb.Account(id=account.id, **fields),
            update_mask=FieldMask(paths=list(fields)),
            expected_version=account.version,
        )
        return (await self._accounts.UpdateAccount(request, metadata=self._md())).account

    async def delete_account(self, account: pb.Account) -> None:
        request = pb.DeleteAccountRequest(id=account.id, expected_version=account.version)
        await self._accounts.DeleteAccount(request, metadata=self._md())

    async def update_contact(self, contact: pb.Contact, **fields: Any) -> pb.Contact:
        request = pb.UpdateContactRequest(
            contact=pb.Contact(id=contact.id, **fields),
            update_mask=FieldMask(paths=list(fields)),
            expected_version=contact.version,
        )
        return (await self._contacts.UpdateContact(request, metadata=self._md())).contact

    async def merge(
        self,
        entity: str,
        survivor: Any,
        duplicate_id: str,
        version: int | None = None,
        **fields: str,
    ) -> mpb.MergeRecordsResponse:
        request = mpb.MergeRecordsRequest(
            entity=entity,
            survivor_id=survivor.id,
            duplicate_id=duplicate_id,
            expected_version=survivor.version if version is None else version,
            fields=fields,
        )
        return await self._merges.MergeRecords(request, metadata=self._md())

    async def history(
        self, entity: str, record_id: str, page_size: int = 0, page_token: str = ""
    ) -> mpb.ListRecordHistoryResponse:
        request = mpb.ListRecordHistoryRequest(
            entity=entity, id=record_id, page_size=page_size, page_token=page_token
        )
        return await self._history.ListRecordHistory(request, metadata=self._md())


async def rows(database_url: str, query: Any) -> list[Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).all())
    finally:
        await engine.dispose()


async def outbox(database_url: str) -> list[tuple[str, str, bytes]]:
    """Every event written, in order: subject, aggregate id, payload."""
    o = tables.outbox.c
    query = select(o.subject, o.aggregate_id, o.payload).order_by(o.seq)
    return [tuple(row) for row in await rows(database_url, query)]  # type: ignore[misc]


async def history_fields(database_url: str, record_id: str) -> list[tuple[str, Any, Any]]:
    h = tables.field_history.c
    query = (
        select(h.field, h.old_value, h.new_value)
        .where(h.record_id == uuid.UUID(record_id))
        .order_by(h.changed_at, h.id)
    )
    return [tuple(row) for row in await rows(database_url, query)]  # type: ignore[misc]
