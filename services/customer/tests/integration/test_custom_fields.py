"""Custom field definitions over real gRPC and PostgreSQL: an admin defines them, record
writes and imports are held to them, and bad definitions or values change nothing."""

from typing import Any

import grpc
import pytest
from google.protobuf.json_format import MessageToDict

from crm.customer.v1 import custom_fields_pb2 as cpb
from crm.customer.v1 import custom_fields_pb2_grpc as cpb_grpc
from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_platform.testing.services import call_metadata, principal

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact", "custom_field"])
REP = principal(objects=["account", "contact"])


async def define(channel: grpc.aio.Channel, who: Any = ADMIN, **wanted: Any) -> cpb.CustomField:
    request = cpb.DefineCustomFieldRequest(field=cpb.CustomField(entity="contacts", **wanted))
    stub = cpb_grpc.CustomFieldServiceStub(channel)
    return (await stub.DefineCustomField(request, metadata=call_metadata(who))).field


async def create_contact(channel: grpc.aio.Channel, custom: dict[str, Any]) -> pb.Contact:
    contact = pb.Contact(first_name="Ada")
    contact.custom_fields.update(custom)
    stub = pb_grpc.ContactServiceStub(channel)
    request = pb.CreateContactRequest(contact=contact)
    return (await stub.CreateContact(request, metadata=call_metadata(REP))).contact


async def test_record_writes_are_held_to_the_definitions(customer: grpc.aio.Channel) -> None:
    seats = await define(customer, name="seats", label="Seats", type="integer")
    assert (seats.version, seats.max_length, seats.label) == (1, 255, "Seats")
    await define(customer, name="tier", type="choice", options=["Gold", "Silver"])

    made = await create_contact(customer, {"seats": "1,200", "tier": "gold", "legacy": "kept"})
    assert MessageToDict(made.custom_fields) == {"seats": 1200, "tier": "Gold", "legacy": "kept"}

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create_contact(customer, {"seats": "many", "tier": "bronze"})
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "custom_fields.seats" in (error.value.details() or "")
    assert "custom_fields.tier: must be one of Gold, Silver" in (error.value.details() or "")

    contacts = pb_grpc.ContactServiceStub(customer)
    change = pb.Contact(id=made.id)
    change.custom_fields.update({"seats": "1.5"})
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await contacts.UpdateContact(
            pb.UpdateContactRequest(
                contact=change, update_mask={"paths": ["custom_fields"]}, expected_version=1
            ),
            metadata=call_metadata(REP),
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    stored = await contacts.GetContact(
        pb.GetContactRequest(id=made.id), metadata=call_metadata(REP)
    )
    assert (stored.contact.version, MessageToDict(stored.contact.custom_fields)["seats"]) == (
        1,
        1200,
    )


async def test_a_required_field_holds_new_records_and_custom_field_writes(
    customer: grpc.aio.Channel,
) -> None:
    contacts = pb_grpc.ContactServiceStub(customer)
    before = await create_contact(customer, {})  # stored before the field was required
    region = await define(customer, name="region", type="text", required=True)
    assert region.required

    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create_contact(customer, {"seats": 3})
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "custom_fields.region: is required" in (error.value.details() or "")
    made = await create_contact(customer, {"region": "EMEA"})
    assert MessageToDict(made.custom_fields) == {"region": "EMEA"}

    async def update(contact: pb.Contact, path: str, version: int) -> pb.Contact:
        request = pb.UpdateContactRequest(
            contact=contact, update_mask={"paths": [path]}, expected_version=version
        )
        return (await contacts.UpdateContact(request, metadata=call_metadata(REP))).contact

    # The older record stays editable until its custom fields are written.
    renamed = await update(pb.Contact(id=before.id, title="CTO"), "title", before.version)
    assert renamed.title == "CTO"
    cleared = pb.Contact(id=made.id)
    cleared.custom_fields.update({"region": " "})
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await update(cleared, "custom_fields", made.version)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    stored = await contacts.GetContact(
        pb.GetContactRequest(id=made.id), metadata=call_metadata(REP)
    )
    assert (stored.contact.version, MessageToDict(stored.contact.custom_fields)) == (
        made.version,
        {"region": "EMEA"},
    )


async def test_definitions_are_the_admins(customer: grpc.aio.Channel) -> None:
    stub = cpb_grpc.CustomFieldServiceStub(customer)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await define(customer, REP, name="seats", type="integer")
    assert error.value.code() == grpc.StatusCode.PERMISSION_DENIED

    tier = await define(customer, name="tier", type="choice", options=["Gold"])
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await define(customer, name="tier", type="text")
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS

    changed_field = cpb.CustomField(
        entity="contacts", name="tier", label="Tier", options=["Gold", "Silver"]
    )
    changed = await stub.ChangeCustomField(
        cpb.ChangeCustomFieldRequest(field=changed_field, expected_version=tier.version),
        metadata=call_metadata(ADMIN),
    )
    assert (list(changed.field.options), changed.field.version) == (["Gold", "Silver"], 2)
    for stale in (
        stub.ChangeCustomField(
            cpb.ChangeCustomFieldRequest(field=changed_field, expected_version=1),
            metadata=call_metadata(ADMIN),
        ),
        stub.RemoveCustomField(
            cpb.RemoveCustomFieldRequest(entity="contacts", name="tier", expected_version=1),
            metadata=call_metadata(ADMIN),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await stale
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    listed = await stub.ListCustomFields(
        cpb.ListCustomFieldsRequest(entity="contacts"), metadata=call_metadata(REP)
    )
    assert [(f.name, f.type) for f in listed.fields] == [("tier", "choice")]
    await stub.RemoveCustomField(
        cpb.RemoveCustomFieldRequest(entity="contacts", name="tier", expected_version=2),
        metadata=call_metadata(ADMIN),
    )
    made = await create_contact(customer, {"tier": "bronze"})  # free-form again
    assert MessageToDict(made.custom_fields) == {"tier": "bronze"}


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        ({"entity": "leads", "name": "x", "type": "text"}, "entity"),
        ({"name": "Bad Name", "type": "text"}, "name"),
        ({"name": "x", "type": "money"}, "type"),
        ({"name": "x", "type": "choice"}, "options"),
    ],
)
async def test_bad_definitions_keep_nothing(
    customer: grpc.aio.Channel, wanted: dict[str, Any], field: str
) -> None:
    stub = cpb_grpc.CustomFieldServiceStub(customer)
    request = cpb.DefineCustomFieldRequest(
        field=cpb.CustomField(**{"entity": "contacts", **wanted})
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.DefineCustomField(request, metadata=call_metadata(ADMIN))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.value.details() or "")
    listed = await stub.ListCustomFields(
        cpb.ListCustomFieldsRequest(entity="contacts"), metadata=call_metadata(ADMIN)
    )
    assert list(listed.fields) == []


@pytest.mark.parametrize(
    ("custom", "field"),
    [
        ({"a": "\u0000"}, "custom_fields.a: must not contain NUL characters"),
        ({"a": float("nan")}, "custom_fields.a: must be a finite number"),
        ({"a": float("inf")}, "custom_fields.a: must be a finite number"),
        ({"a": 12345678901234567890}, "custom_fields.a: must lie between"),
        ({"count": 9007199254740993}, "custom_fields.count: must lie between"),
        ({"ratio": "1,5"}, "custom_fields.ratio: must be a number, in groups of three"),
    ],
)
async def test_values_that_would_not_come_back_as_sent_are_refused_by_name(
    customer: grpc.aio.Channel, custom: dict[str, Any], field: str
) -> None:
    await define(customer, name="count", type="integer")
    await define(customer, name="ratio", type="number")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create_contact(customer, custom)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (error.value.details() or "")


async def test_numbers_sent_to_a_text_field_are_kept_as_written(
    customer: grpc.aio.Channel,
) -> None:
    await define(customer, name="code", type="text")
    await define(customer, name="flag", type="text")
    made = await create_contact(customer, {"code": 5, "flag": True})
    assert MessageToDict(made.custom_fields) == {"code": "5", "flag": "true"}


async def test_a_filter_reads_a_defined_fields_value_as_a_write_does(
    customer: grpc.aio.Channel,
) -> None:
    await define(customer, name="seats", type="number")
    await define(customer, name="tier", type="choice", options=["Gold", "Silver"])
    await define(customer, name="active", type="boolean")
    stored = await create_contact(customer, {"seats": "1,200", "tier": "silver", "active": "yes"})
    stub = pb_grpc.ContactServiceStub(customer)

    async def found(**custom: Any) -> list[str]:
        wanted = pb.RecordFilter()
        wanted.custom_fields.update(custom)
        request = pb.ListContactsRequest(filter=wanted)
        return [
            c.id for c in (await stub.ListContacts(request, metadata=call_metadata(ADMIN))).contacts
        ]

    for written in ({"seats": "1,200"}, {"tier": "SILVER"}, {"active": "yes"}, {"seats": 1200}):
        assert await found(**written) == [stored.id], written
    assert await found(tier="Gold") == []
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await found(seats="lots")
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "filter.custom_fields.seats" in (refused.value.details() or "")
