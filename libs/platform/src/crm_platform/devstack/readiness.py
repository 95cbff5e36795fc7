"""Waiting for a started service to answer: its health check, or the gateway's /readyz."""

import time
from collections.abc import Callable
from typing import Any

from crm_platform.devstack.errors import reported_failure
from crm_platform.devstack.stack import ServiceSpec, StackConfig
from crm_platform.testing.processes import pid_alive

READY_TIMEOUT = 60.0
# Short enough that a second `up` is not dominated by sleeping between probes.
POLL_INTERVAL = 0.05


def wait_ready(config: StackConfig, spec: ServiceSpec, pid: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    with _ReadinessProbe(spec) as probe:
        while not probe.ready():
            if not pid_alive(pid):
                raise reported_failure(
                    f"{spec.script} exited before it was ready", config.log_file(spec.name)
                )
            if time.monotonic() > deadline:
                raise reported_failure(
                    f"{spec.script} not ready after {READY_TIMEOUT:.0f}s",
                    config.log_file(spec.name),
                )
            time.sleep(POLL_INTERVAL)


class _ReadinessProbe:
    """gRPC services answer the standard health check; the gateway answers GET /readyz."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self._close: list[Any] = []
        self.ready: Callable[[], bool]
        if spec.grpc_target is not None:
            self.ready = self._grpc_probe(spec.grpc_target)
        else:
            self.ready = self._http_probe(f"http://127.0.0.1:{spec.http_port}/readyz")

    def _grpc_probe(self, target: str) -> Callable[[], bool]:
        # Imported here: `status` and `down` should not pay for grpc.
        import grpc  # type: ignore[import-untyped, unused-ignore]
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        # gRPC's default reconnect backoff starts at 1 s and would dominate start-up.
        channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.initial_reconnect_backoff_ms", 50),
                ("grpc.min_reconnect_backoff_ms", 50),
                ("grpc.max_reconnect_backoff_ms", 200),
            ],
        )
        self._close.append(channel)
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        serving = health_pb2.HealthCheckResponse.SERVING

        def grpc_ready() -> bool:
            try:
                return bool(stub.Check(request, timeout=1.0).status == serving)
            except grpc.RpcError:
                return False

        return grpc_ready

    def _http_probe(self, url: str) -> Callable[[], bool]:
        # Imported here for the same reason as grpc.
        import httpx

        client = httpx.Client(timeout=1.0)
        self._close.append(client)

        def http_ready() -> bool:
            try:
                return client.get(url).status_code == 200
            except httpx.TransportError:
                return False

        return http_ready

    def __enter__(self) -> "_ReadinessProbe":
        return self

    def __exit__(self, *exc: object) -> None:
        for resource in self._close:
            resource.close()
