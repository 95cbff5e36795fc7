"""Transfer, delete and partner rules of the customer service, over real gRPC and PostgreSQL."""

import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import customer_pb2_grpc as pb_grpc
from crm_customer.repository import tables
from crm_platform.auth.principal import Action, Principal, Scope
from crm_platform.testing.services import call_metadata, principal

pytestmark = pytest.mark.integration

ADMIN = principal(objects=["account", "contact"])
TEAM = uuid.uuid4()
REP = principal(
    objects=["account"], scope=Scope.OWN, actions=[Action.READ, Action.CREATE, Action.EDIT],
    team_id=TEAM, team_ids=[TEAM],
)  # fmt: skip
MANAGER = principal(objects=["account"], scope=Scope.TEAM, team_id=TEAM, team_ids=[TEAM])
PARTNER_A, PARTNER_B = uuid.uuid4(), uuid.uuid4()
PARTNER = principal(
    objects=["account"], scope=Scope.PARTNER, actions=[Action.READ, Action.EDIT],
    partner_id=PARTNER_A,
)  # fmt: skip


@pytest.fixture
def accounts(customer: grpc.aio.Channel) -> pb_grpc.AccountServiceStub:
    return pb_grpc.AccountServiceStub(customer)


async def create(accounts: pb_grpc.AccountServiceStub, who: Principal, **fields: str) -> pb.Account:
    request = pb.CreateAccountRequest(account=pb.Account(**fields))
    reply = await accounts.CreateAccount(request, metadata=call_metadata(who))
    return reply.account


async def update(
    accounts: pb_grpc.AccountServiceStub, who: Principal, account: pb.Account, **fields: str
) -> pb.Account:
    request = pb.UpdateAccountRequest(
        account=pb.Account(id=account.id, **fields),
        update_mask=FieldMask(paths=list(fields)),
        expected_version=account.version,
    )
    return (await accounts.UpdateAccount(request, metadata=call_metadata(who))).account


async def get(accounts: pb_grpc.AccountServiceStub, who: Principal, account_id: str) -> pb.Account:
    request = pb.GetAccountRequest(id=account_id)
    return (await accounts.GetAccount(request, metadata=call_metadata(who))).account


def violated_fields(error: grpc.aio.AioRpcError) -> list[str]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    status = rpc_status.from_call(error)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad_request)
    return [v.field for v in bad_request.field_violations]


async def test_changing_the_owner_needs_the_transfer_permission(
    accounts: pb_grpc.AccountServiceStub, database_url: str
) -> None:
    account = await create(accounts, REP, name="Rep's")
    successor = str(uuid.uuid4())
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await update(accounts, REP, account, owner_id=successor)
    assert violated_fields(refused.value) == ["owner_id"]
    assert (await get(accounts, REP, account.id)).version == 1

    moved = await update(accounts, MANAGER, account, owner_id=successor)
    assert (moved.owner_id, moved.version) == (successor, 2)
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await get(accounts, REP, account.id)  # no longer the rep's to see
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND

    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        history = (
            await conn.execute(
                select(tables.field_history.c.field, tables.field_history.c.new_value).where(
                    tables.field_history.c.record_id == uuid.UUID(account.id)
                )
            )
        ).all()
    await engine.dispose()
    assert ("owner_id", successor) in [(field, str(new)) for field, new in history]


async def test_a_transfer_reaches_only_records_within_the_transfer_scope(
    accounts: pb_grpc.AccountServiceStub,
) -> None:
    elsewhere = await create(accounts, ADMIN, name="Another team's")
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await update(accounts, MANAGER, elsewhere, owner_id=str(MANAGER.subject_id))
    assert hidden.value.code() == grpc.StatusCode.NOT_FOUND  # outside the team: not visible


async def test_delete_needs_permission_and_the_current_version(
    accounts: pb_grpc.AccountServiceStub, database_url: str
) -> None:
    account = await create(accounts, REP, name="Short-lived")
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await accounts.DeleteAccount(
            pb.DeleteAccountRequest(id=account.id, expected_version=1),
            metadata=call_metadata(REP),
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as stale:
        await accounts.DeleteAccount(
            pb.DeleteAccountRequest(id=account.id, expected_version=7),
            metadata=call_metadata(MANAGER),
        )
    assert stale.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    await accounts.DeleteAccount(
        pb.DeleteAccountRequest(id=account.id, expected_version=1),
        metadata=call_metadata(MANAGER),
    )
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await get(accounts, ADMIN, account.id)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await accounts.ListAccounts(pb.ListAccountsRequest(), metadata=call_metadata(ADMIN))
    assert account.id not in [a.id for a in listed.accounts]

    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        subjects = (
            (
                await conn.execute(
                    select(tables.outbox.c.subject).where(
                        tables.outbox.c.aggregate_id == account.id
                    )
                )
            )
            .scalars()
            .all()
        )
    await engine.dispose()
    assert "crm.customer.account.deleted.v1" in subjects


async def test_partners_see_only_their_records_and_never_internal_fields(
    accounts: pb_grpc.AccountServiceStub,
) -> None:
    ours = await create(
        accounts, ADMIN, name="Linked", partner_id=str(PARTNER_A), internal_notes="margin 40%"
    )
    await create(accounts, ADMIN, name="Theirs", partner_id=str(PARTNER_B))
    assert (await get(accounts, ADMIN, ours.id)).internal_notes == "margin 40%"

    seen = await get(accounts, PARTNER, ours.id)
    assert seen.name == "Linked"
    assert not seen.HasField("internal_notes")
    listed = await accounts.ListAccounts(pb.ListAccountsRequest(), metadata=call_metadata(PARTNER))
    assert [a.name for a in listed.accounts] == ["Linked"]
    assert not any(a.HasField("internal_notes") for a in listed.accounts)


async def test_partners_cannot_write_internal_fields_or_relink_records(
    accounts: pb_grpc.AccountServiceStub,
) -> None:
    ours = await create(accounts, ADMIN, name="Linked", partner_id=str(PARTNER_A))
    for fields in ({"internal_notes": "x"}, {"partner_id": str(PARTNER_B)}):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await update(accounts, PARTNER, ours, **fields)
        assert violated_fields(refused.value) == list(fields)
    renamed = await update(accounts, PARTNER, ours, name="Renamed by partner")
    assert (renamed.name, renamed.version) == ("Renamed by partner", 2)
    assert (await get(accounts, ADMIN, ours.id)).partner_id == str(PARTNER_A)
