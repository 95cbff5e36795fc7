"""Exports over real gRPC and PostgreSQL: a filter or a segment, page after page, within
the caller's visibility and the export permission, without internal fields for partners."""

import uuid
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm.customer.v1 import exports_pb2 as epb
from crm.customer.v1 import exports_pb2_grpc as epb_grpc
from crm.customer.v1 import segments_pb2 as spb
from crm.customer.v1 import segments_pb2_grpc as spb_grpc
from crm_customer.usecases import exports
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.testing.services import call_metadata, principal

pytestmark = pytest.mark.integration

OBJECTS = ["account", "contact"]
ADMIN = principal(objects=OBJECTS)
READ_AND_EXPORT = [Action.READ, Action.CREATE, Action.EXPORT]


def rep() -> Principal:
    return principal(objects=OBJECTS, scope=Scope.OWN, actions=READ_AND_EXPORT)


@pytest.fixture
def tag() -> str:
    """A tag of this test's records alone: the database is shared by the module."""
    return f"t{uuid.uuid4().hex[:12]}"


async def add_contact(channel: grpc.aio.Channel, who: Principal, **fields: Any) -> pb.Contact:
    request = pb.CreateContactRequest(contact=pb.Contact(**fields))
    stub = pb_grpc.ContactServiceStub(channel)
    return (await stub.CreateContact(request, metadata=call_metadata(who))).contact


async def export(
    channel: grpc.aio.Channel, who: Principal, **request: Any
) -> tuple[list[str], list[list[Any]]]:
    """The columns, and the records of each message after the first."""
    stub = epb_grpc.ExportServiceStub(channel)
    call = stub.ExportRecords(epb.ExportRecordsRequest(**request), metadata=call_metadata(who))
    messages = [message async for message in call]
    first, rest = messages[0], messages[1:]
    assert not first.contacts
    assert not first.accounts
    return list(first.columns), [list(m.contacts) or list(m.accounts) for m in rest]


async def refusal(channel: grpc.aio.Channel, who: Principal, **request: Any) -> Any:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await export(channel, who, **request)
    return caught.value


def violations(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    return [(v.field, v.description) for v in bad.field_violations]


async def test_a_filter_exports_its_records_in_order_with_the_columns_asked_for(
    customer: grpc.aio.Channel, tag: str
) -> None:
    for first, email in [("Chen", "chen@x.cn"), ("Anna", "anna@x.de"), ("张伟", "zw@x.cn")]:
        await add_contact(customer, ADMIN, first_name=first, email=email, tags=[tag])
    await add_contact(customer, ADMIN, first_name="Other", tags=["elsewhere"])

    columns, chunks = await export(
        customer,
        ADMIN,
        entity="contacts",
        filter=pb.RecordFilter(tags=[tag]),
        columns=["first_name", "email", "tags"],
        order_by="name",
    )

    assert columns == ["first_name", "email", "tags"]
    assert [[(c.first_name, c.email, list(c.tags)) for c in chunk] for chunk in chunks] == [
        [("Anna", "anna@x.de", [tag]), ("Chen", "chen@x.cn", [tag]), ("张伟", "zw@x.cn", [tag])]
    ]
    assert {(c.id, c.owner_id, c.version) for c in chunks[0]} == {("", "", 0)}  # not asked


async def test_pages_follow_each_other_without_gaps_or_repeats(
    customer: grpc.aio.Channel, tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "EXPORT_PAGE_SIZE", 2)
    created = [await add_contact(customer, ADMIN, last_name=f"N{i}", tags=[tag]) for i in range(5)]

    columns, chunks = await export(
        customer, ADMIN, entity="contacts", filter=pb.RecordFilter(tags=[tag])
    )

    assert columns[:4] == ["id", "first_name", "last_name", "email"]
    assert columns[-3:] == ["created_at", "updated_at", "internal_notes"]
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    newest_first = [c.id for c in reversed(created)]
    assert [c.id for chunk in chunks for c in chunk] == newest_first


async def test_a_segment_exports_its_members(customer: grpc.aio.Channel, tag: str) -> None:
    await add_contact(customer, ADMIN, first_name="In", tags=[tag, "vip"])
    await add_contact(customer, ADMIN, first_name="Out", tags=[tag])
    segments = spb_grpc.SegmentServiceStub(customer)
    segment = spb.Segment(name="vips", entity="contacts", filter=pb.RecordFilter(tags=[tag, "vip"]))
    created = await segments.CreateSegment(
        spb.CreateSegmentRequest(segment=segment), metadata=call_metadata(ADMIN)
    )

    _, chunks = await export(
        customer, ADMIN, entity="contacts", segment_id=created.segment.id, columns=["first_name"]
    )

    assert [[c.first_name for c in chunk] for chunk in chunks] == [["In"]]
    wrong_entity = await refusal(customer, ADMIN, entity="accounts", segment_id=created.segment.id)
    assert wrong_entity.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(wrong_entity) == [("segment_id", "is a segment of contacts, not of accounts")]
    unknown = await refusal(customer, ADMIN, entity="contacts", segment_id=str(uuid.uuid4()))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND


async def test_a_rep_exports_only_own_records(customer: grpc.aio.Channel, tag: str) -> None:
    me, colleague = rep(), rep()
    await add_contact(customer, me, first_name="Mine", tags=[tag])
    await add_contact(customer, colleague, first_name="Theirs", tags=[tag])
    await add_contact(customer, ADMIN, first_name="Admin's", tags=[tag])

    _, chunks = await export(
        customer, me, entity="contacts", filter=pb.RecordFilter(tags=[tag]), columns=["first_name"]
    )

    assert [[c.first_name for c in chunk] for chunk in chunks] == [["Mine"]]


async def test_the_export_scope_narrows_what_may_be_read(
    customer: grpc.aio.Channel, tag: str
) -> None:
    reader = principal(objects=OBJECTS, actions=[Action.READ, Action.CREATE])
    exporter = Principal(
        subject_id=reader.subject_id,
        kind="user",
        grants={"contact": {"read": "all", "export": "own"}},
    )
    await add_contact(customer, reader, first_name="Mine", tags=[tag])
    await add_contact(customer, ADMIN, first_name="Seen, not exported", tags=[tag])

    _, chunks = await export(
        customer, exporter, entity="contacts", filter=pb.RecordFilter(tags=[tag]),
        columns=["first_name"],
    )  # fmt: skip

    assert [[c.first_name for c in chunk] for chunk in chunks] == [["Mine"]]


async def test_partners_get_no_internal_fields(customer: grpc.aio.Channel, tag: str) -> None:
    partner_id = uuid.uuid4()
    partner = principal(
        objects=OBJECTS, scope=Scope.PARTNER, actions=[Action.READ, Action.EXPORT],
        partner_id=partner_id,
    )  # fmt: skip
    await add_contact(
        customer, ADMIN, first_name="Linked", internal_notes="margin 40%", tags=[tag],
        partner_id=str(partner_id),
    )  # fmt: skip
    await add_contact(customer, ADMIN, first_name="Unlinked", tags=[tag])

    columns, chunks = await export(
        customer, partner, entity="contacts", filter=pb.RecordFilter(tags=[tag])
    )

    assert "internal_notes" not in columns
    assert "partner_id" in columns
    assert [[c.first_name for c in chunk] for chunk in chunks] == [["Linked"]]
    assert not chunks[0][0].HasField("internal_notes")
    _, admins = await export(
        customer, ADMIN, entity="contacts", filter=pb.RecordFilter(tags=[tag]),
        columns=["internal_notes"], order_by="name",
    )  # fmt: skip
    assert [c.internal_notes for c in admins[0]] == ["margin 40%", ""]
    asked = await refusal(customer, partner, entity="contacts", columns=["internal_notes"])
    assert violations(asked) == [("columns.0", "'internal_notes' is not exported to partners")]


async def test_without_the_export_permission_nothing_is_sent(
    customer: grpc.aio.Channel,
) -> None:
    reader = principal(objects=OBJECTS, actions=[Action.READ])
    error = await refusal(customer, reader, entity="contacts")
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == "not allowed to export contact"


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        (
            {"entity": "contacts", "filter": pb.RecordFilter(phone="not a phone")},
            [("filter.phone", "is not a phone number; add the country code or a region")],
        ),
        ({"entity": "leads"}, [("entity", "must be contacts or accounts")]),
        (
            {"entity": "accounts", "columns": ["name", "email", "name"]},
            [
                ("columns.1", "'email' is not a field of this entity"),
                ("columns.2", "'name' is named twice"),
            ],
        ),
        (
            {"entity": "contacts", "order_by": "email"},
            [
                (
                    "order_by",
                    "must be one of name, created_at, updated_at, last_contacted_at, "
                    "`-` first for descending",
                )
            ],
        ),
    ],
)
async def test_bad_requests_are_invalid_arguments(
    customer: grpc.aio.Channel, request_fields: dict[str, Any], expected: list[Any]
) -> None:
    error = await refusal(customer, ADMIN, **request_fields)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(error) == expected
