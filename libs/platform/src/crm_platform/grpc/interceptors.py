"""One server interceptor for what every RPC needs: a server span continuing the caller's
trace, the caller's principal, a deadline, domain-error mapping and RED metrics. One layer
rather than several: every grpc.aio interceptor costs each call ~10 % of a small RPC."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from crm_platform import errors
from crm_platform.auth.context import bind_principal, unbind_principal
from crm_platform.auth.principal import METADATA_KEY, Principal, TokenVerifier
from crm_platform.db.errors import is_database_outage
from crm_platform.grpc.errors import STATUS_DETAILS_KEY, rich_status, status_code_for
from crm_platform.telemetry.metrics import GRPC_SERVER_HANDLED, GRPC_SERVER_LATENCY

log = logging.getLogger(__name__)

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]

_tracer = trace.get_tracer("crm_platform.grpc")
# Codes that mean the server failed; the others are the caller's doing (OpenTelemetry's rule).
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


class CallInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, *, principal_secret: str, max_deadline_seconds: float = 30.0) -> None:
        self._verifier = TokenVerifier(principal_secret)
        self._max_deadline = max_deadline_seconds

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        # Health and reflection are infrastructure: no principal, and they may stream.
        if handler is None or handler.unary_unary is None or method.startswith("/grpc."):
            return handler
        service, _, name = method[1:].rpartition("/")
        behavior = self._wrap(handler.unary_unary, service, name)
        return grpc.unary_unary_rpc_method_handler(
            behavior,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap(self, inner: Behavior, service: str, name: str) -> Behavior:
        span_name = f"{service}/{name}"
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
        latency = GRPC_SERVER_LATENCY.labels(service, name)

        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            metadata = dict(context.invocation_metadata() or ())
            code = grpc.StatusCode.OK
            with _tracer.start_as_current_span(
                span_name,
                context=propagate.extract(metadata),
                kind=SpanKind.SERVER,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    token = bind_principal(self._principal(metadata))
                    try:
                        async with asyncio.timeout(self._deadline(context)):
                            return await inner(request, context)
                    finally:
                        unbind_principal(token)
                except grpc.aio.AbortError:
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except Exception as exc:
                    code, message, trailing = _failure(exc, name)
                    await context.abort(code, message, trailing)
                finally:
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    if code in _SERVER_FAULTS:
                        span.set_status(Status(StatusCode.ERROR, code.name))
                    GRPC_SERVER_HANDLED.labels(service, name, code.name).inc()
                    latency.observe(time.perf_counter() - started)

        return behavior

    def _principal(self, metadata: dict[str, Any]) -> Principal:
        token = metadata.get(METADATA_KEY)
        if token is None:
            raise errors.Unauthenticated("missing internal principal")
        return self._verifier.verify(str(token))

    def _deadline(self, context: grpc.aio.ServicerContext) -> float:
        remaining = context.time_remaining()
        if remaining is None:
            return self._max_deadline
        return min(remaining, self._max_deadline)


def _failure(
    exc: Exception, rpc: str
) -> tuple[grpc.StatusCode, str, tuple[tuple[str, bytes], ...]]:
    """The status, message and trailing metadata a failed call ends with."""
    if isinstance(exc, errors.DomainError):
        code = status_code_for(exc)
        return (
            code,
            exc.message,
            ((STATUS_DETAILS_KEY, rich_status(code, exc).SerializeToString()),),
        )
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded", ()
    if is_database_outage(exc):
        log.warning("database unavailable", extra={"rpc": rpc})
        return grpc.StatusCode.UNAVAILABLE, "database unavailable, retry later", ()
    log.exception("unhandled error", extra={"rpc": rpc})
    return grpc.StatusCode.INTERNAL, "internal error", ()
