"""`GET /api/v1/me`: the user behind the access token."""

from fastapi import APIRouter

from crm_gateway.api import schemas
from crm_gateway.api.deps import CurrentCaller, GatewayServices
from crm_gateway.api.routes.common import problems

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/me", response_model=schemas.Me, responses=problems(401, 503), summary="Who am I")
async def me(caller: CurrentCaller, services: GatewayServices) -> schemas.Me:
    user = await services.identity.me(caller.user_id)
    return schemas.Me(
        id=str(user.id),
        email=user.email,
        display_name=user.display_name,
        roles=list(user.roles),
        team_id=str(user.team_id) if user.team_id else None,
    )
