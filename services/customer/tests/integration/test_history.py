"""Field history and ownership changes over real gRPC, PostgreSQL and NATS."""

import json
import uuid

import grpc
import pytest

from crm.customer.events.v1 import events_pb2 as events
from crm.customer.v1 import merge_pb2 as mpb
from crm_platform.auth.principal import Action, Scope
from crm_platform.testing.services import principal

from .merge_support import Customer, outbox

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])
REP = principal(objects=["account"], scope=Scope.OWN)
PARTNER_ID = uuid.uuid4()
PARTNER = principal(
    objects=["account"], scope=Scope.PARTNER, actions=[Action.READ], partner_id=PARTNER_ID
)


@pytest.fixture
def admin(customer: grpc.aio.Channel) -> Customer:
    return Customer(customer, ADMIN)


def readable(changes: list[mpb.RecordChange]) -> list[tuple[str, object, object]]:
    def value(text: str) -> object:
        return json.loads(text) if text else None

    return [(c.field, value(c.old_value), value(c.new_value)) for c in changes]


async def test_history_pages_newest_first_with_who_and_json_values(admin: Customer) -> None:
    account = await admin.account(name="Acme", employees=5)
    account = await admin.update_account(account, employees=7, tags=["b2b"])
    account = await admin.update_account(account, name="Acme GmbH")

    first = await admin.history("accounts", account.id, page_size=2)
    assert readable(first.changes) == [("name", "Acme", "Acme GmbH"), ("employees", 5, 7)]
    assert {c.actor_id for c in first.changes} == {str(ADMIN.subject_id)}
    newest, older = (c.changed_at.ToDatetime() for c in first.changes)
    assert newest > older
    rest = await admin.history(
        "accounts", account.id, page_size=2, page_token=first.next_page_token
    )
    assert readable(rest.changes) == [("tags", [], ["b2b"]), ("created", None, None)]
    assert rest.next_page_token == ""


async def test_history_needs_the_record_in_sight_and_hides_internal_fields_from_partners(
    admin: Customer, customer: grpc.aio.Channel
) -> None:
    account = await admin.account(name="Linked", partner_id=str(PARTNER_ID))
    account = await admin.update_account(account, internal_notes="margin 38%", industry="Retail")
    everything = readable((await admin.history("accounts", account.id)).changes)
    assert [field for field, _, _ in everything] == ["internal_notes", "industry", "created"]
    partner = Customer(customer, PARTNER)
    seen = readable((await partner.history("accounts", account.id)).changes)
    assert seen == [("industry", "", "Retail"), ("created", None, None)]

    for caller, record_id in ((Customer(customer, REP), account.id), (admin, "not-an-id")):
        with pytest.raises(grpc.aio.AioRpcError) as hidden:
            await caller.history("accounts", record_id)
        assert hidden.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as bad_token:
        await admin.history("accounts", account.id, page_token="bogus")
    assert bad_token.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_transfer_publishes_owner_changed_and_is_in_the_history(
    admin: Customer, database_url: str
) -> None:
    contact = await admin.contact(first_name="Anna")
    successor, team = str(uuid.uuid4()), str(uuid.uuid4())
    moved = await admin.update_contact(contact, owner_id=successor, team_id=team)

    published = (await outbox(database_url))[1:]
    assert [(subject, aggregate) for subject, aggregate, _ in published] == [
        ("crm.customer.contact.updated.v1", contact.id),
        ("crm.customer.contact.owner_changed.v1", contact.id),
    ]
    event = events.ContactOwnerChanged.FromString(published[1][2])
    assert (event.old_owner_id, event.new_owner_id) == (str(ADMIN.subject_id), successor)
    assert (event.old_team_id, event.new_team_id, event.contact) == ("", team, moved)

    renamed = await admin.update_contact(moved, first_name="Ana")
    assert renamed.version == 3
    assert [s for s, _, _ in await outbox(database_url)][-1] == "crm.customer.contact.updated.v1"
    changes = readable((await admin.history("contacts", contact.id)).changes)
    assert changes == [
        ("first_name", "Anna", "Ana"),
        ("owner_id", str(ADMIN.subject_id), successor),
        ("team_id", None, team),
        ("created", None, None),
    ]
