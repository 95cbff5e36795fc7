"""The loyalty ledger over real gRPC and PostgreSQL: earn, redeem, expire, refusals that
write nothing, concurrent redeems, retries, visibility, the append-only table, events."""

import asyncio
import datetime as dt
import uuid
from typing import Any

import grpc
import pytest
import sqlalchemy.exc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from crm.customer.events.v1 import events_pb2 as events
from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm.customer.v1 import loyalty_pb2 as lpb
from crm.customer.v1 import loyalty_pb2_grpc as lpb_grpc
from crm_customer.bootstrap import units
from crm_customer.repository import tables
from crm_customer.usecases.loyalty import SYSTEM_ACTOR
from crm_customer.usecases.loyalty_sweep import ExpirySweeper
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.testing.services import call_metadata, principal

from .merge_support import Customer

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])


async def new_contact(channel: grpc.aio.Channel, who: Principal = ADMIN) -> str:
    contacts = pb_grpc.ContactServiceStub(channel)
    request = pb.CreateContactRequest(contact=pb.Contact(first_name="Lin"))
    return str((await contacts.CreateContact(request, metadata=call_metadata(who))).contact.id)


def add(
    ledger: lpb_grpc.LoyaltyServiceStub,
    record_id: str,
    kind: str,
    points: int,
    who: Principal = ADMIN,
    **more: Any,
) -> Any:
    request = lpb.AddLoyaltyEntryRequest(
        record_type="contact", record_id=record_id, kind=kind, points=points, reason="test", **more
    )
    return ledger.AddLoyaltyEntry(request, metadata=call_metadata(who))


async def balance(ledger: lpb_grpc.LoyaltyServiceStub, record_id: str) -> int:
    request = lpb.GetLoyaltyBalanceRequest(record_type="contact", record_id=record_id)
    return int((await ledger.GetLoyaltyBalance(request, metadata=call_metadata(ADMIN))).balance)


async def listed(ledger: lpb_grpc.LoyaltyServiceStub, record_id: str) -> list[tuple[str, int, int]]:
    request = lpb.ListLoyaltyEntriesRequest(record_type="contact", record_id=record_id)
    reply = await ledger.ListLoyaltyEntries(request, metadata=call_metadata(ADMIN))
    return [(e.kind, e.points, e.balance_after) for e in reply.entries]


def from_now(delta: dt.timedelta) -> Timestamp:
    at = Timestamp()
    at.FromDatetime(dt.datetime.now(dt.UTC) + delta)
    return at


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


async def outbox(database_url: str) -> list[tuple[str, bytes]]:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        query = (
            select(tables.outbox.c.subject, tables.outbox.c.payload)
            .where(tables.outbox.c.subject.like("crm.customer.loyalty.%"))
            .order_by(tables.outbox.c.seq)
        )
        rows = [(row.subject, row.payload) for row in await conn.execute(query)]
    await engine.dispose()
    return rows


async def test_earn_redeem_and_the_events_of_each_entry(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    contact_id = await new_contact(customer)
    earned = await add(ledger, contact_id, "earn", 100, reference="order-1")
    assert (earned.entry.kind, earned.entry.points, earned.balance, earned.created) == (
        "earn",
        100,
        100,
        True,
    )
    assert earned.entry.actor_id == str(ADMIN.subject_id)
    redeemed = await add(ledger, contact_id, "redeem", 30)
    assert (redeemed.entry.balance_after, redeemed.balance) == (70, 70)
    assert await balance(ledger, contact_id) == 70
    assert await listed(ledger, contact_id) == [("redeem", 30, 70), ("earn", 100, 100)]

    published = await outbox(database_url)
    assert [subject for subject, _ in published] == [
        "crm.customer.loyalty.earned.v1",
        "crm.customer.loyalty.redeemed.v1",
    ]
    event = events.LoyaltyPointsEarned.FromString(published[0][1]).entry
    assert (event.id, event.record_type, event.record_id) == (
        earned.entry.id,
        "contact",
        contact_id,
    )
    assert (event.points, event.balance_after, event.reference) == (100, 100, "order-1")


async def test_an_over_redeem_is_refused_and_writes_nothing(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    contact_id = await new_contact(customer)
    await add(ledger, contact_id, "earn", 50)
    error = await refused(add(ledger, contact_id, "redeem", 51))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "balance is 50, cannot redeem 51"
    assert await listed(ledger, contact_id) == [("earn", 50, 50)]
    assert len(await outbox(database_url)) == 1


async def test_of_two_concurrent_redeems_only_one_passes(customer: grpc.aio.Channel) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    contact_id = await new_contact(customer)
    await add(ledger, contact_id, "earn", 100)
    results = await asyncio.gather(
        add(ledger, contact_id, "redeem", 60),
        add(ledger, contact_id, "redeem", 60),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    passed = [r for r in results if not isinstance(r, BaseException)]
    assert [p.balance for p in passed] == [40]
    assert [(f.code(), f.details()) for f in failures] == [
        (grpc.StatusCode.FAILED_PRECONDITION, "balance is 40, cannot redeem 60")
    ]
    assert await listed(ledger, contact_id) == [("redeem", 60, 40), ("earn", 100, 100)]


async def test_a_retried_entry_with_the_same_reference_counts_once(
    customer: grpc.aio.Channel,
) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    contact_id = await new_contact(customer)
    first = await add(ledger, contact_id, "earn", 40, reference="order-7")
    again = await add(ledger, contact_id, "earn", 40, reference="order-7")
    assert (again.entry, again.balance, again.created) == (first.entry, 40, False)
    other = await refused(add(ledger, contact_id, "earn", 400, reference="order-7"))
    assert other.code() is grpc.StatusCode.ALREADY_EXISTS  # not the first one's answer
    assert "for 40 points" in (other.details() or "")
    # The same reference on a redeem is another entry: unique per record and kind.
    redeemed = await add(ledger, contact_id, "redeem", 10, reference="order-7")
    assert (redeemed.balance, redeemed.created) == (30, True)
    assert await listed(ledger, contact_id) == [("redeem", 10, 30), ("earn", 40, 40)]


async def test_unspent_points_expire_when_their_time_has_come(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    contact_id = await new_contact(customer)
    soon = from_now(dt.timedelta(seconds=1))
    earned = await add(ledger, contact_id, "earn", 80, expires_at=soon)
    await add(ledger, contact_id, "earn", 5)
    await add(ledger, contact_id, "redeem", 30)  # out of the oldest earn: 50 of it left
    request = lpb.GetLoyaltyBalanceRequest(record_type="contact", record_id=contact_id)
    before = await ledger.GetLoyaltyBalance(request, metadata=call_metadata(ADMIN))
    assert [(e.entry_id, e.points) for e in before.expiring] == [(earned.entry.id, 50)]
    await asyncio.sleep(1.2)

    assert await balance(ledger, contact_id) == 5
    assert (await listed(ledger, contact_id))[0] == ("expire", 50, 5)
    assert await balance(ledger, contact_id) == 5  # expired once only
    subjects = [subject for subject, _ in await outbox(database_url)]
    assert subjects.count("crm.customer.loyalty.expired.v1") == 1
    error = await refused(add(ledger, contact_id, "redeem", 6))
    assert error.details() == "balance is 5, cannot redeem 6"


async def test_the_sweep_expires_points_on_time_with_nobody_using_the_ledger(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    idle, other = await new_contact(customer), await new_contact(customer)
    soon = from_now(dt.timedelta(seconds=1))
    await add(ledger, idle, "earn", 80, expires_at=soon)
    await add(ledger, idle, "earn", 5)
    await add(ledger, other, "earn", 7)  # nothing of it expires
    engine = create_async_engine(database_url)
    sweeper = ExpirySweeper(
        units(engine),
        interval=0.1,
        lookback=dt.timedelta(days=1),
    )
    sweeping = asyncio.create_task(sweeper.run())
    try:
        await asyncio.sleep(0.5)
        assert await _expiries(engine) == []  # not due yet
        for _ in range(50):
            await asyncio.sleep(0.1)
            if expired := await _expiries(engine):
                break
        await asyncio.sleep(0.3)  # later rounds find nothing more to do
        assert expired == await _expiries(engine) == [(idle, 80, 5, str(SYSTEM_ACTOR))]
    finally:
        sweeper.stop()
        await asyncio.wait_for(sweeping, 5)
        await engine.dispose()
    subjects = [subject for subject, _ in await outbox(database_url)]
    assert subjects.count("crm.customer.loyalty.expired.v1") == 1
    assert await balance(ledger, idle) == 5
    assert await balance(ledger, other) == 7


async def _expiries(engine: AsyncEngine) -> list[tuple[str, int, int, str]]:
    """Read straight from the table: a read through the service would expire lazily."""
    entries = tables.loyalty_entries.c
    query = select(entries.record_id, entries.points, entries.balance_after, entries.actor_id)
    async with engine.connect() as conn:
        rows = await conn.execute(query.where(entries.kind == "expire"))
    return [(str(r.record_id), r.points, r.balance_after, str(r.actor_id)) for r in rows]


async def test_bad_entries_are_invalid_arguments(customer: grpc.aio.Channel) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    contact_id = await new_contact(customer)
    error = await refused(add(ledger, contact_id, "expire", 0))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "kind: must be earn or redeem (the service writes expiries itself); "
        "points: must be between 1 and 1000000000"
    )
    request = lpb.AddLoyaltyEntryRequest(record_type="lead", record_id=contact_id)
    error = await refused(ledger.AddLoyaltyEntry(request, metadata=call_metadata(ADMIN)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await listed(ledger, contact_id) == []


async def test_invisible_records_are_not_found_and_writing_needs_edit_reach(
    customer: grpc.aio.Channel,
) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    alice = principal(objects=["contact"], scope=Scope.OWN)
    bob = principal(objects=["contact"], scope=Scope.OWN)
    alices = await new_contact(customer, alice)
    await add(ledger, alices, "earn", 10, who=alice)
    request = lpb.GetLoyaltyBalanceRequest(record_type="contact", record_id=alices)
    for call in (
        ledger.GetLoyaltyBalance(request, metadata=call_metadata(bob)),
        add(ledger, alices, "earn", 10, who=bob),
        add(ledger, "not-an-id", "earn", 10),
    ):
        assert (await refused(call)).code() == grpc.StatusCode.NOT_FOUND
    reader = principal(objects=["contact"], actions=[Action.READ])
    error = await refused(add(ledger, alices, "earn", 10, who=reader))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    reply = await ledger.GetLoyaltyBalance(request, metadata=call_metadata(reader))
    assert reply.balance == 10


async def test_the_table_refuses_updates_and_deletes(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    contact_id = await new_contact(customer)
    await add(ledger, contact_id, "earn", 10)
    engine = create_async_engine(database_url)
    try:
        for statement in (
            "UPDATE loyalty_entries SET points = 1000",
            "DELETE FROM loyalty_entries",
            "TRUNCATE loyalty_entries",
        ):
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement))
    finally:
        await engine.dispose()
    assert await listed(ledger, contact_id) == [("earn", 10, 10)]


async def test_pages_hold_every_entry_once_newest_first(customer: grpc.aio.Channel) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    contact_id = await new_contact(customer)
    for points in range(1, 6):
        await add(ledger, contact_id, "earn", points)
    seen: list[int] = []
    token = ""
    while True:
        request = lpb.ListLoyaltyEntriesRequest(
            record_type="contact", record_id=contact_id, page_size=2, page_token=token
        )
        page = await ledger.ListLoyaltyEntries(request, metadata=call_metadata(ADMIN))
        seen += [e.points for e in page.entries]
        token = page.next_page_token
        if not token:
            break
    assert seen == [5, 4, 3, 2, 1]
    bad = lpb.ListLoyaltyEntriesRequest(
        record_type="contact", record_id=contact_id, page_token="not-a-cursor"
    )
    error = await refused(ledger.ListLoyaltyEntries(bad, metadata=call_metadata(ADMIN)))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token: is not a valid cursor",
    )


async def test_a_merge_moves_the_duplicates_unspent_points_with_their_expiry(
    customer: grpc.aio.Channel, database_url: str
) -> None:
    ledger = lpb_grpc.LoyaltyServiceStub(customer)
    survivor, duplicate = await new_contact(customer), await new_contact(customer)
    later = from_now(dt.timedelta(days=30))
    await add(ledger, duplicate, "earn", 100, expires_at=later)
    await add(ledger, duplicate, "earn", 30)
    await add(ledger, duplicate, "redeem", 20)  # out of the oldest: 80 of the 100 are left
    await add(ledger, survivor, "earn", 5)
    admin = Customer(customer, ADMIN)
    await admin.merge("contacts", await admin.get_contact(survivor), duplicate)

    assert await balance(ledger, survivor) == 115
    request = lpb.ListLoyaltyEntriesRequest(record_type="contact", record_id=survivor)
    entries = (await ledger.ListLoyaltyEntries(request, metadata=call_metadata(ADMIN))).entries
    moved = [(e.kind, e.points, e.expires_at.seconds, e.balance_after) for e in entries[:2]]
    assert moved == [("earn", 30, 0, 115), ("earn", 80, later.seconds, 85)]  # newest first
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        entry = tables.loyalty_entries.c
        last = await conn.execute(
            select(entry.kind, entry.points, entry.balance_after)
            .where(entry.record_id == uuid.UUID(duplicate))
            .order_by(entry.id.desc())
            .limit(1)
        )
    await engine.dispose()
    assert last.one() == ("redeem", 110, 0)
    subjects = [subject for subject, _ in await outbox(database_url)]
    assert subjects[-3:] == ["crm.customer.loyalty.earned.v1"] * 2 + [
        "crm.customer.loyalty.redeemed.v1"
    ]
