"""The 360° timeline on real PostgreSQL and NATS: events published to JetStream by other
services land in the account's timeline, once, newest first; this one's own are written
with the change that makes them."""

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import grpc
import nats
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from nats.js.client import JetStreamContext

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm.customer.v1 import timeline_pb2 as tpb
from crm.customer.v1 import timeline_pb2_grpc as tpb_grpc
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.events.envelope import MSG_ID, Envelope
from crm_platform.events.streams import ensure_service_stream
from crm_platform.testing.services import call_metadata, principal

from .merge_support import Customer

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])
REP = principal(objects=["account"], scope=Scope.OWN, actions=[Action.READ])
PARTNER_ID = uuid.uuid4()
PARTNER = principal(
    objects=["account"], scope=Scope.PARTNER, actions=[Action.READ], partner_id=PARTNER_ID
)
LAST_YEAR = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def new_event_type(name: str) -> type[Message]:
    """An event type no code of the customer service knows, made now: a record with an
    `account_id` nested in the event, as other services' contracts have them."""
    package = "timeline_test.events.v1"
    proto = descriptor_pb2.FileDescriptorProto(
        name=f"timeline_test/{name.lower()}.proto", package=package
    )
    record = proto.message_type.add(name=f"{name}Record")
    for number, field in enumerate(("id", "account_id", "name"), start=1):
        record.field.add(name=field, number=number, type=9, label=1)  # optional string
    event = proto.message_type.add(name=name)
    event.field.add(name="record", number=1, type=11, label=1, type_name=f".{package}.{name}Record")
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(proto.name)
    except KeyError:
        pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    connection = await nats.connect(nats_url)
    try:
        yield connection.jetstream()
    finally:
        await connection.close()


async def publish(
    js: JetStreamContext, subject: str, message: Message, when: dt.datetime
) -> Envelope:
    event = Envelope.for_message(
        subject=subject, message=message, aggregate_id="agg-1", aggregate_version=1,
        occurred_at=when, trace_headers={},
    )  # fmt: skip
    await js.publish(subject, event.payload, headers=event.to_headers())
    return event


async def publish_again(js: JetStreamContext, event: Envelope) -> None:
    """The same event past JetStream's dedupe window, as a re-drive sends it."""
    headers = {**event.to_headers(), MSG_ID: f"{event.event_id}:again"}
    await js.publish(event.subject, event.payload, headers=headers)


async def create_account(channel: grpc.aio.Channel, **fields: str) -> str:
    request = pb.CreateAccountRequest(account=pb.Account(**fields))
    reply = await pb_grpc.AccountServiceStub(channel).CreateAccount(
        request, metadata=call_metadata(ADMIN)
    )
    return str(reply.account.id)


async def timeline(
    channel: grpc.aio.Channel, account_id: str, who: Principal = ADMIN, **options: object
) -> tpb.ListTimelineResponse:
    request = tpb.ListTimelineRequest(account_id=account_id, **options)  # type: ignore[arg-type]
    stub = tpb_grpc.TimelineServiceStub(channel)
    reply: tpb.ListTimelineResponse = await stub.ListTimeline(request, metadata=call_metadata(who))
    return reply


async def titles_when(
    channel: grpc.aio.Channel, account_id: str, count: int, who: Principal = ADMIN
) -> list[str]:
    """The titles once the timeline has `count` entries (it is fed asynchronously)."""
    for _ in range(300):
        reply = await timeline(channel, account_id, who)
        if len(reply.entries) >= count:
            return [entry.title for entry in reply.entries]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the timeline never reached {count} entries")


async def test_events_of_any_type_show_once_newest_first_and_page(
    customer: grpc.aio.Channel, js: JetStreamContext
) -> None:
    account = await create_account(customer, name="Acme")
    contacts = pb_grpc.ContactServiceStub(customer)
    contact = pb.Contact(first_name="Ada", last_name="Lovelace", account_id=account)
    await contacts.CreateContact(
        pb.CreateContactRequest(contact=contact), metadata=call_metadata(ADMIN)
    )
    # The sales stream appears after the service started: its consumer attaches then.
    await ensure_service_stream(js, "sales")
    won = new_event_type("OpportunityWon")
    opportunity = won(record={"id": "opp-1", "account_id": account, "name": "Big deal"})
    sent = await publish(js, "crm.sales.opportunity.won.v1", opportunity, LAST_YEAR)
    await publish_again(js, sent)
    nobody = won(record={"id": "opp-2", "name": "No account"})
    await publish(js, "crm.sales.opportunity.won.v1", nobody, LAST_YEAR)
    # Consumed in order: once this one shows, the two before it have been handled too.
    later = won(record={"id": "opp-3", "account_id": account, "name": "Small deal"})
    await publish(js, "crm.sales.opportunity.won.v1", later, LAST_YEAR - dt.timedelta(days=1))

    assert await titles_when(customer, account, 4) == [
        "Contact added: Ada Lovelace",
        "Account created: Acme",
        "Opportunity won: Big deal",
        "Opportunity won: Small deal",
    ]
    deal = (await timeline(customer, account)).entries[2]
    assert (
        deal.id,
        deal.kind,
        deal.source,
        deal.event_type,
        deal.subject_id,
    ) == (
        str(sent.event_id),
        "opportunity",
        "sales",
        "timeline_test.events.v1.OpportunityWon",
        "agg-1",
    )
    assert deal.occurred_at.ToDatetime(dt.UTC) == LAST_YEAR
    assert dict(deal.data["record"]) == {
        "id": "opp-1",
        "account_id": account,
        "name": "Big deal",
    }

    first = await timeline(customer, account, page_size=3)
    assert [e.kind for e in first.entries] == ["contact", "account", "opportunity"]
    rest = await timeline(customer, account, page_size=3, page_token=first.next_page_token)
    assert ([e.title for e in rest.entries], rest.next_page_token) == (
        ["Opportunity won: Small deal"],
        "",
    )
    only = await timeline(customer, account, kinds=["opportunity", "ticket"])
    assert [e.subject_id for e in only.entries] == ["agg-1", "agg-1"]
    assert [e.title for e in only.entries] == [
        "Opportunity won: Big deal",
        "Opportunity won: Small deal",
    ]


async def test_this_services_own_events_are_on_the_timeline_once_committed(
    customer: grpc.aio.Channel,
) -> None:
    """Read straight after each change, without waiting: written with the change."""
    first, second = (
        await create_account(customer, name="First"),
        await create_account(customer, name="Second"),
    )
    contacts = pb_grpc.ContactServiceStub(customer)
    created = await contacts.CreateContact(
        pb.CreateContactRequest(
            contact=pb.Contact(first_name="Grace", last_name="Hopper", account_id=first)
        ),
        metadata=call_metadata(ADMIN),
    )
    assert [e.title for e in (await timeline(customer, first)).entries] == [
        "Contact added: Grace Hopper",
        "Account created: First",
    ]
    moved = pb.Contact(id=created.contact.id, account_id=second)
    await contacts.UpdateContact(
        pb.UpdateContactRequest(
            contact=moved,
            update_mask=FieldMask(paths=["account_id"]),
            expected_version=created.contact.version,
        ),
        metadata=call_metadata(ADMIN),
    )
    entries = (await timeline(customer, second)).entries
    assert [(e.title, e.source, e.subject_id) for e in entries] == [
        ("Contact linked: Grace Hopper", "customer", created.contact.id),
        ("Account created: Second", "customer", second),
    ]


async def test_partners_never_see_erp_documents(
    customer: grpc.aio.Channel, js: JetStreamContext
) -> None:
    account = await create_account(customer, name="Shared", partner_id=str(PARTNER_ID))
    await ensure_service_stream(js, "erp-bridge")
    invoice = new_event_type("InvoiceIssued")(record={"account_id": account, "name": "INV-9"})
    await publish(js, "crm.erp_bridge.invoice.issued.v1", invoice, LAST_YEAR)

    assert await titles_when(customer, account, 2) == [
        "Account created: Shared",
        "ERP invoice issued: INV-9",
    ]
    assert await titles_when(customer, account, 1, PARTNER) == ["Account created: Shared"]


async def test_an_invisible_or_unknown_account_is_not_found_and_bad_pages_are_refused(
    customer: grpc.aio.Channel,
) -> None:
    account = await create_account(customer, name="Not the rep's")
    for who, account_id in ((REP, account), (ADMIN, str(uuid.uuid4())), (ADMIN, "nope")):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await timeline(customer, account_id, who)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    for options in ({"page_token": "garbage"}, {"page_size": 501}, {"kinds": ["Bad Kind"]}):
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await timeline(customer, account, **options)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_merged_accounts_timeline_and_late_events_go_to_its_survivor(
    customer: grpc.aio.Channel, js: JetStreamContext
) -> None:
    admin = Customer(customer, ADMIN)
    survivor = await admin.account(name="Acme")
    duplicate = await admin.account(name="ACME Ltd")
    await ensure_service_stream(js, "sales")
    won = new_event_type("OpportunityWon")
    before = won(record={"id": "opp-1", "account_id": duplicate.id, "name": "Before"})
    await publish(js, "crm.sales.opportunity.won.v1", before, LAST_YEAR)
    assert "Opportunity won: Before" in await titles_when(customer, duplicate.id, 2)

    await admin.merge("accounts", survivor, duplicate.id)
    # Published by a service that had not yet heard of the merge.
    after = won(record={"id": "opp-2", "account_id": duplicate.id, "name": "After"})
    await publish(js, "crm.sales.opportunity.won.v1", after, LAST_YEAR - dt.timedelta(days=1))

    for _ in range(300):
        deals = (await timeline(customer, survivor.id, kinds=["opportunity"])).entries
        if len(deals) == 2:
            break
        await asyncio.sleep(0.05)
    assert [(d.title, d.subject_id) for d in deals] == [
        ("Opportunity won: Before", "agg-1"),
        ("Opportunity won: After", "agg-1"),
    ]
    titles = [entry.title for entry in (await timeline(customer, survivor.id)).entries]
    assert "Account created: ACME Ltd" in titles  # the duplicate's own history came along
