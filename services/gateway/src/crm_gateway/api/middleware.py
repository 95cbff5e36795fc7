"""Pure ASGI middlewares (no BaseHTTPMiddleware: it costs a task and a copy per request).

`RedMetrics` counts and times every request by route template, `LastResort` turns an
unexpected exception into a 500 problem (or 503 when the database is away) and logs it,
`BodyLimit` refuses request bodies past a size with a 413 problem.
"""

import logging
import time
from collections.abc import Mapping

from opentelemetry import trace
from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_gateway.api.edge import header
from crm_gateway.api.problems import problem
from crm_platform.db.errors import is_database_outage
from crm_platform.telemetry.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger(__name__)

UNMATCHED = "unmatched"  # one label for every unknown path, so scanners cannot grow series


class RedMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # labels() takes a lock and builds tuples; the children are cached per label set.
        self._counters: dict[tuple[str, str, str], Counter] = {}
        self._histograms: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        # The router puts the matched route in the scope; its path is the template.
        route = scope.get("route")
        template = getattr(route, "path", UNMATCHED) if route is not None else UNMATCHED
        method = scope["method"]
        counter = self._counters.get((template, method, str(status)))
        if counter is None:
            counter = HTTP_REQUESTS.labels(template, method, str(status))
            self._counters[(template, method, str(status))] = counter
        histogram = self._histograms.get((template, method))
        if histogram is None:
            histogram = HTTP_LATENCY.labels(template, method)
            self._histograms[(template, method)] = histogram
        counter.inc()
        histogram.observe(seconds)


class LastResort:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # too late for an answer of ours; the server logs it
            await _answer(exc, scope)(scope, receive, send)


class BodyLimit:
    def __init__(
        self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None
    ) -> None:
        """`larger`: paths allowed more than `max_bytes` (uploads), and their limit."""
        self.app = app
        self._default = max_bytes
        self._larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._larger.get(scope["path"], self._default)
        if _declared_length(scope) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            # A body without Content-Length (chunked) is counted as it arrives; the
            # HTTPException reaches the problem handlers from inside the route.
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413, _too_large_detail(limit))
            return message

        await self.app(scope, limited_receive, send)


def _too_large_detail(limit: int) -> str:
    return f"the request body exceeds {limit} bytes"


def _too_large(limit: int) -> Response:
    return problem(413, _too_large_detail(limit), headers={"Connection": "close"})


def _declared_length(scope: Scope) -> int:
    value = header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else 0


def _answer(exc: Exception, scope: Scope) -> Response:
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
    if is_database_outage(exc):
        log.warning("database unavailable", extra={"path": scope.get("path")})
        return problem(503, "the identity database is unavailable; retry later")
    log.exception("unhandled error", extra={"path": scope.get("path")}, exc_info=exc)
    return problem(500, "unexpected error; this is a bug and has been logged")
