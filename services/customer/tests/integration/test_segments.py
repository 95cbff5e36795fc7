"""Segments over real gRPC and PostgreSQL: saved filters whose members and count are found
when asked, always within the visibility of whoever asks; bad filters and stale versions
are refused and change nothing."""

from typing import Any

import grpc
import pytest

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm.customer.v1 import segments_pb2 as spb
from crm.customer.v1 import segments_pb2_grpc as spb_grpc
from crm_platform.auth.principal import Action, Scope
from crm_platform.testing.services import call_metadata, principal

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])
REP = principal(objects=["account", "contact"], scope=Scope.OWN)
READER = principal(objects=["contact"], actions=[Action.READ])


async def add_contacts(channel: grpc.aio.Channel) -> None:
    contacts = pb_grpc.ContactServiceStub(channel)
    for first, tags, who in (
        ("Ann", ["vip"], ADMIN),
        ("Bea", ["vip"], ADMIN),
        ("Cid", ["vip"], REP),
        ("Dan", [], ADMIN),
        ("Eve", ["vip"], ADMIN),
    ):
        contact = pb.Contact(first_name=first, last_name="Lee", tags=tags)
        await contacts.CreateContact(
            pb.CreateContactRequest(contact=contact), metadata=call_metadata(who)
        )


async def create(
    segments: spb_grpc.SegmentServiceStub, who: Any = ADMIN, entity: str = "contacts", **wanted: Any
) -> spb.Segment:
    segment = spb.Segment(name="VIPs", entity=entity, filter=pb.RecordFilter(**wanted))
    reply = await segments.CreateSegment(
        spb.CreateSegmentRequest(segment=segment), metadata=call_metadata(who)
    )
    return reply.segment


async def members(
    segments: spb_grpc.SegmentServiceStub, segment_id: str, who: Any = ADMIN
) -> tuple[list[str], int]:
    """First names of every member, page by page (pages of 2), and the count reported."""
    names: list[str] = []
    token, totals = "", set()
    while True:
        reply = await segments.ListSegmentMembers(
            spb.ListSegmentMembersRequest(
                id=segment_id, page_size=2, page_token=token, order_by="name"
            ),
            metadata=call_metadata(who),
        )
        names += [c.first_name for c in reply.contacts]
        totals.add(reply.total_count)
        token = reply.next_page_token
        if not token:
            break
    assert len(totals) == 1, totals  # every page reports the same count
    return names, totals.pop()


async def test_members_and_count_follow_the_filter_and_the_callers_visibility(
    customer: grpc.aio.Channel,
) -> None:
    await add_contacts(customer)
    segments = spb_grpc.SegmentServiceStub(customer)
    vips = await create(segments, tags=["vip"])
    assert (vips.name, vips.entity, list(vips.filter.tags), vips.version) == (
        "VIPs", "contacts", ["vip"], 1,
    )  # fmt: skip
    assert await members(segments, vips.id) == (["Ann", "Bea", "Cid", "Eve"], 4)

    # the rep sees only their own contacts, also through someone else's segment they can't
    # see: segments are private to their owner's reach like records
    mine = await create(segments, REP, tags=["vip"])
    assert await members(segments, mine.id, REP) == (["Cid"], 1)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await members(segments, vips.id, REP)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND

    # members are found when asked: a new VIP is a member at once
    await pb_grpc.ContactServiceStub(customer).CreateContact(
        pb.CreateContactRequest(contact=pb.Contact(first_name="Fay", tags=["vip"])),
        metadata=call_metadata(ADMIN),
    )
    assert await members(segments, vips.id) == (["Ann", "Bea", "Cid", "Eve", "Fay"], 5)

    listed = await segments.ListSegments(spb.ListSegmentsRequest(), metadata=call_metadata(REP))
    assert [s.id for s in listed.segments] == [mine.id]


async def test_update_and_delete_need_the_current_version(customer: grpc.aio.Channel) -> None:
    await add_contacts(customer)
    segments = spb_grpc.SegmentServiceStub(customer)
    vips = await create(segments, tags=["vip"])
    change = spb.UpdateSegmentRequest(
        segment=spb.Segment(id=vips.id, name="Lees", filter=pb.RecordFilter(query="lee")),
        fields=["name", "filter"],
        expected_version=1,
    )
    updated = (await segments.UpdateSegment(change, metadata=call_metadata(ADMIN))).segment
    assert (updated.name, updated.filter.query, list(updated.filter.tags), updated.version) == (
        "Lees", "lee", [], 2,
    )  # fmt: skip
    assert (await members(segments, vips.id))[1] == 5

    for request in (change, spb.DeleteSegmentRequest(id=vips.id, expected_version=1)):
        call = segments.UpdateSegment if request is change else segments.DeleteSegment
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call(request, metadata=call_metadata(ADMIN))  # type: ignore[operator]
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    await segments.DeleteSegment(
        spb.DeleteSegmentRequest(id=vips.id, expected_version=2), metadata=call_metadata(ADMIN)
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await segments.GetSegment(spb.GetSegmentRequest(id=vips.id), metadata=call_metadata(ADMIN))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("entity", "wanted", "field"),
    [
        ("people", {}, "entity"),
        ("contacts", {"lifecycle": "customer"}, "filter.lifecycle"),
        ("accounts", {"email": "a@b.example"}, "filter.email"),
        ("accounts", {"company": "Acme"}, "filter.company"),
        ("contacts", {"phone": "12"}, "filter.phone"),
        ("contacts", {"owner_id": "me"}, "filter.owner_id"),
    ],
)
async def test_bad_segments_are_refused_and_nothing_is_kept(
    customer: grpc.aio.Channel, entity: str, wanted: dict[str, Any], field: str
) -> None:
    segments = spb_grpc.SegmentServiceStub(customer)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(segments, entity=entity, **wanted)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.value.details() or "")
    listed = await segments.ListSegments(spb.ListSegmentsRequest(), metadata=call_metadata(ADMIN))
    assert list(listed.segments) == []


async def test_segments_of_records_one_cannot_read_are_refused(
    customer: grpc.aio.Channel,
) -> None:
    segments = spb_grpc.SegmentServiceStub(customer)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(segments, READER, entity="accounts")
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
    made = await create(segments, READER, entity="contacts")
    with pytest.raises(grpc.aio.AioRpcError) as error:  # READ alone does not reach edits
        await segments.DeleteSegment(
            spb.DeleteSegmentRequest(id=made.id, expected_version=1),
            metadata=call_metadata(READER),
        )
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED
