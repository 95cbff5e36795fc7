"""Builds a grpc.aio server with health, reflection and the platform interceptors."""

from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from crm_platform.grpc.interceptors import CallInterceptor

# (add_XServicer_to_server, servicer instance, full service name)
Registration = tuple[Callable[[Any, grpc.aio.Server], None], object, str]


class GrpcServer:
    def __init__(self, *, host: str, port: int, principal_secret: str) -> None:
        self.server = grpc.aio.server(
            interceptors=[CallInterceptor(principal_secret=principal_secret)],
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 << 20)],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.address = f"{host}:{port}"
        self._names: list[str] = []

    def register(self, registrations: Sequence[Registration]) -> None:
        for add_to_server, servicer, name in registrations:
            add_to_server(servicer, self.server)
            self._names.append(name)

    async def start(self) -> None:
        reflection.enable_server_reflection(
            [
                *self._names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self.server,
        )
        self.server.add_insecure_port(self.address)
        await self.server.start()
        for name in ["", *self._names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        # NOT_SERVING first, so load balancers drain us before in-flight calls are cut.
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_seconds)
