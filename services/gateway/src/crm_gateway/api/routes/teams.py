"""`/api/v1/teams`: the team tree. Managers reach their team's subtree (DESIGN §7)."""

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from crm_gateway.api import admin_schemas as schemas
from crm_gateway.api.deps import CurrentCaller, GatewayServices
from crm_gateway.api.routes import common
from crm_gateway.api.routes.admin_common import decode_id_cursor, next_cursor, path_id, timestamp
from crm_gateway.api.routes.common import Cursor, IfMatch, IfNoneMatch, Limit, problems
from crm_gateway.audit.changes import AuditChange, note_change
from crm_gateway.identity.domain import Team
from crm_platform.errors import FieldViolation, InvalidArgument

PATH = "/api/v1/teams"

router = APIRouter(prefix=PATH, tags=["teams"], responses=problems(401, 403, 429, 503))


def team_json(team: Team) -> dict[str, Any]:
    return {
        "id": str(team.id),
        "version": team.version,
        "name": team.name,
        "parent_id": str(team.parent_id) if team.parent_id else None,
        "created_at": timestamp(team.created_at),
        "updated_at": timestamp(team.updated_at),
    }


@router.post(
    "",
    status_code=201,
    response_model=schemas.Team,
    responses=problems(422),
    summary="Create a team",
)
async def create_team(
    body: schemas.TeamCreate, request: Request, caller: CurrentCaller, services: GatewayServices
) -> Response:
    team = await services.teams.create(caller.principal, name=body.name, parent_id=body.parent_id)
    after = team_json(team)
    note_change(request, AuditChange("team.create", "team", str(team.id), after=after))
    return common.record_response(after, team.version, 201, location=f"{PATH}/{team.id}")


@router.get("", response_model=schemas.TeamPage, responses=problems(422), summary="List teams")
async def list_teams(
    caller: CurrentCaller, services: GatewayServices, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    found = await services.teams.page(
        caller.principal, after=decode_id_cursor(cursor), limit=limit + 1
    )
    keys = [str(team.id) for team in found]
    return common.json_response(
        {"items": [team_json(t) for t in found[:limit]], "next_cursor": next_cursor(keys, limit)}
    )


@router.get(
    "/{team_id}",
    response_model=schemas.Team,
    responses={304: {"description": "If-None-Match names the current version."}, **problems(404)},
    summary="Get a team",
)
async def get_team(
    team_id: str,
    caller: CurrentCaller,
    services: GatewayServices,
    if_none_match: IfNoneMatch = None,
) -> Response:
    team = await services.teams.get(caller.principal, path_id(team_id, "team"))
    return common.read_response(if_none_match, team.version, lambda: team_json(team))


@router.patch(
    "/{team_id}",
    response_model=schemas.Team,
    responses=problems(404, 412, 422, 428),
    summary="Rename or move a team (merge patch)",
)
async def update_team(
    team_id: str,
    body: schemas.TeamPatch,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    version = common.expected_version(if_match)
    changes = body.model_dump(include=body.model_fields_set)
    if "name" in changes and changes["name"] is None:
        raise InvalidArgument([FieldViolation("name", "a team always has a name")])
    before, after = await services.teams.update(
        caller.principal, path_id(team_id, "team"), expected_version=version, changes=changes
    )
    change = AuditChange("team.update", "team", team_id, team_json(before), team_json(after))
    note_change(request, change)
    return common.record_response(team_json(after), after.version)


@router.delete(
    "/{team_id}",
    status_code=204,
    responses=problems(404, 409, 412, 428),
    summary="Delete a team without members or child teams",
)
async def delete_team(
    team_id: str,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    version = common.expected_version(if_match)
    before = await services.teams.delete(
        caller.principal, path_id(team_id, "team"), expected_version=version
    )
    note_change(request, AuditChange("team.delete", "team", team_id, before=team_json(before)))
    return Response(status_code=204)
