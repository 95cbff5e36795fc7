"""`/api/v1/users`: who may log in, with which roles, in which team. `DELETE` deactivates:
the user stays (records and the audit trail point at it) but can no longer log in, and its
sessions end."""

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from crm_gateway.api import admin_schemas as schemas
from crm_gateway.api.deps import CurrentCaller, GatewayServices, Services
from crm_gateway.api.routes import common
from crm_gateway.api.routes.admin_common import decode_id_cursor, next_cursor, path_id, timestamp
from crm_gateway.api.routes.common import Cursor, IfMatch, IfNoneMatch, Limit, problems
from crm_gateway.audit.changes import AuditChange, note_change
from crm_gateway.identity.domain import User
from crm_platform.errors import FieldViolation, InvalidArgument

PATH = "/api/v1/users"

router = APIRouter(prefix=PATH, tags=["users"], responses=problems(401, 403, 429, 503))

# A merge patch may clear these; the others always hold a value.
_NULLABLE = frozenset({"password", "team_id"})


def user_json(user: User) -> dict[str, Any]:
    """The user as the API (and the audit trail) shows it: never the password hash."""
    return {
        "id": str(user.id),
        "version": user.version,
        "email": user.email,
        "display_name": user.display_name,
        "roles": list(user.roles),
        "team_id": str(user.team_id) if user.team_id else None,
        "active": user.active,
        "has_password": user.password_hash is not None,
        "created_at": timestamp(user.created_at),
        "updated_at": timestamp(user.updated_at),
    }


@router.post(
    "",
    status_code=201,
    response_model=schemas.User,
    responses=problems(409, 422),
    summary="Create a user",
)
async def create_user(
    body: schemas.UserCreate, request: Request, caller: CurrentCaller, services: GatewayServices
) -> Response:
    user = await services.users.create(
        caller.principal,
        email=body.email,
        display_name=body.display_name,
        password=body.password,
        roles=body.roles,
        team_id=body.team_id,
        active=body.active,
    )
    after = user_json(user)
    note_change(request, AuditChange("user.create", "user", str(user.id), after=after))
    return common.record_response(after, user.version, 201, location=f"{PATH}/{user.id}")


@router.get("", response_model=schemas.UserPage, responses=problems(422), summary="List users")
async def list_users(
    caller: CurrentCaller, services: GatewayServices, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    found = await services.users.page(
        caller.principal, after=decode_id_cursor(cursor), limit=limit + 1
    )
    keys = [str(user.id) for user in found]
    return common.json_response(
        {"items": [user_json(u) for u in found[:limit]], "next_cursor": next_cursor(keys, limit)}
    )


@router.get(
    "/{user_id}",
    response_model=schemas.User,
    responses={304: {"description": "If-None-Match names the current version."}, **problems(404)},
    summary="Get a user",
)
async def get_user(
    user_id: str,
    caller: CurrentCaller,
    services: GatewayServices,
    if_none_match: IfNoneMatch = None,
) -> Response:
    user = await services.users.get(caller.principal, path_id(user_id, "user"))
    return common.read_response(if_none_match, user.version, lambda: user_json(user))


@router.patch(
    "/{user_id}",
    response_model=schemas.User,
    responses=problems(404, 409, 412, 422, 428),
    summary="Change a user (merge patch)",
)
async def update_user(
    user_id: str,
    body: schemas.UserPatch,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    version = common.expected_version(if_match)
    changes = body.model_dump(include=body.model_fields_set)
    cleared = [name for name, value in changes.items() if value is None and name not in _NULLABLE]
    if cleared:
        raise InvalidArgument([FieldViolation(name, "may not be null") for name in cleared])
    before, after = await services.users.update(
        caller.principal, path_id(user_id, "user"), expected_version=version, changes=changes
    )
    change = AuditChange("user.update", "user", user_id, user_json(before), user_json(after))
    note_change(request, change)
    if before.active and not after.active:
        await _stop_webhooks(services, after.id)
    return common.record_response(user_json(after), after.version)


@router.delete(
    "/{user_id}",
    status_code=204,
    responses=problems(404, 412, 428),
    summary="Deactivate a user (users are never erased)",
    description="Sets `active` to false and ends the user's sessions: its access tokens stop "
    "working within seconds. `PATCH` with `active: true` reactivates.",
)
async def deactivate_user(
    user_id: str,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    version = common.expected_version(if_match)
    before, after = await services.users.deactivate(
        caller.principal, path_id(user_id, "user"), expected_version=version
    )
    change = AuditChange("user.delete", "user", user_id, user_json(before), user_json(after))
    note_change(request, change)
    await _stop_webhooks(services, after.id)
    return Response(status_code=204)


async def _stop_webhooks(services: Services, user_id: uuid.UUID) -> None:
    # Its webhooks followed its visibility; a user who may see nothing must hear nothing.
    await services.webhooks.disable_owned_by(user_id, "the user who owned it was deactivated")
