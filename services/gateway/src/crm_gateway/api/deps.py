"""What the routes need, wired by crm_gateway.bootstrap and reached through FastAPI
dependencies (so tests and the OpenAPI document see the same routes as production)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.datastructures import Headers
from starlette.types import Scope

from crm_gateway.audit.repository import SqlAuditLog
from crm_gateway.audit.rules import IpNetwork
from crm_gateway.clients.customer import CustomerClient
from crm_gateway.idempotency.repository import SqlIdempotencyStore
from crm_gateway.identity.callers import Caller, CallerCache
from crm_gateway.identity.tokens import AccessTokens
from crm_gateway.identity.usecases import Identity
from crm_platform.errors import Unauthenticated

# Name of each check -> None when it passed, else why it failed.
ReadinessCheck = Callable[[], Awaitable[dict[str, str | None]]]


@dataclass(frozen=True)
class Services:
    identity: Identity
    tokens: AccessTokens
    callers: CallerCache
    customer: CustomerClient
    readiness: ReadinessCheck
    idempotency: SqlIdempotencyStore
    audit: SqlAuditLog
    # Peers whose X-Forwarded-For names the client (CRM_GATEWAY_TRUSTED_PROXIES).
    trusted_proxies: tuple[IpNetwork, ...] = ()


def services_of(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def services_in(scope: Scope) -> Services:
    """The services, for pure ASGI middlewares (FastAPI puts the app in every scope)."""
    found: Services = scope["app"].state.services
    return found


def resolve_caller(services: Services, headers: Headers) -> Caller:
    """The caller of a request, from its credentials; raises Unauthenticated.

    The one place that reads credentials, for routes and middlewares alike: API keys
    (`X-API-Key`) are resolved here too once they exist."""
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("a bearer access token is required")
    return services.callers.resolve(token.strip())


# Dependencies are coroutines: FastAPI runs plain functions in a thread pool, which would
# cost a thread hop on every request.
async def services(request: Request) -> Services:
    return services_of(request)


class BearerCaller(HTTPBearer):
    """The caller of a request, from its `Authorization: Bearer` access token.

    An HTTPBearer, so the OpenAPI document declares the scheme, but resolved in one step:
    this runs on every request, and the stock class adds a sub-dependency and a model."""

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        return resolve_caller(services_of(request), request.headers)


current_caller = BearerCaller(
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="An access token from `POST /api/v1/auth/token`.",
)


async def customer_client(request: Request) -> CustomerClient:
    return services_of(request).customer


CurrentCaller = Annotated[Caller, Depends(current_caller)]
Customer = Annotated[CustomerClient, Depends(customer_client)]
GatewayServices = Annotated[Services, Depends(services)]
