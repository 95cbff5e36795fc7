"""What the routes need, wired by crm_gateway.bootstrap and reached through FastAPI
dependencies (so tests and the OpenAPI document see the same routes as production)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.datastructures import Headers
from starlette.types import Scope

from crm_gateway.api.edge import RATE_LIMIT_STATE
from crm_gateway.audit.repository import SqlAuditLog
from crm_gateway.audit.rules import IpNetwork
from crm_gateway.clients.customer import CustomerClient
from crm_gateway.errors import OverLimit
from crm_gateway.idempotency.repository import SqlIdempotencyStore
from crm_gateway.identity.callers import Caller, CallerCache, KeyCallers
from crm_gateway.identity.key_usecases import ApiKeys
from crm_gateway.identity.logins import Logins
from crm_gateway.identity.role_admin import RoleAdmin
from crm_gateway.identity.team_admin import TeamAdmin
from crm_gateway.identity.tokens import AccessTokens
from crm_gateway.identity.usecases import Identity
from crm_gateway.identity.user_admin import UserAdmin
from crm_gateway.ratelimit.limiter import Decision, RateLimiter
from crm_gateway.webhooks.usecases import Webhooks
from crm_platform.errors import Unauthenticated

# Name of each check -> None when it passed, else why it failed.
ReadinessCheck = Callable[[], Awaitable[dict[str, str | None]]]


class Limiter:
    """Every caller's budget: an API key's own limit, else the gateway's default."""

    def __init__(self, limiter: RateLimiter, *, default_per_minute: int) -> None:
        self._limiter = limiter
        self._default = default_per_minute

    async def spend(self, caller: Caller) -> Decision:
        limit = caller.rate_limit_per_minute or self._default
        return await self._limiter.spend(str(caller.user_id), limit)


@dataclass(frozen=True)
class Services:
    identity: Identity
    tokens: AccessTokens
    callers: CallerCache
    limiter: Limiter | None
    api_keys: ApiKeys
    key_callers: KeyCallers
    customer: CustomerClient
    readiness: ReadinessCheck
    logins: Logins
    teams: TeamAdmin
    users: UserAdmin
    roles: RoleAdmin
    idempotency: SqlIdempotencyStore
    audit: SqlAuditLog
    webhooks: Webhooks
    # Peers whose X-Forwarded-For names the client (CRM_GATEWAY_TRUSTED_PROXIES).
    trusted_proxies: tuple[IpNetwork, ...] = ()


def services_of(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def services_in(scope: Scope) -> Services:
    """The services, for pure ASGI middlewares (FastAPI puts the app in every scope)."""
    found: Services = scope["app"].state.services
    return found


async def resolve_caller(services: Services, headers: Headers) -> Caller:
    """The caller of a request, from its `X-API-Key` or `Authorization: Bearer` credentials;
    raises Unauthenticated. The one place that reads credentials, for routes and
    middlewares alike; when both are sent, the key wins."""
    api_key = headers.get("x-api-key")
    if api_key:
        return await services.key_callers.authenticate(api_key.strip())
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("a bearer access token or an X-API-Key is required")
    return await services.callers.resolve(token.strip())


# Dependencies are coroutines: FastAPI runs plain functions in a thread pool, which would
# cost a thread hop on every request.
async def services(request: Request) -> Services:
    return services_of(request)


# Where a request's caller (or why it has none) is kept once authorized.
_AUTHORIZED_STATE = "authorized_caller"


async def authorize(services: Services, scope: Scope) -> Caller:
    """The caller of a request, its rate-limit budget spent; raises Unauthenticated or
    OverLimit. Once per request whoever asks first (the cached-read path, else the route's
    dependency): the outcome is kept in the request's state and the budget spent once."""
    state = scope.setdefault("state", {})
    outcome: Caller | Unauthenticated | OverLimit | None = state.get(_AUTHORIZED_STATE)
    if outcome is None:
        outcome = state[_AUTHORIZED_STATE] = await _authorized(services, scope)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def _authorized(services: Services, scope: Scope) -> Caller | Unauthenticated | OverLimit:
    try:
        caller = await resolve_caller(services, Headers(scope=scope))
    except Unauthenticated as refused:
        return refused
    if services.limiter is None:
        return caller
    decision = await services.limiter.spend(caller)
    scope["state"][RATE_LIMIT_STATE] = [
        (name.lower().encode(), value.encode()) for name, value in decision.headers().items()
    ]
    if not decision.allowed:
        return OverLimit(
            f"over the limit of {decision.limit} requests a minute; "
            f"retry in {decision.reset_seconds} s",
            {"Retry-After": str(decision.reset_seconds)},
        )
    return caller


class BearerCaller(HTTPBearer):
    """The caller of a request, from its `Authorization: Bearer` access token.

    An HTTPBearer, so the OpenAPI document declares the scheme, but resolved in one step:
    this runs on every request, and the stock class adds a sub-dependency and a model."""

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        return await authorize(services_of(request), request.scope)


current_caller = BearerCaller(
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description=(
        "An access token from `POST /api/v1/auth/token`, or one of the configured "
        "SSO (OIDC) issuer."
    ),
)


async def customer_client(request: Request) -> CustomerClient:
    return services_of(request).customer


CurrentCaller = Annotated[Caller, Depends(current_caller)]
Customer = Annotated[CustomerClient, Depends(customer_client)]
GatewayServices = Annotated[Services, Depends(services)]
