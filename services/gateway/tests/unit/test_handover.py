"""Whom a record may be handed to: an active user and a team that exist, within the reach
of the caller's transfer permission; a new owner brings their team along."""

import uuid

import pytest

from crm_gateway.identity.domain import User
from crm_gateway.identity.handover import handover
from crm_platform.auth.principal import Action, Scope
from crm_platform.errors import InvalidArgument, PermissionDenied
from crm_platform.testing.services import principal

NORTH, SOUTH = uuid.uuid4(), uuid.uuid4()


def user(team_id: uuid.UUID | None, *, active: bool = True) -> User:
    return User(uuid.uuid4(), "u@example.com", "U", ("sales_rep",), team_id, active, 1, None)


ANNA, BOB, GONE = user(NORTH), user(SOUTH), user(NORTH, active=False)
USERS = {u.id: u for u in (ANNA, BOB, GONE)}
ADMIN = principal(objects=["contact"])
MANAGER = principal(objects=["contact"], scope=Scope.TEAM, team_id=NORTH, team_ids=[NORTH])
REP = principal(objects=["contact"], actions=[Action.READ, Action.EDIT], scope=Scope.OWN)


async def _user(user_id: uuid.UUID) -> User | None:
    return USERS.get(user_id)


HELD = {"owner_id": str(uuid.uuid4()), "team_id": ""}  # the record's owner and team now


async def handed(
    who: object, values: dict[str, object], current: dict[str, str] = HELD
) -> dict[str, object]:
    return await handover(_user, {NORTH, SOUTH}, who, "contact", values, current)  # type: ignore[arg-type]


async def test_a_new_owner_brings_their_team_unless_one_is_named() -> None:
    assert await handed(ADMIN, {"owner_id": str(BOB.id)}) == {
        "owner_id": str(BOB.id),
        "team_id": str(SOUTH),
    }
    named = {"owner_id": str(BOB.id), "team_id": str(NORTH), "title": "CFO"}
    assert await handed(ADMIN, named) == named
    assert await handed(ADMIN, {"title": "CFO"}) == {"title": "CFO"}


async def test_a_manager_hands_work_within_their_teams_only() -> None:
    assert (await handed(MANAGER, {"owner_id": str(ANNA.id)}))["team_id"] == str(NORTH)
    for beyond in ({"owner_id": str(BOB.id)}, {"team_id": str(SOUTH)}):
        with pytest.raises(PermissionDenied):
            await handed(MANAGER, beyond)
    with pytest.raises(PermissionDenied):  # out of every team's sight
        await handed(MANAGER, {"team_id": None}, {**HELD, "team_id": str(NORTH)})
    assert await handed(ADMIN, {"team_id": None}, {**HELD, "team_id": str(NORTH)})


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"owner_id": str(uuid.uuid4())}, "owner_id"),
        ({"owner_id": str(GONE.id)}, "owner_id"),  # deactivated
        ({"owner_id": "not-an-id"}, "owner_id"),
        ({"team_id": str(uuid.uuid4())}, "team_id"),
        ({"owner_id": str(ANNA.id), "team_id": str(uuid.uuid4())}, "team_id"),
    ],
)
async def test_nobody_and_no_team_are_refused_by_name(
    values: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await handed(ADMIN, values)
    assert [v.field for v in refused.value.violations] == [field]


async def test_what_the_record_holds_already_is_not_handed_over_again() -> None:
    # A client sending back the record it read: its owner since deactivated, its team
    # beyond this manager's reach.
    held = {"owner_id": str(GONE.id), "team_id": str(SOUTH)}
    assert await handed(MANAGER, dict(held), held) == held
    spelt_otherwise = {"owner_id": str(GONE.id).upper(), "team_id": SOUTH.hex}
    assert await handed(MANAGER, spelt_otherwise, held) == spelt_otherwise
    with pytest.raises(PermissionDenied):  # a change is checked, though
        await handed(MANAGER, {**held, "owner_id": str(BOB.id)}, held)


async def test_without_the_transfer_permission_the_service_decides() -> None:
    asked = {"owner_id": str(uuid.uuid4())}
    assert await handed(REP, asked) == asked  # refused downstream: needs the permission
