"""The customer service's accounts and contacts, as the gateway calls them."""

from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm.customer.v1 import exports_pb2 as epb
from crm.customer.v1 import exports_pb2_grpc as epb_grpc
from crm.customer.v1 import imports_pb2 as ipb
from crm.customer.v1 import imports_pb2_grpc as ipb_grpc
from crm_gateway.clients.errors import translate
from crm_gateway.clients.read_cache import ReadCache
from crm_gateway.errors import DownstreamFailure

Metadata = tuple[tuple[str, str], ...]
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)

SERVICE = "customer"


async def call(
    method: grpc.aio.UnaryUnaryMultiCallable[Req, Resp], request: Req, metadata: Metadata
) -> Resp:
    try:
        return await method(request, metadata=metadata)
    except grpc.aio.AioRpcError as error:
        raise translate(error, SERVICE) from error


Record = pb.Account | pb.Contact

# Every event the customer service publishes names the record it is about.
EVENT_SUBJECTS = ("crm.customer.>",)


class CustomerClient:
    def __init__(self, channel: grpc.aio.Channel, cache: ReadCache[Record] | None = None) -> None:
        self._accounts = pb_grpc.AccountServiceStub(channel)
        self._contacts = pb_grpc.ContactServiceStub(channel)
        self._imports = ipb_grpc.ImportServiceStub(channel)
        self._exports = epb_grpc.ExportServiceStub(channel)
        # Without events to invalidate it the cache stays off; a disabled one stands in.
        self._cache: ReadCache[Record] = (
            cache if cache is not None else ReadCache(max_records=0, ttl_seconds=0)
        )

    async def create_account(self, md: Metadata, account: pb.Account) -> pb.CreateAccountResponse:
        """The new account, and the visible ones it likely repeats."""
        request = pb.CreateAccountRequest(account=account)
        created: pb.CreateAccountResponse = await call(self._accounts.CreateAccount, request, md)
        return created

    async def get_account(self, md: Metadata, account_id: str) -> pb.Account:
        async def fetch() -> pb.Account:
            request = pb.GetAccountRequest(id=account_id)
            return (await call(self._accounts.GetAccount, request, md)).account

        return await self._cache.read_through(pb.Account, account_id, md, fetch)

    async def list_accounts(
        self,
        md: Metadata,
        limit: int,
        cursor: str,
        wanted: pb.RecordFilter | None = None,
        order_by: str = "",
    ) -> tuple[Sequence[pb.Account], str]:
        request = pb.ListAccountsRequest(
            page_size=limit, page_token=cursor, filter=wanted, order_by=order_by
        )
        reply: pb.ListAccountsResponse = await call(self._accounts.ListAccounts, request, md)
        return reply.accounts, reply.next_page_token

    async def update_account(
        self, md: Metadata, account: pb.Account, fields: Sequence[str], version: int
    ) -> pb.Account:
        request = pb.UpdateAccountRequest(
            account=account, update_mask=FieldMask(paths=fields), expected_version=version
        )
        updated: pb.Account = (await call(self._accounts.UpdateAccount, request, md)).account
        await self._cache.changed_here(updated.id, updated.version)
        return updated

    async def delete_account(self, md: Metadata, account_id: str, version: int) -> None:
        request = pb.DeleteAccountRequest(id=account_id, expected_version=version)
        await call(self._accounts.DeleteAccount, request, md)
        await self._cache.changed_here(account_id, version + 1)

    async def create_contact(self, md: Metadata, contact: pb.Contact) -> pb.CreateContactResponse:
        """The new contact, and the visible ones it likely repeats."""
        request = pb.CreateContactRequest(contact=contact)
        created: pb.CreateContactResponse = await call(self._contacts.CreateContact, request, md)
        return created

    async def get_contact(self, md: Metadata, contact_id: str) -> pb.Contact:
        async def fetch() -> pb.Contact:
            request = pb.GetContactRequest(id=contact_id)
            return (await call(self._contacts.GetContact, request, md)).contact

        return await self._cache.read_through(pb.Contact, contact_id, md, fetch)

    async def list_contacts(
        self,
        md: Metadata,
        limit: int,
        cursor: str,
        account_id: str = "",
        wanted: pb.RecordFilter | None = None,
        order_by: str = "",
    ) -> tuple[Sequence[pb.Contact], str]:
        request = pb.ListContactsRequest(
            page_size=limit,
            page_token=cursor,
            account_id=account_id,
            filter=wanted,
            order_by=order_by,
        )
        reply: pb.ListContactsResponse = await call(self._contacts.ListContacts, request, md)
        return reply.contacts, reply.next_page_token

    async def update_contact(
        self, md: Metadata, contact: pb.Contact, fields: Sequence[str], version: int
    ) -> pb.Contact:
        request = pb.UpdateContactRequest(
            contact=contact, update_mask=FieldMask(paths=fields), expected_version=version
        )
        updated: pb.Contact = (await call(self._contacts.UpdateContact, request, md)).contact
        await self._cache.changed_here(updated.id, updated.version)
        return updated

    async def delete_contact(self, md: Metadata, contact_id: str, version: int) -> None:
        request = pb.DeleteContactRequest(id=contact_id, expected_version=version)
        await call(self._contacts.DeleteContact, request, md)
        await self._cache.changed_here(contact_id, version + 1)

    async def start_import(
        self, md: Metadata, spec: ipb.ImportSpec, chunks: AsyncIterator[bytes], seconds: float
    ) -> ipb.ImportJob:
        """Streams the file to the service, which checks it and queues the job."""

        async def parts() -> AsyncIterator[ipb.StartImportRequest]:
            yield ipb.StartImportRequest(spec=spec)
            async for chunk in chunks:
                yield ipb.StartImportRequest(chunk=chunk)

        try:
            reply = await self._imports.StartImport(parts(), metadata=md, timeout=seconds)
        except grpc.aio.AioRpcError as error:
            raise translate(error, SERVICE) from error
        return reply.job

    async def get_import(self, md: Metadata, import_id: str) -> ipb.ImportJob:
        request = ipb.GetImportRequest(id=import_id)
        return (await call(self._imports.GetImport, request, md)).job

    async def import_problems(
        self, md: Metadata, import_id: str
    ) -> AsyncIterator[Sequence[ipb.ImportProblem]]:
        request = ipb.ListImportProblemsRequest(id=import_id)
        try:
            async for page in self._imports.ListImportProblems(request, metadata=md):
                yield page.problems
        except grpc.aio.AioRpcError as error:
            raise translate(error, SERVICE) from error

    async def export_records(
        self, md: Metadata, request: epb.ExportRecordsRequest, seconds: float
    ) -> tuple[list[str], AsyncIterator[Sequence[Record]]]:
        """The export's columns, then its records chunk by chunk. The first message is read
        here: a refused export (permission, filter, segment) raises before the caller has
        sent anything of its own answer."""
        call = self._exports.ExportRecords(request, metadata=md, timeout=seconds)
        try:
            first = await call.read()
        except grpc.aio.AioRpcError as error:
            raise translate(error, SERVICE) from error
        if first is grpc.aio.EOF:
            call.cancel()
            raise DownstreamFailure(f"{SERVICE} ended an export without its columns")
        return list(first.columns), _record_chunks(call)


async def _record_chunks(
    call: grpc.aio.UnaryStreamCall[epb.ExportRecordsRequest, epb.ExportRecordsResponse],
) -> AsyncIterator[Sequence[Record]]:
    try:
        while (message := await call.read()) is not grpc.aio.EOF:
            yield message.contacts or message.accounts
    except grpc.aio.AioRpcError as error:
        raise translate(error, SERVICE) from error
    finally:
        call.cancel()  # a no-op once it ended; frees the service when our client left
