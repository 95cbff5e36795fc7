"""The FastAPI application: routes, problem handlers, middlewares, tracing."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.telemetry import TelemetryConfig

from crm_gateway.api.audit import AuditTrail
from crm_gateway.api.cached_reads import CachedReads
from crm_gateway.api.edge import UPLOAD_PATHS, Edge, EdgeSettings
from crm_gateway.api.idempotency import IdempotencyKeys
from crm_gateway.api.json_body import sound_json_body
from crm_gateway.api.known_query import only_known_query
from crm_gateway.api.middleware import BodyLimit, LastResort, RedMetrics
from crm_gateway.api.openapi import problem_openapi
from crm_gateway.api.problems import EXCEPTION_HANDLERS
from crm_gateway.api.routes import (
    accounts,
    api_keys,
    audit_events,
    auth,
    contacts,
    custom_fields,
    exports,
    health,
    history,
    imports,
    loyalty,
    me,
    merge,
    roles,
    segments,
    teams,
    timeline,
    users,
    webhooks,
)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DESCRIPTION = """The CRM suite's public REST API.

Log in with `POST /api/v1/auth/token` (OAuth2 password form) and send the access token as
`Authorization: Bearer <token>`; an access token of the configured SSO (OIDC) issuer works
the same way. Partner and ERP systems send an API key as `X-API-Key`. Errors are RFC 9457
`application/problem+json`. Single records carry an `ETag`; `PATCH` requires `If-Match`.
Lists take `limit` and `cursor`.
"""

# Records are small; a larger body is a mistake or an attack. Our own limit rather than
# FastAPI's max_body_size, whose 413 is plain text where every error here is a problem.
MAX_BODY_BYTES = 64 * 1024

# Probes and scrapes would drown real traffic in the traces.
_UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# FastAPI's native OpenTelemetry support (0.165+) makes the server span, current while the
# handler runs, so the platform channel's gRPC client spans become its children and carry
# its trace on. Chosen over opentelemetry-instrumentation-fastapi, which FastAPI detects and
# then defers to: the native span costs ~70 µs a request against ~200 µs. One server span,
# no per-dependency spans; metrics are Prometheus' (RedMetrics), logs our JSON logs. Tracing
# is active only once crm_platform.telemetry has installed an SDK tracer provider.
_TELEMETRY: TelemetryConfig = {
    "tracing": True,
    "operation_spans": False,
    "metrics": False,
    "logs": False,
    "exclude": lambda scope: scope.get("path") in _UNTRACED_PATHS,
}


# Hot routes first: the router tries routes in order.
ROUTE_MODULES = (
    *(accounts, contacts, me, auth, api_keys, health, teams, users, roles),
    *(audit_events, webhooks, imports, segments, custom_fields, timeline, loyalty),
    *(merge, history),
    *(exports,),
)


def create_app(lifespan: Lifespan | None = None, edge: EdgeSettings | None = None) -> FastAPI:
    app = FastAPI(
        title="CRM API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        exception_handlers=dict[Any, Any](EXCEPTION_HANDLERS),
        # Operation ids are the handler names (`get_account`), for generated clients.
        generate_unique_id_function=lambda route: route.name,
        telemetry=_TELEMETRY,
        # Given to every route included below.
        dependencies=[Depends(only_known_query), Depends(sound_json_body)],
    )
    for module in ROUTE_MODULES:
        app.include_router(module.router)
    # The audit trail wraps the idempotency keys: a repeat runs no route and makes no
    # event, and an audit failure (503) comes after the answer is kept, so the client's
    # retry is replayed rather than run twice.
    app.add_middleware(IdempotencyKeys)
    app.add_middleware(AuditTrail)
    # Outside the two above, which let reads through anyway.
    record_routes = [*accounts.router.routes, *contacts.router.routes]
    app.add_middleware(CachedReads, routes={getattr(r, "name", ""): r for r in record_routes})
    # Added last = outermost: metrics see the 500 that LastResort makes of a crash, and
    # the edge puts its headers on every answer, its own 504 included.
    edge = edge or EdgeSettings()
    app.state.upload_timeout_seconds = edge.upload_timeout_seconds
    uploads = dict.fromkeys(UPLOAD_PATHS, edge.upload_max_bytes)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, larger=uploads)
    app.add_middleware(LastResort)
    app.add_middleware(Edge, settings=edge)
    app.add_middleware(RedMetrics)
    app.openapi = lambda: problem_openapi(app)  # type: ignore[method-assign]
    return app
