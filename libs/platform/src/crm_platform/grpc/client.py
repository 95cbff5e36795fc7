"""Client channels with a default deadline on every call and retries on UNAVAILABLE."""

import json
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from crm_platform.auth.principal import METADATA_KEY

_RETRY_POLICY = {
    "methodConfig": [
        {
            "name": [{}],
            "retryPolicy": {
                "maxAttempts": 3,
                "initialBackoff": "0.05s",
                "maxBackoff": "0.5s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ]
}


class _DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        if client_call_details.timeout is None:
            client_call_details = client_call_details._replace(timeout=self._seconds)
        return await continuation(client_call_details, request)


def create_channel(target: str, *, default_timeout: float = 5.0) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        target,
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", json.dumps(_RETRY_POLICY)),
            ("grpc.keepalive_time_ms", 30_000),
            # gRPC's default reconnect backoff grows to 120 s: too slow after a restart.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2_000),
        ],
        interceptors=[_DefaultDeadline(default_timeout), *aio_client_interceptors()],
    )


def principal_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return ((METADATA_KEY, token),)
