"""One server interceptor for what every RPC needs: the caller's principal, a deadline,
domain-error mapping and RED metrics. Tracing comes from OpenTelemetry's interceptor."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from crm_platform import errors
from crm_platform.auth.context import bind_principal, unbind_principal
from crm_platform.auth.principal import METADATA_KEY, TokenVerifier
from crm_platform.db.errors import is_database_outage
from crm_platform.grpc.errors import STATUS_DETAILS_KEY, rich_status, status_code_for
from crm_platform.telemetry.metrics import GRPC_SERVER_HANDLED, GRPC_SERVER_LATENCY

log = logging.getLogger(__name__)

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


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
        async def behavior(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                token = bind_principal(self._principal(context))
                try:
                    async with asyncio.timeout(self._deadline(context)):
                        return await inner(request, context)
                finally:
                    unbind_principal(token)
            except errors.DomainError as error:
                code = status_code_for(error)
                details = rich_status(code, error).SerializeToString()
                await context.abort(code, error.message, ((STATUS_DETAILS_KEY, details),))
            except TimeoutError:
                code = grpc.StatusCode.DEADLINE_EXCEEDED
                await context.abort(code, "deadline exceeded")
            except Exception as exc:
                if isinstance(exc, grpc.aio.AbortError):
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                if is_database_outage(exc):
                    code = grpc.StatusCode.UNAVAILABLE
                    log.warning("database unavailable", extra={"rpc": name})
                    await context.abort(code, "database unavailable, retry later")
                code = grpc.StatusCode.INTERNAL
                log.exception("unhandled error", extra={"rpc": name})
                await context.abort(code, "internal error")
            finally:
                GRPC_SERVER_HANDLED.labels(service, name, code.name).inc()
                GRPC_SERVER_LATENCY.labels(service, name).observe(time.perf_counter() - started)

        return behavior

    def _principal(self, context: grpc.aio.ServicerContext) -> Any:
        for key, value in context.invocation_metadata() or ():
            if key == METADATA_KEY:
                return self._verifier.verify(str(value))
        raise errors.Unauthenticated("missing internal principal")

    def _deadline(self, context: grpc.aio.ServicerContext) -> float:
        remaining = context.time_remaining()
        if remaining is None:
            return self._max_deadline
        return min(remaining, self._max_deadline)
