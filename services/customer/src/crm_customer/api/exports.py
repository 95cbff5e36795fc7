"""ExportService: the columns first, once every check has passed, then the records in
messages of at most one page and about `MAX_MESSAGE_BYTES` each."""

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, TypeAlias

import grpc
from google.protobuf.message import Message

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import exports_pb2 as epb
from crm.customer.v1 import exports_pb2_grpc as epb_grpc
from crm_customer.api.servicers import filter_of
from crm_customer.proto_mapping import to_proto
from crm_customer.usecases.exports import export_pages, plan_export
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.context import current_principal

Context: TypeAlias = grpc.aio.ServicerContext

# Well below gRPC's 4 MiB default for a received message: a page of records with long
# notes and many custom fields is split rather than refused by the gateway.
MAX_MESSAGE_BYTES = 1 << 20
_MESSAGES: dict[str, type[Message]] = {"contacts": pb.Contact, "accounts": pb.Account}


class ExportServicer(epb_grpc.ExportServiceServicer):
    def __init__(self, *, reads: Callable[[], UnitOfWork]) -> None:
        self._reads = reads

    async def ExportRecords(
        self, request: epb.ExportRecordsRequest, context: Context
    ) -> AsyncIterator[epb.ExportRecordsResponse]:
        principal = current_principal()
        source = request.WhichOneof("source")
        uow = self._reads()
        plan = await plan_export(
            uow=uow,
            principal=principal,
            entity=request.entity,
            wanted=filter_of(request.filter) if source == "filter" else None,
            segment_id=request.segment_id if source == "segment_id" else None,
            columns=list(request.columns),
            order_by=request.order_by,
        )
        yield epb.ExportRecordsResponse(columns=plan.columns)
        message_type = _MESSAGES[plan.entity]
        async for page in export_pages(plan=plan, uow=uow, principal=principal):
            encoded: Iterator[Message] = (
                to_proto(record, message_type, plan.columns) for record in page
            )
            for chunk in chunked(encoded, MAX_MESSAGE_BYTES):
                yield epb.ExportRecordsResponse(**{plan.entity: chunk})


def chunked(messages: Iterable[Message], max_bytes: int) -> Iterator[list[Any]]:
    """`messages` in consecutive lists of at most `max_bytes` serialized (or one message,
    should a single one be larger)."""
    chunk: list[Any] = []
    size = 0
    for message in messages:
        # A repeated field's entry costs its bytes plus a tag and a length of a few bytes.
        cost = message.ByteSize() + 6
        if chunk and size + cost > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(message)
        size += cost
    if chunk:
        yield chunk
