"""`POST /api/v1/auth/token`: the OAuth2 password grant (RFC 6749 §4.3) for portal users and
the refresh token grant (§6); `POST /api/v1/auth/logout` ends the caller's session."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from crm_gateway.api import schemas, session_schemas
from crm_gateway.api.deps import CurrentCaller, GatewayServices
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import problems
from crm_gateway.audit.changes import AuditChange, note_actor, note_change
from crm_gateway.errors import LoginThrottled
from crm_gateway.identity.domain import InvalidCredentials, normalize_email
from crm_gateway.identity.logins import Grant
from crm_platform.errors import FieldViolation, InvalidArgument, PermissionDenied

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

# RFC 6749 §5.1: token responses must not be cached.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/token",
    response_model=session_schemas.Token,
    responses=problems(401, 422, 429, 503),
    summary="Log in with email and password, or exchange a refresh token",
)
async def issue_token(
    request: Request,
    services: GatewayServices,
    grant_type: Annotated[str | None, Form(pattern="^(password|refresh_token)$")] = None,
    username: Annotated[
        str | None,
        Form(min_length=1, max_length=254, pattern=schemas.NO_NUL, description="The email."),
    ] = None,
    password: Annotated[str | None, Form(min_length=1, max_length=1024)] = None,
    refresh_token: Annotated[
        str | None, Form(min_length=1, max_length=256, description="For the refresh grant.")
    ] = None,
) -> Response:
    if grant_type == "refresh_token":
        (token,) = _present(refresh_token=refresh_token)
        grant = await services.logins.with_refresh_token(token)
        note_actor(request, grant.user.id, "user")
    else:
        email, secret = _present(username=username, password=password)
        grant = await _log_in(request, services, email, secret)
    return common.json_response(_token_json(grant), headers=_NO_STORE)


@router.post(
    "/logout",
    status_code=204,
    responses=problems(401, 403, 503),
    summary="End this session: its access and refresh tokens stop working",
)
async def logout(request: Request, caller: CurrentCaller, services: GatewayServices) -> Response:
    if caller.session_id is None:
        raise PermissionDenied(
            "only a password login has a session here; revoke an API key, or log out at the "
            "SSO issuer"
        )
    await services.logins.logout(caller.session_id)
    note_change(request, AuditChange("auth.logout", "user", str(caller.user_id)))
    return Response(status_code=204)


async def _log_in(
    request: Request, services: GatewayServices, username: str, password: str
) -> Grant:
    client_ip = request.client.host if request.client else None
    try:
        grant = await services.logins.with_password(username, password, client_ip)
    except (InvalidCredentials, LoginThrottled) as refused:
        reason = "throttled" if isinstance(refused, LoginThrottled) else "invalid_credentials"
        after = {"email": normalize_email(username), "reason": reason}
        note_change(request, AuditChange("auth.login_failed", "user", None, after=after))
        raise
    note_actor(request, grant.user.id, "user")
    note_change(
        request,
        AuditChange("auth.login", "user", str(grant.user.id), after={"email": grant.user.email}),
    )
    return grant


def _present(**fields: str | None) -> list[str]:
    """The values of `fields`; a 422 naming those missing, which this grant_type needs."""
    missing = [name for name, value in fields.items() if value is None]
    if missing:
        raise InvalidArgument([FieldViolation(n, "required by this grant_type") for n in missing])
    return [value for value in fields.values() if value is not None]


def _token_json(grant: Grant) -> dict[str, object]:
    return {
        "access_token": grant.access_token,
        "token_type": "bearer",
        "expires_in": grant.expires_in,
        "refresh_token": grant.refresh_token,
        "refresh_expires_in": grant.refresh_expires_in,
    }
