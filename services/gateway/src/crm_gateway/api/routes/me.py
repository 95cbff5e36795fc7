"""`GET /api/v1/me`: who the caller is (a user or an API key) and what it may do."""

from fastapi import APIRouter

from crm_gateway.api import session_schemas
from crm_gateway.api.deps import CurrentCaller, GatewayServices
from crm_gateway.api.routes.common import problems

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get(
    "/me", response_model=session_schemas.Me, responses=problems(401, 503), summary="Who am I"
)
async def me(caller: CurrentCaller, services: GatewayServices) -> session_schemas.Me:
    principal = caller.principal
    common = {
        "id": str(principal.subject_id),
        "kind": principal.kind,
        "roles": sorted(principal.roles),
        "team_id": str(principal.team_id) if principal.team_id else None,
        "partner_id": str(principal.partner_id) if principal.partner_id else None,
        "permissions": principal.grants,
    }
    if principal.kind == "api_key":
        key = await services.api_keys.get(principal.subject_id)
        return session_schemas.Me(email=None, display_name=key.name, **common)
    user = await services.identity.me(caller.user_id)
    return session_schemas.Me(email=user.email, display_name=user.display_name, **common)
