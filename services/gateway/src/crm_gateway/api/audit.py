"""The audit trail of every write request under /api/v1 (pure ASGI).

The answer is held back until its audit events are stored. When they cannot be, the
client gets a 503 instead: a change nobody can account for must not look like a success,
and the events themselves go to the error log, so they are not lost silently either.
Requests that match no route (unknown paths, and repeats answered by the idempotency
middleware without running one) make no event.
"""

import logging
from typing import Any

from opentelemetry import trace
from prometheus_client import Counter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_gateway.api.buffering import HeldResponse
from crm_gateway.api.deps import Services, resolve_caller, services_in
from crm_gateway.api.edge import DOWNLOAD_PATHS
from crm_gateway.api.problems import problem
from crm_gateway.audit import rules
from crm_gateway.audit.changes import collect_changes, noted_actor
from crm_gateway.audit.domain import ANONYMOUS, Actor, AuditChange, AuditEvent, RequestFacts
from crm_platform.errors import Unauthenticated

log = logging.getLogger(__name__)

AUDIT_WRITE_FAILURES = Counter(
    "crm_gateway_audit_write_failures", "Write requests whose audit events could not be stored"
)


_NOT_RECORDED = "the change could not be recorded in the audit trail; retry later"


class _NotRecorded(Exception):
    """Stops a streamed answer whose audit events could not be stored."""


class AuditTrail:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not rules.audited(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        changes = collect_changes(scope)
        body = bytearray()
        # Only a JSON body says anything the events use; an upload would be held whole.
        keep_body = "json" in Headers(scope=scope).get("content-type", "")

        async def teed_receive() -> Message:
            message = await receive()
            if keep_body and message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        if scope["path"] in DOWNLOAD_PATHS:
            await self._streamed(scope, teed_receive, send, changes, body)
            return
        held = HeldResponse()
        try:
            await self.app(scope, teed_receive, held.hold)
        except Exception:
            # LastResort makes a 500 of it; the attempt is on record all the same.
            await self._store(scope, changes, bytes(body), held, status=500)
            raise
        if await self._store(scope, changes, bytes(body), held, status=held.status):
            await held.release(send)
        else:
            await problem(503, _NOT_RECORDED)(scope, receive, send)

    async def _streamed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        changes: list[AuditChange],
        body: bytearray,
    ) -> None:
        """A download (an export) is too large to hold: its events are stored when its
        answer starts, then the answer goes out as it comes. When they cannot be stored,
        the client gets the 503 and nothing of the file, and the route is stopped."""
        held = HeldResponse()

        async def send_once_recorded(message: Message) -> None:
            if message["type"] == "http.response.start":
                await held.hold(message)
                if not await self._store(scope, changes, bytes(body), held, status=held.status):
                    await problem(503, _NOT_RECORDED)(scope, receive, send)
                    raise _NotRecorded
            await send(message)

        try:
            await self.app(scope, receive, send_once_recorded)
        except _NotRecorded:
            return
        except Exception:
            if not held.started:
                await self._store(scope, changes, bytes(body), held, status=500)
            raise

    async def _store(
        self,
        scope: Scope,
        changes: list[AuditChange],
        body: bytes,
        held: HeldResponse,
        *,
        status: int,
    ) -> bool:
        """Whether the events are stored (or there are none to store)."""
        route = scope.get("route")
        if route is None:
            return True
        services = services_in(scope)
        events = await _events(scope, services, changes, body, held, route.path, status)
        try:
            await services.audit.append(events)
        except Exception:
            AUDIT_WRITE_FAILURES.inc()
            log.error(
                "audit events could not be stored",
                extra={"audit_events": [_loggable(e) for e in events]},
                exc_info=True,
            )
            return False
        return True


async def _events(
    scope: Scope,
    services: Services,
    changes: list[AuditChange],
    body: bytes,
    held: HeldResponse,
    route: str,
    status: int,
) -> list[AuditEvent]:
    request_headers = Headers(scope=scope)
    facts = RequestFacts(
        actor=await _actor(scope, services, request_headers),
        method=scope["method"],
        route=route,
        status=status,
        client_ip=rules.client_ip(
            _peer(scope),
            request_headers.getlist("x-forwarded-for"),
            services.trusted_proxies,
        ),
        user_agent=request_headers.get("user-agent"),
        trace_id=_trace_id(),
    )
    generic = rules.generic_change(
        method=scope["method"],
        route=route,
        path_params=scope.get("path_params", {}),
        status=status,
        location=held.headers.get("location"),
        body=body,
        is_json="json" in request_headers.get("content-type", ""),
    )
    return rules.events_for(facts, changes, generic)


async def _actor(scope: Scope, services: Services, headers: Headers) -> Actor:
    try:
        principal = (await resolve_caller(services, headers)).principal
    except Unauthenticated:
        return noted_actor(scope) or Actor(None, ANONYMOUS)
    return Actor(principal.subject_id, principal.kind)


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _loggable(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "occurred_at": event.occurred_at.isoformat(),
        "actor_id": str(event.actor.subject_id) if event.actor.subject_id else None,
        "actor_kind": event.actor.kind,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "route": event.route,
        "status": event.status,
    }
