"""`GET /api/v1/{accounts,contacts}/{id}` answered from the read cache before the router.

Most reads of a record ask again for one the caller read a moment ago. Such a read needs
the caller and a cache lookup; FastAPI's routing, dependency resolution and response
machinery around them cost more than both together (docs/performance.md). This middleware
answers a read the cache holds a current copy of, exactly as the route would (the same
authorization, rate-limit budget, rendering and ETag); everything else — a miss, a copy
due for a refresh, no or bad credentials, an exhausted budget — goes on to the route,
which finds the caller already authorized in the request's state (`deps.authorize`).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from crm.customer.v1 import customer_pb2 as pb
from crm_gateway.api.deps import authorize, services_in
from crm_gateway.api.edge import header
from crm_gateway.api.mapping import account_json, contact_json
from crm_gateway.api.routes.common import MAX_ID_LENGTH, read_response

_RECORD_PATH = re.compile(r"/api/v1/(accounts|contacts)/([^/]+)")


@dataclass(frozen=True)
class _Read:
    kind: type[pb.Account] | type[pb.Contact]
    render: Callable[[Any], dict[str, Any]]
    route: BaseRoute  # the route it stands in for: metrics and traces name its template


class CachedReads:
    def __init__(self, app: ASGIApp, routes: Mapping[str, BaseRoute]) -> None:
        """`routes`: the app's routes by name (`get_account`, `get_contact`)."""
        self.app = app
        self._reads = {
            "accounts": _Read(pb.Account, account_json, routes["get_account"]),
            "contacts": _Read(pb.Contact, contact_json, routes["get_contact"]),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            matched = _RECORD_PATH.fullmatch(scope["path"])
            if matched is not None and await self._answered(
                scope, receive, send, *matched.groups()
            ):
                return
        await self.app(scope, receive, send)

    async def _answered(
        self, scope: Scope, receive: Receive, send: Send, collection: str, record_id: str
    ) -> bool:
        # A read takes no query parameters: the route refuses any (known_query.py).
        if len(record_id) > MAX_ID_LENGTH or scope["query_string"]:
            return False
        services = services_in(scope)
        try:
            caller = await authorize(services, scope)
        except Exception:  # the route raises it again and answers it as it answers any error
            return False
        read = self._reads[collection]
        record = services.customer.cached(read.kind, caller.metadata, record_id)
        if record is None:
            return False
        _name_route(scope, read.route)
        if_none_match = header(scope, b"if-none-match")
        response = read_response(
            if_none_match.decode("latin-1") if if_none_match is not None else None,
            record.version,
            lambda: read.render(record),
        )
        await response(scope, receive, send)
        return True


def _name_route(scope: Scope, route: BaseRoute) -> None:
    """What the router does on a match that metrics (RedMetrics) and traces see."""
    scope["route"] = route
    template: str = getattr(route, "path", "")
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("http.route", template)
        span.update_name(f"{scope['method']} {template}")
