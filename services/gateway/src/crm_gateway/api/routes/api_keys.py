"""`/api/v1/api-keys`: keys for partner and ERP systems (`X-API-Key`)."""

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from crm_gateway.api.deps import CurrentCaller, GatewayServices
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, IfMatch, Limit, problems
from crm_gateway.api.schemas import NO_NUL, Strict
from crm_gateway.audit.changes import AuditChange, note_change
from crm_gateway.identity.keys import ApiKey
from crm_platform.auth.principal import Action

PATH = "/api/v1/api-keys"
OBJECT = "api_key"

router = APIRouter(prefix=PATH, tags=["api-keys"], responses=problems(401, 403, 429, 503))

RoleName = Annotated[str, Field(min_length=1, max_length=50, pattern=NO_NUL)]


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    roles: list[RoleName] = Field(min_length=1, max_length=20, examples=[["partner"]])
    partner_id: uuid.UUID | None = Field(
        default=None, description="The key then reaches only records linked to this partner."
    )
    expires_at: dt.datetime | None = Field(default=None, description="RFC 3339, in the future.")
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=10_000_000)


class ApiKeyRotate(Strict):
    overlap_seconds: int = Field(
        default=86_400, ge=0, le=604_800, description="How long the old secret keeps working."
    )


class ApiKeyOut(BaseModel):
    id: str
    version: int
    name: str
    prefix: str = Field(description="Names the key; not secret.")
    roles: list[str]
    partner_id: str | None
    expires_at: str | None
    rate_limit_per_minute: int | None
    created_by: str
    created_at: str
    updated_at: str
    previous_secret_valid_until: str | None
    revoked_at: str | None
    last_used_at: str | None = Field(description="When a request last used it, to the minute.")


class IssuedApiKey(ApiKeyOut):
    secret: str = Field(description="Shown this once; send it as `X-API-Key`.")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None


@router.post(
    "",
    status_code=201,
    response_model=IssuedApiKey,
    responses=problems(422),
    summary="Issue an API key",
)
async def issue_api_key(
    body: ApiKeyCreate, request: Request, caller: CurrentCaller, services: GatewayServices
) -> Response:
    caller.principal.require(OBJECT, Action.CREATE)
    key, secret = await services.api_keys.issue(
        name=body.name,
        roles=body.roles,
        created_by=caller.user_id,
        partner_id=body.partner_id,
        expires_at=body.expires_at,
        rate_limit_per_minute=body.rate_limit_per_minute,
    )
    note_change(request, AuditChange("api_key.create", OBJECT, str(key.id), after=key_json(key)))
    return common.record_response(
        {**key_json(key), "secret": secret}, key.version, 201, location=f"{PATH}/{key.id}"
    )


@router.get("", response_model=ApiKeyPage, responses=problems(422), summary="List API keys")
async def list_api_keys(
    caller: CurrentCaller, services: GatewayServices, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    caller.principal.require(OBJECT, Action.READ)
    keys = await services.api_keys.page(after=common.decode_cursor(cursor), limit=limit + 1)
    next_cursor = common.encode_cursor(keys[limit - 1].id) if len(keys) > limit else ""
    return common.page_response([key_json(key) for key in keys[:limit]], next_cursor)


@router.get(
    "/{key_id}", response_model=ApiKeyOut, responses=problems(404), summary="Get an API key"
)
async def get_api_key(key_id: str, caller: CurrentCaller, services: GatewayServices) -> Response:
    caller.principal.require(OBJECT, Action.READ)
    key = await services.api_keys.get(common.parse_id(key_id, "api key"))
    return common.record_response(key_json(key), key.version)


@router.post(
    "/{key_id}/rotate",
    response_model=IssuedApiKey,
    responses=problems(404, 422),
    summary="Give an API key a new secret",
)
async def rotate_api_key(
    key_id: str,
    body: ApiKeyRotate,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
) -> Response:
    caller.principal.require(OBJECT, Action.EDIT)
    key, secret = await services.api_keys.rotate(
        key_id=common.parse_id(key_id, "api key"), overlap_seconds=body.overlap_seconds
    )
    note_change(request, AuditChange("api_key.rotate", OBJECT, str(key.id), after=key_json(key)))
    return common.record_response({**key_json(key), "secret": secret}, key.version)


@router.delete(
    "/{key_id}",
    status_code=204,
    responses=problems(404, 412, 428),
    summary="Revoke an API key",
)
async def revoke_api_key(
    key_id: str,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    caller.principal.require(OBJECT, Action.DELETE)
    version = common.expected_version(if_match)
    key = await services.api_keys.revoke(
        key_id=common.parse_id(key_id, "api key"), expected_version=version
    )
    note_change(request, AuditChange("api_key.revoke", OBJECT, str(key.id), after=key_json(key)))
    # Its webhooks followed its visibility; with the key gone they must stop too.
    await services.webhooks.disable_owned_by(key.id, "the API key that owned it was revoked")
    return Response(status_code=204)


def key_json(key: ApiKey) -> dict[str, Any]:
    def moment(value: dt.datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": str(key.id),
        "version": key.version,
        "name": key.name,
        "prefix": key.prefix,
        "roles": list(key.roles),
        "partner_id": str(key.partner_id) if key.partner_id else None,
        "expires_at": moment(key.expires_at),
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "created_by": str(key.created_by),
        "created_at": moment(key.created_at),
        "updated_at": moment(key.updated_at),
        "previous_secret_valid_until": moment(key.previous_valid_until),
        "revoked_at": moment(key.revoked_at),
        "last_used_at": moment(key.last_used_at),
    }
