"""`POST /api/v1/auth/token`: the OAuth2 password grant (RFC 6749 §4.3) for portal users."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from crm_gateway.api import schemas
from crm_gateway.api.deps import GatewayServices
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import problems
from crm_gateway.audit.changes import AuditChange, note_actor, note_change
from crm_gateway.identity.domain import InvalidCredentials, normalize_email

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=schemas.Token,
    responses=problems(401, 422, 503),
    summary="Log in with email and password",
)
async def issue_token(
    request: Request,
    username: Annotated[str, Form(min_length=1, max_length=254, description="The email.")],
    password: Annotated[str, Form(min_length=1, max_length=1024)],
    services: GatewayServices,
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> Response:
    try:
        user = await services.identity.authenticate(username, password)
    except InvalidCredentials:
        after = {"email": normalize_email(username)}
        note_change(request, AuditChange("auth.login_failed", "user", None, after=after))
        raise
    note_actor(request, user.id, "user")
    note_change(
        request, AuditChange("auth.login", "user", str(user.id), after={"email": user.email})
    )
    issued = services.tokens.issue(user)
    body = {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
    }
    # RFC 6749 §5.1: token responses must not be cached.
    return common.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
