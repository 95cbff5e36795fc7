"""TimelineService: decode, call the timeline use case with the caller's principal, encode."""

from collections.abc import Callable
from typing import Any, TypeAlias

import grpc

from crm.customer.v1 import timeline_pb2 as tpb
from crm.customer.v1 import timeline_pb2_grpc as tpb_grpc
from crm_customer.domain.timeline import TimelineEntry
from crm_customer.usecases import timeline as usecases
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.context import current_principal

Context: TypeAlias = grpc.aio.ServicerContext


class TimelineServicer(tpb_grpc.TimelineServiceServicer):
    def __init__(self, *, reads: Callable[[], UnitOfWork]) -> None:
        self._reads = reads

    async def ListTimeline(self, request: Any, context: Context) -> tpb.ListTimelineResponse:
        entries, token = await usecases.list_timeline(
            uow=self._reads(),
            principal=current_principal(),
            account_id=request.account_id,
            page_size=request.page_size,
            page_token=request.page_token,
            kinds=request.kinds,
        )
        return tpb.ListTimelineResponse(
            entries=[entry_message(entry) for entry in entries], next_page_token=token
        )


def entry_message(entry: TimelineEntry) -> tpb.TimelineEntry:
    message = tpb.TimelineEntry(
        id=str(entry.id),
        kind=entry.kind,
        source=entry.source,
        event_type=entry.event_type,
        subject_id=entry.subject_id,
        title=entry.title,
    )
    message.occurred_at.FromDatetime(entry.occurred_at)
    message.data.update(entry.data)
    return message
