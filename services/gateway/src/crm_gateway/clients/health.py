"""Readiness of a downstream: the standard gRPC health check (grpc.health.v1.Health/Check)."""

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_SERVING = health_pb2.HealthCheckResponse.SERVING
_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


class HealthProbe:
    """Probes over a channel of its own, made without the platform's tracing interceptors:
    readiness probes every few seconds would otherwise fill the traces with noise."""

    def __init__(self, name: str, target: str) -> None:
        self.name = name
        # Short reconnect backoff: a restarted service is seen ready within a second.
        self._channel = grpc.aio.insecure_channel(target, options=_OPTIONS)
        self._stub = health_pb2_grpc.HealthStub(self._channel)

    async def check(self, deadline_seconds: float) -> str | None:
        """None when SERVING, else why not."""
        try:
            reply = await self._stub.Check(
                health_pb2.HealthCheckRequest(), timeout=deadline_seconds
            )
        except grpc.aio.AioRpcError as error:
            return f"{error.code().name}: {error.details()}"
        if reply.status != _SERVING:
            return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return None

    async def close(self) -> None:
        await self._channel.close()
