"""Run a service's bootstrap in-process on a free port, for its integration tests."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import grpc

from crm_platform.auth.principal import Action, Principal, Scope, issue_token
from crm_platform.grpc.client import create_channel, principal_metadata
from crm_platform.grpc.server import GrpcServer
from crm_platform.service import ServiceRuntime
from crm_platform.settings import ServiceSettings

TEST_SECRET = "test-principal-secret-of-32-bytes-or-more"  # noqa: S105 - a fixture value, never deployed


@contextlib.asynccontextmanager
async def running_service(
    settings: ServiceSettings, bootstrap: Callable[[ServiceSettings], Awaitable[ServiceRuntime]]
) -> AsyncIterator[grpc.aio.Channel]:
    """Serve `bootstrap(settings)` on settings.grpc_port; yields a channel to it."""
    runtime = await bootstrap(settings)
    server = GrpcServer(
        host="127.0.0.1",
        port=settings.grpc_port,
        principal_secret=settings.principal_secret.get_secret_value(),
    )
    server.register(runtime.registrations)
    await server.start()
    tasks = [asyncio.create_task(worker.run()) for worker in runtime.workers]
    channel = create_channel(f"127.0.0.1:{settings.grpc_port}")
    try:
        yield channel
    finally:
        await channel.close()
        await server.stop(0)
        for worker in runtime.workers:
            worker.stop()
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        for closer in runtime.closers:
            await closer()


def principal(
    *,
    objects: Iterable[str],
    scope: Scope = Scope.ALL,
    actions: Iterable[Action] = tuple(Action),
    subject_id: uuid.UUID | None = None,
    team_id: uuid.UUID | None = None,
    team_ids: Iterable[uuid.UUID] = (),
) -> Principal:
    grants = {obj: {action.value: scope.value for action in actions} for obj in objects}
    return Principal(
        subject_id=subject_id or uuid.uuid4(),
        kind="user",
        roles=frozenset({"test"}),
        team_id=team_id,
        team_ids=frozenset(team_ids),
        grants=grants,
    )


def call_metadata(who: Principal, secret: str = TEST_SECRET) -> tuple[tuple[str, str], ...]:
    return principal_metadata(issue_token(who, secret))
