"""SegmentService: decode, call the segment use cases with the caller's principal, encode."""

from collections.abc import Callable
from typing import Any, TypeAlias

import grpc
from google.protobuf.json_format import MessageToDict, ParseDict
from google.protobuf.timestamp_pb2 import Timestamp

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import segments_pb2 as spb
from crm.customer.v1 import segments_pb2_grpc as spb_grpc
from crm_customer.domain.segments import Segment
from crm_customer.proto_mapping import struct_values, to_proto
from crm_customer.usecases import segments as usecases
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.context import current_principal
from crm_platform.errors import FieldViolation, InvalidArgument

Context: TypeAlias = grpc.aio.ServicerContext
_UPDATABLE = ("name", "filter")


class SegmentServicer(spb_grpc.SegmentServiceServicer):
    def __init__(self, *, uow: Callable[[], UnitOfWork], reads: Callable[[], UnitOfWork]) -> None:
        self._uow = uow
        self._reads = reads

    async def CreateSegment(self, request: Any, context: Context) -> spb.CreateSegmentResponse:
        segment = await usecases.create_segment(
            uow=self._uow(),
            principal=current_principal(),
            name=request.segment.name,
            entity=request.segment.entity,
            conditions=_conditions(request.segment.filter),
        )
        return spb.CreateSegmentResponse(segment=segment_message(segment))

    async def GetSegment(self, request: Any, context: Context) -> spb.GetSegmentResponse:
        segment = await usecases.get_segment(
            uow=self._reads(), principal=current_principal(), segment_id=request.id
        )
        return spb.GetSegmentResponse(segment=segment_message(segment))

    async def ListSegments(self, request: Any, context: Context) -> spb.ListSegmentsResponse:
        found, token = await usecases.list_segments(
            uow=self._reads(),
            principal=current_principal(),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return spb.ListSegmentsResponse(
            segments=[segment_message(s) for s in found], next_page_token=token
        )

    async def UpdateSegment(self, request: Any, context: Context) -> spb.UpdateSegmentResponse:
        unknown = [name for name in request.fields if name not in _UPDATABLE]
        if unknown:
            raise InvalidArgument([FieldViolation(n, "is not a writable field") for n in unknown])
        segment = await usecases.update_segment(
            uow=self._uow(),
            principal=current_principal(),
            segment_id=request.segment.id,
            expected_version=request.expected_version,
            name=request.segment.name if "name" in request.fields else None,
            conditions=_conditions(request.segment.filter) if "filter" in request.fields else None,
        )
        return spb.UpdateSegmentResponse(segment=segment_message(segment))

    async def DeleteSegment(self, request: Any, context: Context) -> spb.DeleteSegmentResponse:
        await usecases.delete_segment(
            uow=self._uow(),
            principal=current_principal(),
            segment_id=request.id,
            expected_version=request.expected_version,
        )
        return spb.DeleteSegmentResponse()

    async def ListSegmentMembers(
        self, request: Any, context: Context
    ) -> spb.ListSegmentMembersResponse:
        segment, members, token, total = await usecases.segment_members(
            uow=self._reads(),
            principal=current_principal(),
            segment_id=request.id,
            page_size=request.page_size,
            page_token=request.page_token,
            order_by=request.order_by,
        )
        reply = spb.ListSegmentMembersResponse(next_page_token=token, total_count=total)
        if segment.entity == "contacts":
            reply.contacts.extend(to_proto(m, pb.Contact) for m in members)
        else:
            reply.accounts.extend(to_proto(m, pb.Account) for m in members)
        return reply


def _conditions(message: pb.RecordFilter) -> dict[str, Any]:
    rest = pb.RecordFilter()
    rest.CopyFrom(message)
    rest.ClearField("custom_fields")  # read as the domain reads them: it refuses NaN by name
    conditions = MessageToDict(rest, preserving_proto_field_name=True)
    if message.HasField("custom_fields"):
        conditions["custom_fields"] = struct_values(message.custom_fields)
    return conditions


def segment_message(segment: Segment) -> spb.Segment:
    message = spb.Segment(
        id=str(segment.id),
        version=segment.version,
        name=segment.name,
        entity=segment.entity,
        filter=ParseDict(segment.filter, pb.RecordFilter()),
        owner_id=str(segment.owner_id),
        team_id=str(segment.team_id) if segment.team_id else "",
    )
    for name in ("created_at", "updated_at"):
        stamp = Timestamp()
        stamp.FromDatetime(getattr(segment, name))
        getattr(message, name).CopyFrom(stamp)
    return message
