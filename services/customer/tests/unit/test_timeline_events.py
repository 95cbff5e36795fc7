"""Events -> timeline entries: generic decoding, the accounts named, titles, and what
partners see."""

import datetime as dt
import uuid

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from crm.customer.events.v1 import events_pb2 as events
from crm.customer.v1 import customer_pb2 as pb
from crm.sales.v1 import account_projection_pb2 as sales
from crm_customer.domain.timeline import TimelineEntry, check_kinds
from crm_customer.events.timeline import UnknownEventType, timeline_entries
from crm_platform.errors import InvalidArgument
from crm_platform.events.envelope import Envelope

ACCOUNT, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
WHEN = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)


def envelope(subject: str, message: Message, aggregate_id: str = "agg-1") -> Envelope:
    return Envelope.for_message(
        subject=subject,
        message=message,
        aggregate_id=aggregate_id,
        aggregate_version=1,
        occurred_at=WHEN,
        trace_headers={},
    )


def opportunity_type() -> type[Message]:
    """A sales event this service has no code for: an opportunity record nested in it."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="unit_test/opportunity_events.proto", package="unit_test.sales.events.v1"
    )
    record = proto.message_type.add(name="Opportunity")
    for number, name in enumerate(("id", "account_id", "name"), start=1):
        record.field.add(name=name, number=number, type=9, label=1)  # string, optional
    won = proto.message_type.add(name="OpportunityWon")
    won.field.add(
        name="opportunity", number=1, type=11, label=1,
        type_name=".unit_test.sales.events.v1.Opportunity",
    )  # fmt: skip
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(proto.name)
    except KeyError:
        pool.Add(proto)
    found = pool.FindMessageTypeByName("unit_test.sales.events.v1.OpportunityWon")
    return message_factory.GetMessageClass(found)


def test_an_unknown_type_with_a_nested_account_id_gets_the_kind_of_its_subject() -> None:
    won = opportunity_type()
    message = won(opportunity={"id": "opp-7", "account_id": ACCOUNT, "name": "Big deal"})
    event = envelope("crm.sales.opportunity.won.v1", message, "opp-7")

    [entry] = timeline_entries(event)

    assert entry == TimelineEntry(
        id=event.event_id,
        account_id=uuid.UUID(ACCOUNT),
        occurred_at=WHEN,
        source="sales",
        event_type="unit_test.sales.events.v1.OpportunityWon",
        kind="opportunity",
        subject_id="opp-7",
        title="Opportunity won: Big deal",
        data={"opportunity": {"id": "opp-7", "account_id": ACCOUNT, "name": "Big deal"}},
    )


def test_a_type_on_no_known_subject_is_named_after_its_aggregate() -> None:
    message = opportunity_type()(opportunity={"account_id": ACCOUNT})
    [entry] = timeline_entries(envelope("crm.analytics.health_score.dropped.v1", message))
    assert (entry.kind, entry.source, entry.title) == (
        "health_score",
        "analytics",
        "Health score dropped",
    )


def test_an_event_naming_no_account_has_no_entry() -> None:
    message = sales.ProjectedAccount(id=ACCOUNT, name="Acme")  # `id`, not `account_id`
    assert timeline_entries(envelope("crm.sales.projection.synced.v1", message)) == []


def test_a_contact_shows_on_each_of_its_accounts_with_its_name_and_no_personal_data() -> None:
    contact = pb.Contact(
        id="c-1", first_name="Ada", last_name="Lovelace", email="ada@example.com",
        account_id=ACCOUNT, internal_notes="owes us", title="CTO",
        account_roles=[pb.AccountRole(account_id=OTHER, role="lawyer"),
                       pb.AccountRole(account_id=ACCOUNT, role="decision_maker")],
    )  # fmt: skip
    entries = timeline_entries(
        envelope("crm.customer.contact.created.v1", events.ContactCreated(contact=contact))
    )
    assert [e.account_id for e in entries] == [uuid.UUID(ACCOUNT), uuid.UUID(OTHER)]
    assert {(e.kind, e.source, e.title) for e in entries} == {
        ("contact", "customer", "Contact added: Ada Lovelace")
    }
    assert entries[0].data == {
        "contact": {
            "id": "c-1", "first_name": "Ada", "last_name": "Lovelace", "title": "CTO",
            "account_id": ACCOUNT,
            "account_roles": [{"account_id": OTHER, "role": "lawyer"},
                              {"account_id": ACCOUNT, "role": "decision_maker"}],
        }
    }  # fmt: skip


def test_a_contact_edit_shows_only_when_it_changes_the_contacts_accounts() -> None:
    contact = pb.Contact(id="c-1", first_name="Ada", account_id=ACCOUNT)
    subject = "crm.customer.contact.updated.v1"
    renamed = events.ContactUpdated(contact=contact, changed_fields=["first_name"])
    linked = events.ContactUpdated(contact=contact, changed_fields=["account_id"])
    assert timeline_entries(envelope(subject, renamed)) == []
    [entry] = timeline_entries(envelope(subject, linked))
    assert (entry.title, entry.data["changed_fields"]) == ("Contact linked: Ada", ["account_id"])


def test_a_new_account_opens_its_own_timeline() -> None:
    created = events.AccountCreated(account=pb.Account(id=ACCOUNT, name="Acme"))
    [entry] = timeline_entries(envelope("crm.customer.account.created.v1", created, ACCOUNT))
    assert (entry.account_id, entry.kind, entry.title) == (
        uuid.UUID(ACCOUNT),
        "account",
        "Account created: Acme",
    )


def test_a_type_missing_from_the_contracts_fails_to_be_redriven_later() -> None:
    event = Envelope(
        event_id=uuid.uuid4(), event_type="crm.future.events.v1.Unheard",
        subject="crm.future.thing.happened.v1", aggregate_id="a", aggregate_version=1,
        occurred_at=WHEN, payload=b"",
    )  # fmt: skip
    with pytest.raises(UnknownEventType) as unknown:
        timeline_entries(event)
    assert str(unknown.value) == "no contract for crm.future.events.v1.Unheard"


def test_partners_get_entries_without_internal_fields_at_any_depth() -> None:
    entry = TimelineEntry(
        id=uuid.uuid4(), account_id=uuid.UUID(ACCOUNT), occurred_at=WHEN, source="customer",
        event_type="t", kind="account", subject_id=ACCOUNT, title="Account created",
        data={"account": {"name": "Acme", "internal_notes": "x",
                          "custom_fields": {"internalNotes": "y", "tier": "gold"}}},
    )  # fmt: skip
    assert entry.seen_by_partner().data == {
        "account": {"name": "Acme", "custom_fields": {"tier": "gold"}}
    }


def test_kinds_asked_for_must_be_well_formed_and_few() -> None:
    assert check_kinds(["ticket", "erp_order", "ticket"]) == {"ticket", "erp_order"}
    with pytest.raises(InvalidArgument) as bad:
        check_kinds(["ticket", "Drop Table"])
    assert [(v.field, v.description) for v in bad.value.violations] == [
        ("kinds", "not a kind: 'Drop Table'")
    ]
    with pytest.raises(InvalidArgument):
        check_kinds([f"kind_{n}" for n in range(21)])
