"""Thin gRPC servicers: decode, call a use case with the caller's principal, encode.
`_Records` does that once for any record kind; the servicers only name their messages."""

from collections.abc import Callable
from typing import Any, Generic, TypeAlias

import grpc
from google.protobuf.message import Message

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_customer.domain.records import R
from crm_customer.domain.search import Filter, parse_filter
from crm_customer.proto_mapping import struct_values, to_proto, writable_values
from crm_customer.usecases.accounts import ACCOUNTS
from crm_customer.usecases.contacts import CONTACTS
from crm_customer.usecases.ports import UnitOfWork
from crm_customer.usecases.records import (
    RecordKind,
    create_record,
    delete_record,
    get_record,
    list_records,
    update_record,
)
from crm_platform.auth.context import current_principal
from crm_platform.ids import parse_uuid

UnitOfWorkFactory = Callable[[], UnitOfWork]
Context: TypeAlias = grpc.aio.ServicerContext


class _Records(Generic[R]):
    def __init__(
        self,
        kind: RecordKind[R],
        message_type: type[Message],
        *,
        uow: UnitOfWorkFactory,
        reads: UnitOfWorkFactory,
    ) -> None:
        self.kind = kind
        self.message_type = message_type
        self.uow = uow
        self.reads = reads  # no transaction: queries are single statements

    def encode(self, record: R) -> Any:
        return to_proto(record, self.message_type)

    async def create(self, message: Any) -> tuple[Any, list[pb.LikelyDuplicate]]:
        rules = self.kind.record_type.creatable()
        created = await create_record(
            kind=self.kind,
            uow=self.uow(),
            principal=current_principal(),
            values=writable_values(message, rules, rules),
        )
        duplicates = [
            pb.LikelyDuplicate(id=str(m.other_id), reasons=[str(r) for r in m.reasons])
            for m in created.likely_duplicates
        ]
        return self.encode(created.record), duplicates

    async def get(self, record_id: str) -> Any:
        record = await get_record(
            kind=self.kind, uow=self.reads(), principal=current_principal(), record_id=record_id
        )
        return self.encode(record)

    async def page(self, request: Any, account_id: str = "") -> tuple[list[Any], str]:
        wanted = filter_of(request.filter, account_id)
        if wanted is None:
            return [], ""
        records, token = await list_records(
            kind=self.kind,
            uow=self.reads(),
            principal=current_principal(),
            page_size=request.page_size,
            page_token=request.page_token,
            wanted=wanted,
            order_by=request.order_by,
        )
        return [self.encode(record) for record in records], token

    async def update(self, message: Any, paths: Any, expected_version: int) -> Any:
        record = await update_record(
            kind=self.kind,
            uow=self.uow(),
            principal=current_principal(),
            record_id=message.id,
            expected_version=expected_version,
            values=writable_values(message, paths, self.kind.record_type.updatable()),
        )
        return self.encode(record)

    async def delete(self, record_id: str, expected_version: int) -> None:
        await delete_record(
            kind=self.kind,
            uow=self.uow(),
            principal=current_principal(),
            record_id=record_id,
            expected_version=expected_version,
        )


def filter_of(message: pb.RecordFilter, account_id: str = "") -> Filter | None:
    """The filter a request asks for; None when it names an account by a malformed id,
    which matches nothing, as an unknown one does."""
    account = parse_uuid(account_id) if account_id else None
    if account_id and account is None:
        return None
    return parse_filter(
        query=message.query,
        email=message.email,
        phone=message.phone,
        region=message.region,
        company=message.company,
        tags=list(message.tags),
        owner_id=message.owner_id,
        lifecycle=message.lifecycle,
        not_contacted_days=message.not_contacted_days,
        custom_fields=struct_values(message.custom_fields),
        account_id=account,
    )


class AccountServicer(pb_grpc.AccountServiceServicer):
    def __init__(self, *, uow: UnitOfWorkFactory, reads: UnitOfWorkFactory) -> None:
        self._records = _Records(ACCOUNTS, pb.Account, uow=uow, reads=reads)

    async def CreateAccount(self, request: Any, context: Context) -> pb.CreateAccountResponse:
        account, duplicates = await self._records.create(request.account)
        return pb.CreateAccountResponse(account=account, likely_duplicates=duplicates)

    async def GetAccount(self, request: Any, context: Context) -> pb.GetAccountResponse:
        return pb.GetAccountResponse(account=await self._records.get(request.id))

    async def ListAccounts(self, request: Any, context: Context) -> pb.ListAccountsResponse:
        found, token = await self._records.page(request)
        return pb.ListAccountsResponse(accounts=found, next_page_token=token)

    async def UpdateAccount(self, request: Any, context: Context) -> pb.UpdateAccountResponse:
        account = await self._records.update(
            request.account, request.update_mask.paths, request.expected_version
        )
        return pb.UpdateAccountResponse(account=account)

    async def DeleteAccount(self, request: Any, context: Context) -> pb.DeleteAccountResponse:
        await self._records.delete(request.id, request.expected_version)
        return pb.DeleteAccountResponse()


class ContactServicer(pb_grpc.ContactServiceServicer):
    def __init__(self, *, uow: UnitOfWorkFactory, reads: UnitOfWorkFactory) -> None:
        self._records = _Records(CONTACTS, pb.Contact, uow=uow, reads=reads)

    async def CreateContact(self, request: Any, context: Context) -> pb.CreateContactResponse:
        contact, duplicates = await self._records.create(request.contact)
        return pb.CreateContactResponse(contact=contact, likely_duplicates=duplicates)

    async def GetContact(self, request: Any, context: Context) -> pb.GetContactResponse:
        return pb.GetContactResponse(contact=await self._records.get(request.id))

    async def ListContacts(self, request: Any, context: Context) -> pb.ListContactsResponse:
        found, token = await self._records.page(request, request.account_id)
        return pb.ListContactsResponse(contacts=found, next_page_token=token)

    async def UpdateContact(self, request: Any, context: Context) -> pb.UpdateContactResponse:
        contact = await self._records.update(
            request.contact, request.update_mask.paths, request.expected_version
        )
        return pb.UpdateContactResponse(contact=contact)

    async def DeleteContact(self, request: Any, context: Context) -> pb.DeleteContactResponse:
        await self._records.delete(request.id, request.expected_version)
        return pb.DeleteContactResponse()
