"""`/api/v1/roles`: the built-in roles (read-only) and custom roles, by name."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from crm_gateway.api import admin_schemas as schemas
from crm_gateway.api.deps import CurrentCaller, GatewayServices
from crm_gateway.api.routes import common
from crm_gateway.api.routes.admin_common import decode_cursor, next_cursor, timestamp
from crm_gateway.api.routes.common import Cursor, IfMatch, IfNoneMatch, Limit, problems
from crm_gateway.audit.changes import AuditChange, note_change
from crm_gateway.identity.domain import Role

PATH = "/api/v1/roles"

router = APIRouter(prefix=PATH, tags=["roles"], responses=problems(401, 403, 429, 503))

RoleName = Annotated[str, Path(max_length=64, description="The role's name.")]


def role_json(role: Role) -> dict[str, Any]:
    return {
        "name": role.name,
        "built_in": role.built_in,
        "version": role.version,
        "permissions": role.permissions,
        "created_at": timestamp(role.created_at),
        "updated_at": timestamp(role.updated_at),
    }


@router.post(
    "",
    status_code=201,
    response_model=schemas.Role,
    responses=problems(409, 422),
    summary="Create a custom role",
)
async def create_role(
    body: schemas.RoleCreate, request: Request, caller: CurrentCaller, services: GatewayServices
) -> Response:
    role = await services.roles.create(
        caller.principal, name=body.name, permissions=body.permissions
    )
    after = role_json(role)
    note_change(request, AuditChange("role.create", "role", role.name, after=after))
    return common.record_response(after, role.version, 201, location=f"{PATH}/{role.name}")


@router.get(
    "",
    response_model=schemas.RolePage,
    responses=problems(422),
    summary="List built-in and custom roles, by name",
)
async def list_roles(
    caller: CurrentCaller, services: GatewayServices, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    found = await services.roles.page(
        caller.principal, after=decode_cursor(cursor), limit=limit + 1
    )
    keys = [role.name for role in found]
    return common.json_response(
        {"items": [role_json(r) for r in found[:limit]], "next_cursor": next_cursor(keys, limit)}
    )


@router.get(
    "/{name}",
    response_model=schemas.Role,
    responses={304: {"description": "If-None-Match names the current version."}, **problems(404)},
    summary="Get a role",
)
async def get_role(
    name: RoleName,
    caller: CurrentCaller,
    services: GatewayServices,
    if_none_match: IfNoneMatch = None,
) -> Response:
    role = await services.roles.get(caller.principal, name)
    return common.read_response(if_none_match, role.version, lambda: role_json(role))


@router.patch(
    "/{name}",
    response_model=schemas.Role,
    responses=problems(404, 409, 412, 422, 428),
    summary="Replace a custom role's permissions",
)
async def update_role(
    name: RoleName,
    body: schemas.RolePatch,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    version = common.expected_version(if_match)
    before, after = await services.roles.update(
        caller.principal, name, expected_version=version, permissions=body.permissions
    )
    note_change(
        request, AuditChange("role.update", "role", name, role_json(before), role_json(after))
    )
    return common.record_response(role_json(after), after.version)


@router.delete(
    "/{name}",
    status_code=204,
    responses=problems(404, 409, 412, 428),
    summary="Delete a custom role no user holds",
)
async def delete_role(
    name: RoleName,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    version = common.expected_version(if_match)
    before = await services.roles.delete(caller.principal, name, expected_version=version)
    note_change(request, AuditChange("role.delete", "role", name, before=role_json(before)))
    return Response(status_code=204)
