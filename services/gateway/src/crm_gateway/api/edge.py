"""The edge of the API in one pure ASGI middleware: security headers on every response,
CORS for the configured portal origins, `Cache-Control: no-store` on caller data, a 404
for any path holding NUL, a 415 for JSON in a charset other than UTF-8, and a request
timeout answered as a 504 problem.

Everything a response gets is computed once here, so a request costs a few header appends.
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_gateway.api.json_body import UTF8_ONLY, WITH_BODY, foreign_charset
from crm_gateway.api.problems import problem

API_PREFIX = "/api/v1"
DOCS_PREFIX = "/docs"

# Nothing the API answers is a page: no scripts, frames, plugins or base URIs.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI: FastAPI's page loads its bundle from jsDelivr and starts it inline, then
# fetches /openapi.json and calls the API itself.
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
CORS_METHODS = "GET, POST, PATCH, PUT, DELETE"
CORS_REQUEST_HEADERS = (
    "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-API-Key, traceparent"
)
CORS_EXPOSED_HEADERS = (
    "ETag, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
)
CORS_MAX_AGE_SECONDS = 600

Headers = list[tuple[bytes, bytes]]


# Where the auth dependency leaves the RateLimit-* headers for this middleware to send.
RATE_LIMIT_STATE = "rate_limit_headers"


@dataclass(frozen=True)
class EdgeSettings:
    cors_origins: Iterable[str] = field(default_factory=tuple)
    hsts_seconds: int = 0
    request_timeout_seconds: float = 10.0
    # Uploads (POST to UPLOAD_PATHS): larger bodies, more time to send them; downloads
    # (DOWNLOAD_PATHS) the same time to stream their answer.
    upload_max_bytes: int = 1 << 30
    upload_timeout_seconds: float = 900.0


# Routes that take a file: the only ones allowed a large body and a long request.
UPLOAD_PATHS = frozenset({"/api/v1/imports"})
# Routes that stream a file as their answer (the request is small JSON): a long request,
# an answer no middleware holds whole.
DOWNLOAD_PATHS = frozenset({"/api/v1/exports"})
LONG_PATHS = UPLOAD_PATHS | DOWNLOAD_PATHS


class Edge:
    def __init__(self, app: ASGIApp, settings: EdgeSettings) -> None:
        self.app = app
        self._timeout = settings.request_timeout_seconds
        self._upload_timeout = settings.upload_timeout_seconds
        self._origins = frozenset(origin.encode() for origin in settings.cors_origins)
        common: Headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if settings.hsts_seconds:
            hsts = f"max-age={settings.hsts_seconds}; includeSubDomains".encode()
            common.append((b"strict-transport-security", hsts))
        self._api_headers = [*common, (b"content-security-policy", API_CSP.encode())]
        self._docs_headers = [*common, (b"content-security-policy", DOCS_CSP.encode())]
        self._cors_actual: Headers = [
            (b"access-control-expose-headers", CORS_EXPOSED_HEADERS.encode()),
        ]
        self._cors_preflight: Headers = [
            (b"access-control-allow-methods", CORS_METHODS.encode()),
            (b"access-control-allow-headers", CORS_REQUEST_HEADERS.encode()),
            (b"access-control-max-age", str(CORS_MAX_AGE_SECONDS).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = list(self._docs_headers if path.startswith(DOCS_PREFIX) else self._api_headers)
        caller_data = path.startswith(API_PREFIX)
        origin = self._allowed_origin(scope)
        if origin is not None:
            if scope["method"] == "OPTIONS" and header(scope, b"access-control-request-method"):
                await self._preflight(origin, extra, send)
                return
            extra += [(b"access-control-allow-origin", origin), *self._cors_actual]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # A new list: the response may reuse the one it sent.
                headers: Headers = [*message.get("headers", ()), *extra]
                if caller_data and not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                if self._origins:
                    headers.append((b"vary", b"Origin"))
                # The caller's budget, as the auth dependency found it (RateLimit-*).
                headers += scope.get("state", {}).get(RATE_LIMIT_STATE, ())
                message["headers"] = headers
            await send(message)

        if "\x00" in path:
            # Names nothing: no id or name the API keeps can hold NUL (PostgreSQL text
            # cannot), and no route is to hand one on to a database.
            await problem(404, "Not Found")(scope, receive, send_with_headers)
            return
        content_type = header(scope, b"content-type") if scope["method"] in WITH_BODY else None
        if content_type and foreign_charset(content_type.decode("latin-1")):
            # Before FastAPI parses the body: it would decode it as UTF-8 whatever the label.
            # Only where a body counts: clients send their default Content-Type on reads too.
            await problem(415, UTF8_ONLY)(scope, receive, send_with_headers)
            return
        timeout = self._upload_timeout if path in LONG_PATHS else self._timeout
        try:
            async with asyncio.timeout(timeout):
                await self.app(scope, receive, send_with_headers)
        except TimeoutError:
            if started:
                raise  # too late for an answer of ours; the server logs it
            detail = f"no answer within {timeout:g} s; retry later"
            await problem(504, detail)(scope, receive, send_with_headers)

    def _allowed_origin(self, scope: Scope) -> bytes | None:
        if not self._origins:
            return None
        origin = header(scope, b"origin")
        return origin if origin in self._origins else None

    async def _preflight(self, origin: bytes, extra: Headers, send: Send) -> None:
        headers = [
            (b"access-control-allow-origin", origin),
            (b"vary", b"Origin"),
            *self._cors_preflight,
            *extra,
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header `name` (lower case) of the request, without parsing them all."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
