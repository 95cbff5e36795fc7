"""The life of a gRPC service process: `crm-<svc> migrate` and `crm-<svc> serve`.

A service's bootstrap builds a `ServiceRuntime` (its servicers and background workers such
as the outbox relay and event consumers); this module runs it and stops it cleanly.
"""

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import typer
import uvloop
from prometheus_client import start_http_server

from crm_platform.db.migrations import upgrade_to_head
from crm_platform.gc_tuning import collect_less
from crm_platform.grpc.server import GrpcServer, Registration
from crm_platform.settings import ServiceSettings
from crm_platform.telemetry import setup_telemetry
from crm_platform.telemetry.traces import shutdown_tracing

log = logging.getLogger(__name__)


class BackgroundWorker(Protocol):
    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class ServiceRuntime:
    registrations: Sequence[Registration]
    workers: Sequence[BackgroundWorker] = ()
    # Closed after the server and workers have stopped (engine.dispose, nats.close, ...).
    closers: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def serve(settings: ServiceSettings, runtime: ServiceRuntime) -> None:
    start_http_server(settings.metrics_port, addr=settings.metrics_host)
    async with running(settings, runtime) as server:
        log.info("serving", extra={"address": server.address})
        await _until_signalled()
        log.info("stopping")
    shutdown_tracing()


@asynccontextmanager
async def running(settings: ServiceSettings, runtime: ServiceRuntime) -> AsyncIterator[GrpcServer]:
    """The gRPC server and workers of `runtime`, started; stopped cleanly on exit."""
    server = GrpcServer(
        host=settings.grpc_host,
        port=settings.grpc_port,
        principal_secret=settings.principal_secret.get_secret_value(),
    )
    server.register(runtime.registrations)
    await server.start()
    tasks = [asyncio.create_task(worker.run()) for worker in runtime.workers]
    try:
        yield server
    finally:
        await server.stop()
        for worker in runtime.workers:
            worker.stop()
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for closer in runtime.closers:
            await closer()


async def _until_signalled() -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()


def service_cli(
    *,
    settings_factory: Callable[[], ServiceSettings],
    bootstrap: Callable[[ServiceSettings], Awaitable[ServiceRuntime]],
    migrations_dir: Path,
) -> typer.Typer:
    app = typer.Typer(add_completion=False, no_args_is_help=True)

    @app.command()
    def migrate() -> None:
        """Bring this service's database schema to the latest migration."""
        upgrade_to_head(migrations_dir, settings_factory().database_url)

    @app.command("serve")
    def serve_command() -> None:
        """Run the gRPC server and background workers until SIGINT/SIGTERM."""
        settings = settings_factory()
        setup_telemetry(
            service_name=settings.service_name,
            log_level=settings.log_level,
            spans_file=settings.otel_spans_file,
        )

        async def main() -> None:
            await serve(settings, await bootstrap(settings))

        collect_less()
        uvloop.run(main())

    return app
