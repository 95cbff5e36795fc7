"""To whom a record may be handed (its owner changed, DESIGN §7). The customer service
checks that the caller may transfer the record; only the gateway knows users and teams, so
it checks the receiving end: an active user and an existing team, both within the reach of
the caller's transfer permission (a manager hands work to the teams below them). A new
owner brings their team along unless the change names one: the record stays in sight of
the team that now works it."""

import uuid
from collections.abc import Awaitable, Callable, Container, Mapping
from typing import Any

from crm_gateway.identity.access import reaches_team, reaches_user
from crm_gateway.identity.domain import User
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import FieldViolation, InvalidArgument, PermissionDenied
from crm_platform.ids import parse_uuid


async def handover(
    user: Callable[[uuid.UUID], Awaitable[User | None]],
    teams: Container[uuid.UUID],
    principal: Principal,
    obj: str,
    values: Mapping[str, Any],
    current: Mapping[str, str],
) -> dict[str, Any]:
    """`values`, a change of a record of `obj` whose owner and team are `current`, with
    its new owner and team checked, and the new owner's team added when the change names
    no team. What the record holds already is not checked again: a client sending back the
    record it read does not hand it over. InvalidArgument for a user or team that does not
    exist (or an inactive user), PermissionDenied for one beyond the caller's transfer
    reach. Without the transfer permission nothing is checked here: the service refuses
    the change as it stands."""
    scope = principal.scope(obj, Action.TRANSFER)
    found = dict(values)
    changed = {
        name
        for name in ("owner_id", "team_id")
        if name in found and _id(found[name]) != _id(current.get(name))
    }
    if scope is None or not changed:
        return found
    if "owner_id" in changed:
        owner_id = parse_uuid(str(found["owner_id"] or ""))
        owner = await user(owner_id) if owner_id is not None else None
        if owner is None or not owner.active:
            raise InvalidArgument([FieldViolation("owner_id", "is no active user")])
        if not reaches_user(principal, scope, owner):
            raise PermissionDenied(f"may hand this {obj} only to users of your teams")
        found.setdefault("team_id", str(owner.team_id) if owner.team_id else None)
    if "team_id" in found and _id(found["team_id"]) != _id(current.get("team_id")):
        team_id = parse_uuid(str(found["team_id"])) if found["team_id"] else None
        if found["team_id"] and (team_id is None or team_id not in teams):
            raise InvalidArgument([FieldViolation("team_id", "is no team")])
        # No team is beyond a team scope too: the record would leave the teams' sight.
        if not reaches_team(principal, scope, team_id):
            raise PermissionDenied(f"may hand this {obj} only to your teams")
    return found


def _id(value: object) -> object:
    """An id however it is spelt (upper-case, without hyphens), else the text as given."""
    return parse_uuid(str(value)) or value or None
