"""The customer service's accounts, contacts, imports and loyalty ledgers, as the gateway
calls them."""

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TypeVar

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from crm.customer.v1 import custom_fields_pb2_grpc as cpb_grpc
from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm.customer.v1 import exports_pb2 as epb
from crm.customer.v1 import exports_pb2_grpc as epb_grpc
from crm.customer.v1 import imports_pb2 as ipb
from crm.customer.v1 import imports_pb2_grpc as ipb_grpc
from crm.customer.v1 import loyalty_pb2 as lpb
from crm.customer.v1 import loyalty_pb2_grpc as lpb_grpc
from crm.customer.v1 import merge_pb2 as mpb
from crm.customer.v1 import merge_pb2_grpc as mpb_grpc
from crm.customer.v1 import segments_pb2_grpc as spb_grpc
from crm.customer.v1 import timeline_pb2 as tpb
from crm.customer.v1 import timeline_pb2_grpc as tpb_grpc
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

# The events that change a record someone may have read: a created record was never
# cached (misses are not kept), and ledger or timeline events name no record. An import
# of a million contacts then costs the gateway nothing.
EVENT_SUBJECTS = ("crm.customer.*.updated.v1", "crm.customer.*.deleted.v1")


class CustomerClient:
    def __init__(self, channel: grpc.aio.Channel, cache: ReadCache[Record] | None = None) -> None:
        self._accounts = pb_grpc.AccountServiceStub(channel)
        self._contacts = pb_grpc.ContactServiceStub(channel)
        self._imports = ipb_grpc.ImportServiceStub(channel)
        # These pass through as they are: routes call them with `call`.
        self.segments = spb_grpc.SegmentServiceStub(channel)
        self.custom_fields = cpb_grpc.CustomFieldServiceStub(channel)
        self._timeline = tpb_grpc.TimelineServiceStub(channel)
        self._loyalty = lpb_grpc.LoyaltyServiceStub(channel)
        self._merges = mpb_grpc.MergeServiceStub(channel)
        self._history = mpb_grpc.HistoryServiceStub(channel)
        self._exports = epb_grpc.ExportServiceStub(channel)
        # Without events to invalidate it the cache stays off; a disabled one stands in.
        self._cache: ReadCache[Record] = (
            cache if cache is not None else ReadCache(max_records=0, ttl_seconds=0)
        )

    def cached(
        self, kind: type[pb.Account] | type[pb.Contact], md: Metadata, record_id: str
    ) -> Record | None:
        """The record as this caller last read it, if the read cache holds a current copy."""
        return self._cache.fresh(kind, record_id, md)

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

    async def merge_records(
        self,
        md: Metadata,
        entity: str,
        survivor_id: str,
        duplicate_id: str,
        fields: Mapping[str, str],
        version: int,
    ) -> Record:
        """The survivor after absorbing the duplicate (`entity`: accounts or contacts)."""
        request = mpb.MergeRecordsRequest(
            entity=entity,
            survivor_id=survivor_id,
            duplicate_id=duplicate_id,
            expected_version=version,
            fields=fields,
        )
        reply: mpb.MergeRecordsResponse = await call(self._merges.MergeRecords, request, md)
        survivor: Record = getattr(reply, reply.WhichOneof("survivor") or "account")
        await self._cache.changed_here(survivor.id, survivor.version)
        await self._cache.changed_here(duplicate_id, 0)  # deleted; its events follow
        return survivor

    async def record_history(
        self, md: Metadata, entity: str, record_id: str, limit: int, cursor: str
    ) -> tuple[Sequence[mpb.RecordChange], str]:
        request = mpb.ListRecordHistoryRequest(
            entity=entity, id=record_id, page_size=limit, page_token=cursor
        )
        reply: mpb.ListRecordHistoryResponse = await call(
            self._history.ListRecordHistory, request, md
        )
        return reply.changes, reply.next_page_token

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

    async def list_imports(
        self, md: Metadata, limit: int, cursor: str, status: str
    ) -> tuple[Sequence[ipb.ImportJob], str]:
        request = ipb.ListImportsRequest(page_size=limit, page_token=cursor, status=status)
        reply: ipb.ListImportsResponse = await call(self._imports.ListImports, request, md)
        return reply.jobs, reply.next_page_token

    async def import_problems(
        self, md: Metadata, import_id: str
    ) -> AsyncIterator[Sequence[ipb.ImportProblem]]:
        request = ipb.ListImportProblemsRequest(id=import_id)
        try:
            async for page in self._imports.ListImportProblems(request, metadata=md):
                yield page.problems
        except grpc.aio.AioRpcError as error:
            raise translate(error, SERVICE) from error

    async def list_timeline(
        self, md: Metadata, account_id: str, limit: int, cursor: str, kinds: Sequence[str]
    ) -> tuple[Sequence[tpb.TimelineEntry], str]:
        request = tpb.ListTimelineRequest(
            account_id=account_id, page_size=limit, page_token=cursor, kinds=kinds
        )
        reply: tpb.ListTimelineResponse = await call(self._timeline.ListTimeline, request, md)
        return reply.entries, reply.next_page_token

    async def add_loyalty_entry(
        self, md: Metadata, request: lpb.AddLoyaltyEntryRequest
    ) -> lpb.AddLoyaltyEntryResponse:
        added: lpb.AddLoyaltyEntryResponse = await call(self._loyalty.AddLoyaltyEntry, request, md)
        return added

    async def list_loyalty_entries(
        self, md: Metadata, record_type: str, record_id: str, limit: int, cursor: str
    ) -> tuple[Sequence[lpb.LoyaltyEntry], str]:
        request = lpb.ListLoyaltyEntriesRequest(
            record_type=record_type, record_id=record_id, page_size=limit, page_token=cursor
        )
        reply: lpb.ListLoyaltyEntriesResponse = await call(
            self._loyalty.ListLoyaltyEntries, request, md
        )
        return reply.entries, reply.next_page_token

    async def loyalty_balance(
        self, md: Metadata, record_type: str, record_id: str
    ) -> lpb.GetLoyaltyBalanceResponse:
        request = lpb.GetLoyaltyBalanceRequest(record_type=record_type, record_id=record_id)
        found: lpb.GetLoyaltyBalanceResponse = await call(
            self._loyalty.GetLoyaltyBalance, request, md
        )
        return found

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
