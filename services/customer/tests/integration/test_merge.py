"""Merging duplicates over real gRPC, PostgreSQL and NATS."""

import asyncio
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from crm.customer.events.v1 import events_pb2 as events
from crm_customer.repository import tables
from crm_platform.auth.principal import Action, Scope
from crm_platform.testing.services import principal

from .merge_support import Customer, history_fields, outbox, rows

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])
REP = principal(objects=["account", "contact"], scope=Scope.OWN)
EDITOR = principal(objects=["contact"], actions=[Action.READ, Action.CREATE, Action.EDIT])


@pytest.fixture
def admin(customer: grpc.aio.Channel) -> Customer:
    return Customer(customer, ADMIN)


def merged_into(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """The metadata of the MERGED ErrorInfo of a NOT_FOUND, {} without one."""
    assert error.code() == grpc.StatusCode.NOT_FOUND
    status = rpc_status.from_call(error)
    for packed in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if packed.Unpack(info) and info.reason == "MERGED":
            return dict(info.metadata)
    return {}


async def test_merging_contacts_keeps_both_values_deletes_the_duplicate_and_publishes(
    admin: Customer, customer: grpc.aio.Channel, database_url: str
) -> None:
    survivor = await admin.contact(first_name="Anna", email="anna@x.io", tags=["vip"])
    duplicate = await admin.contact(
        first_name="Ana", last_name="Kowalska", email="ana@y.io", phone="+4930123456", tags=["b2b"]
    )
    merged = (await admin.merge("contacts", survivor, duplicate.id, first_name="duplicate")).contact
    assert (merged.id, merged.version) == (survivor.id, 2)
    assert (merged.first_name, merged.last_name, merged.email) == ("Ana", "Kowalska", "anna@x.io")
    assert (list(merged.other_emails), merged.phone) == (["ana@y.io"], "+4930123456")
    assert list(merged.tags) == ["vip", "b2b"]
    assert await admin.get_contact(survivor.id) == merged
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await admin.get_contact(duplicate.id)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    assert merged_into(gone.value) == {"merged_into": survivor.id}
    with pytest.raises(grpc.aio.AioRpcError) as never_seen:
        await Customer(customer, REP).get_contact(duplicate.id)
    assert merged_into(never_seen.value) == {}  # who could not see it learns nothing

    c = tables.contacts.c
    marked = await rows(database_url, select(c.merged_into_id, c.version).where(
        c.id == uuid.UUID(duplicate.id), c.deleted_at.is_not(None)))  # fmt: skip
    assert marked == [(uuid.UUID(survivor.id), 2)]
    published = await outbox(database_url)
    assert [(subject, aggregate) for subject, aggregate, _ in published[2:]] == [
        ("crm.customer.contact.updated.v1", survivor.id),
        ("crm.customer.contact.deleted.v1", duplicate.id),
        ("crm.customer.contact.merged.v1", survivor.id),
    ]
    event = events.ContactMerged.FromString(published[-1][2])
    assert (event.survivor_id, event.duplicate_id, event.survivor) == (
        survivor.id,
        duplicate.id,
        merged,
    )
    both = {"survivor_id": survivor.id, "duplicate_id": duplicate.id}
    assert await history_fields(database_url, survivor.id) == [
        ("created", None, None),
        ("first_name", "Anna", "Ana"),
        ("last_name", "", "Kowalska"),
        ("other_emails", [], ["ana@y.io"]),
        ("phone", "", "+4930123456"),
        ("tags", ["vip"], ["vip", "b2b"]),
        ("merged", None, both),
    ]
    assert await history_fields(database_url, duplicate.id) == [
        ("created", None, None),
        ("deleted", None, None),
        ("merged", None, both),
    ]


async def test_merging_accounts_moves_their_contacts_and_child_accounts(
    admin: Customer, customer: grpc.aio.Channel, database_url: str
) -> None:
    rep = Customer(customer, REP)  # merges its own accounts; others' contacts move too
    survivor = await rep.account(name="Acme")
    duplicate = await rep.account(name="ACME Ltd", industry="Retail", website="acme.io")
    other = await admin.account(name="Other")
    employee = await admin.contact(first_name="Eve", account_id=duplicate.id)
    lawyer = await admin.contact(
        first_name="Leo",
        account_id=other.id,
        account_roles=[{"account_id": duplicate.id, "role": "lawyer"}],
    )
    child = await admin.account(name="Acme Sub", parent_id=duplicate.id)

    merged = (await rep.merge("accounts", survivor, duplicate.id)).account
    assert (merged.name, merged.industry, merged.website) == ("Acme", "Retail", "acme.io")
    moved = await admin.get_contact(employee.id)
    assert (moved.account_id, moved.version) == (survivor.id, 2)
    roles = (await admin.get_contact(lawyer.id)).account_roles
    assert [(r.account_id, r.role) for r in roles] == [(survivor.id, "lawyer")]
    assert (await admin.get_account(child.id)).parent_id == survivor.id

    after_merge = [(s, a) for s, a, _ in (await outbox(database_url))[6:]]
    assert after_merge == [
        ("crm.customer.account.updated.v1", survivor.id),
        ("crm.customer.account.deleted.v1", duplicate.id),
        ("crm.customer.account.merged.v1", survivor.id),
        *sorted(
            [("crm.customer.contact.updated.v1", employee.id),
             ("crm.customer.contact.updated.v1", lawyer.id)],
            key=lambda event: event[1],
        ),
        ("crm.customer.account.updated.v1", child.id),
    ]  # fmt: skip
    assert (await history_fields(database_url, employee.id))[-1] == (
        "account_id",
        duplicate.id,
        survivor.id,
    )


async def test_refused_merges_change_nothing(
    admin: Customer, customer: grpc.aio.Channel, database_url: str
) -> None:
    survivor = await admin.contact(first_name="Anna")
    duplicate = await admin.contact(first_name="Ana", title="CFO")

    async def refused(caller: Customer, duplicate_id: str, **kwargs: object) -> grpc.StatusCode:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await caller.merge("contacts", survivor, duplicate_id, **kwargs)  # type: ignore[arg-type]
        return error.value.code()

    rep, editor = Customer(customer, REP), Customer(customer, EDITOR)
    assert await refused(admin, survivor.id) == grpc.StatusCode.INVALID_ARGUMENT
    assert await refused(admin, duplicate.id, title="both") == grpc.StatusCode.INVALID_ARGUMENT
    assert await refused(admin, str(uuid.uuid4())) == grpc.StatusCode.NOT_FOUND
    assert await refused(rep, duplicate.id) == grpc.StatusCode.NOT_FOUND  # neither is the rep's
    assert await refused(editor, duplicate.id) == grpc.StatusCode.PERMISSION_DENIED  # no DELETE
    assert await refused(admin, duplicate.id, version=7) == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as bad_entity:
        await admin.merge("leads", survivor, duplicate.id)
    assert bad_entity.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    assert (await admin.get_contact(survivor.id)).version == 1
    assert (await admin.get_contact(duplicate.id)).version == 1
    assert [subject for subject, _, _ in await outbox(database_url)] == [
        "crm.customer.contact.created.v1"
    ] * 2

    await admin.merge("contacts", survivor, duplicate.id)
    current = await admin.get_contact(survivor.id)
    assert await refused(admin, duplicate.id, version=current.version) == (
        grpc.StatusCode.NOT_FOUND  # merged away already
    )


async def test_a_concurrent_edit_of_the_duplicate_is_merged_not_lost(
    admin: Customer, database_url: str
) -> None:
    survivor = await admin.contact(first_name="Anna")
    duplicate = await admin.contact(first_name="Ana")
    engine = create_async_engine(database_url)
    c = tables.contacts.c
    try:
        async with engine.begin() as editing:  # another writer holds the duplicate's row
            await editing.execute(
                tables.contacts.update()
                .where(c.id == uuid.UUID(duplicate.id))
                .values(title="CEO", version=c.version + 1)
            )
            merging = asyncio.create_task(admin.merge("contacts", survivor, duplicate.id))
            await asyncio.sleep(0.5)
            assert not merging.done()  # waits for the edit's transaction
        merged = (await merging).contact
    finally:
        await engine.dispose()
    assert (merged.title, merged.version) == ("CEO", 2)


async def test_an_account_is_never_its_own_ancestor(admin: Customer) -> None:
    top = await admin.account(name="Top")
    middle = await admin.account(name="Middle", parent_id=top.id)
    bottom = await admin.account(name="Bottom", parent_id=middle.id)

    for account, parent in ((top, bottom), (middle, bottom), (top, middle)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.update_account(account, parent_id=parent.id)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "parent_id" in (refused.value.details() or "")
    # Merged into its grandchild, Top's child Middle would hang under Bottom, its own child.
    with pytest.raises(grpc.aio.AioRpcError) as merge_refused:
        await admin.merge("accounts", bottom, top.id)
    assert merge_refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (await admin.get_account(middle.id)).parent_id == top.id
    assert (await admin.get_account(top.id)).version == 1

    side = await admin.account(name="Side")
    moved = await admin.update_account(bottom, parent_id=side.id)  # a legal move still is
    assert moved.parent_id == side.id


async def test_two_accounts_put_under_each_other_at_once_are_not_both(admin: Customer) -> None:
    for _ in range(3):
        one, two = await admin.account(name="One"), await admin.account(name="Two")
        outcomes = await asyncio.gather(
            admin.update_account(one, parent_id=two.id),
            admin.update_account(two, parent_id=one.id),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert [e.code() for e in refused] == [grpc.StatusCode.INVALID_ARGUMENT]


async def test_an_account_deleted_lets_go_of_its_contacts_and_children(
    admin: Customer, database_url: str
) -> None:
    top = await admin.account(name="Top")
    gone = await admin.account(name="Gone", parent_id=top.id)
    child = await admin.account(name="Child", parent_id=gone.id)
    other = await admin.account(name="Other")
    employee = await admin.contact(first_name="Eve", account_id=gone.id)
    adviser = await admin.contact(
        first_name="Ada",
        account_id=other.id,
        account_roles=[{"account_id": gone.id, "role": "lawyer"}],
    )

    await admin.delete_account(gone)

    moved = await admin.get_contact(employee.id)
    assert (moved.account_id, moved.version) == ("", 2)
    advising = await admin.get_contact(adviser.id)
    assert (advising.account_id, list(advising.account_roles)) == (other.id, [])
    assert (await admin.get_account(child.id)).parent_id == top.id
    after = [(subject, aggregate) for subject, aggregate, _ in (await outbox(database_url))[6:]]
    assert after == [
        ("crm.customer.account.deleted.v1", gone.id),
        *sorted(
            [("crm.customer.contact.updated.v1", employee.id),
             ("crm.customer.contact.updated.v1", adviser.id)],
            key=lambda event: event[1],
        ),
        ("crm.customer.account.updated.v1", child.id),
    ]  # fmt: skip


async def test_a_merge_and_a_parent_change_at_once_leave_no_cycle(admin: Customer) -> None:
    for _ in range(4):
        duplicate = await admin.account(name="Dup")
        child = await admin.account(name="Child", parent_id=duplicate.id)
        survivor = await admin.account(name="Survivor")
        # The merge moves Child under Survivor; the change puts Survivor under Child.
        outcomes = await asyncio.gather(
            admin.merge("accounts", survivor, duplicate.id),
            admin.update_account(survivor, parent_id=child.id),
            return_exceptions=True,
        )
        assert any(isinstance(o, grpc.aio.AioRpcError) for o in outcomes), outcomes
        moved_child = await admin.get_account(child.id)
        if moved_child.parent_id == survivor.id:
            assert (await admin.get_account(survivor.id)).parent_id != child.id


async def test_nothing_is_left_pointing_at_an_account_deleted_while_it_was_named(
    admin: Customer,
) -> None:
    for _ in range(4):
        doomed = await admin.account(name="Doomed")
        contact = await admin.contact(first_name="Cid")
        child = await admin.account(name="Kid")
        await asyncio.gather(
            admin.delete_account(doomed),
            admin.update_contact(contact, account_id=doomed.id),
            admin.update_account(child, parent_id=doomed.id),
            return_exceptions=True,
        )
        assert (await admin.get_contact(contact.id)).account_id != doomed.id
        assert (await admin.get_account(child.id)).parent_id != doomed.id
