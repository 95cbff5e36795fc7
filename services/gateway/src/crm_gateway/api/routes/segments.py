"""`/api/v1/segments`: saved filters over contacts or accounts (marketing's target lists),
kept by the customer service. Members are found when asked, among the records the caller
can see, so the same segment may hold fewer members for a rep than for a manager."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from starlette.responses import Response

from crm.customer.v1 import segments_pb2 as spb
from crm_gateway.api import schemas
from crm_gateway.api.deps import CurrentCaller, Customer
from crm_gateway.api.mapping import account_json, contact_json
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, IfMatch, IfNoneMatch, Limit, problems
from crm_gateway.api.routes.record_filters import (
    Order,
    SavedConditions,
    conditions_json,
    record_filter,
)
from crm_gateway.clients.customer import call

PATH = "/api/v1/segments"

router = APIRouter(prefix=PATH, tags=["segments"], responses=problems(401, 403, 429, 503))

Entity = Literal["contacts", "accounts"]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=schemas.NO_NUL)]
_EXAMPLE: JsonDict = {"name": "VIPs in Berlin", "entity": "contacts", "filter": {"tag": ["vip"]}}


class SegmentCreate(schemas.Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    name: Name
    entity: Entity
    filter: SavedConditions = Field(
        default_factory=SavedConditions,
        description="The list filters, by their query parameter names; all must match.",
    )


class SegmentPatch(schemas.Strict):
    name: Name | None = None
    filter: SavedConditions | None = Field(default=None, description="Replaces the filter.")


class Segment(BaseModel):
    id: schemas.Id
    version: int
    name: str
    entity: Entity
    filter: dict[str, Any]
    owner_id: str
    team_id: str | None
    created_at: str
    updated_at: str


class SegmentPage(BaseModel):
    items: list[Segment]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class SegmentMembers(BaseModel):
    items: list[schemas.Contact] | list[schemas.Account] = Field(
        description="Contacts or accounts, as the segment's entity."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
    total_count: int = Field(description="How many members the caller can see, in all.")


@router.post(
    "", status_code=201, response_model=Segment, responses=problems(409, 422),
    summary="Save a segment",
)  # fmt: skip
async def create_segment(
    body: SegmentCreate, caller: CurrentCaller, customer: Customer
) -> Response:
    segment = spb.Segment(name=body.name, entity=body.entity, filter=record_filter(body.filter))
    request = spb.CreateSegmentRequest(segment=segment)
    created: spb.Segment = (
        await call(customer.segments.CreateSegment, request, caller.metadata)
    ).segment
    return common.record_response(
        segment_json(created), created.version, 201, location=f"{PATH}/{created.id}"
    )


@router.get("", response_model=SegmentPage, responses=problems(422), summary="List segments")
async def list_segments(
    caller: CurrentCaller, customer: Customer, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    request = spb.ListSegmentsRequest(page_size=limit, page_token=cursor or "")
    reply: spb.ListSegmentsResponse = await call(
        customer.segments.ListSegments, request, caller.metadata
    )
    return common.page_response([segment_json(s) for s in reply.segments], reply.next_page_token)


@router.get(
    "/{segment_id}",
    response_model=Segment,
    responses={304: {"description": "If-None-Match names the current version."}, **problems(404)},
    summary="Get a segment",
)
async def get_segment(
    segment_id: str, caller: CurrentCaller, customer: Customer, if_none_match: IfNoneMatch = None
) -> Response:
    segment = await _segment(customer, caller.metadata, segment_id)
    return common.read_response(if_none_match, segment.version, lambda: segment_json(segment))


@router.patch(
    "/{segment_id}", response_model=Segment, responses=problems(404, 412, 422, 428),
    summary="Rename a segment or replace its filter",
)  # fmt: skip
async def update_segment(
    segment_id: str,
    body: SegmentPatch,
    caller: CurrentCaller,
    customer: Customer,
    if_match: IfMatch = None,
) -> Response:
    expected = common.expected_version(if_match)
    version = await expected.one(lambda: _segment(customer, caller.metadata, segment_id))
    common.require_plausible_id(segment_id, "segment")
    fields = [name for name in ("name", "filter") if getattr(body, name) is not None]
    segment = spb.Segment(id=segment_id, name=body.name or "")
    if body.filter is not None:
        segment.filter.CopyFrom(record_filter(body.filter))
    request = spb.UpdateSegmentRequest(segment=segment, fields=fields, expected_version=version)
    updated: spb.Segment = (
        await call(customer.segments.UpdateSegment, request, caller.metadata)
    ).segment
    return common.record_response(segment_json(updated), updated.version)


@router.delete(
    "/{segment_id}", status_code=204, responses=problems(404, 412, 428),
    summary="Delete a segment",
)  # fmt: skip
async def delete_segment(
    segment_id: str, caller: CurrentCaller, customer: Customer, if_match: IfMatch = None
) -> Response:
    expected = common.expected_version(if_match)
    version = await expected.one(lambda: _segment(customer, caller.metadata, segment_id))
    common.require_plausible_id(segment_id, "segment")
    request = spb.DeleteSegmentRequest(id=segment_id, expected_version=version)
    await call(customer.segments.DeleteSegment, request, caller.metadata)
    return Response(status_code=204)


@router.get(
    "/{segment_id}/members", response_model=SegmentMembers, responses=problems(404, 422),
    summary="The segment's members, a page at a time, and how many there are",
)  # fmt: skip
async def segment_members(
    segment_id: str,
    caller: CurrentCaller,
    customer: Customer,
    limit: Limit = 50,
    cursor: Cursor = None,
    order_by: Annotated[Order | None, Query(description="Newest first when absent.")] = None,
) -> Response:
    common.require_plausible_id(segment_id, "segment")
    request = spb.ListSegmentMembersRequest(
        id=segment_id, page_size=limit, page_token=cursor or "", order_by=order_by or ""
    )
    reply: spb.ListSegmentMembersResponse = await call(
        customer.segments.ListSegmentMembers, request, caller.metadata
    )
    items = [contact_json(c) for c in reply.contacts] + [account_json(a) for a in reply.accounts]
    return common.json_response(
        {
            "items": items,
            "next_cursor": reply.next_page_token or None,
            "total_count": reply.total_count,
        }
    )


async def _segment(customer: Customer, metadata: Any, segment_id: str) -> spb.Segment:
    common.require_plausible_id(segment_id, "segment")
    request = spb.GetSegmentRequest(id=segment_id)
    return (await call(customer.segments.GetSegment, request, metadata)).segment


def segment_json(segment: spb.Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "version": segment.version,
        "name": segment.name,
        "entity": segment.entity,
        "filter": conditions_json(segment.filter),
        "owner_id": segment.owner_id,
        "team_id": segment.team_id or None,
        "created_at": segment.created_at.ToJsonString(),
        "updated_at": segment.updated_at.ToJsonString(),
    }
