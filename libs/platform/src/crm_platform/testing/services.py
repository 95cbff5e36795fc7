"""Run a service's bootstrap in-process on a free port, for its integration tests."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import grpc

from crm_platform.auth.principal import Action, Principal, Scope, issue_token
from crm_platform.grpc.client import create_channel, principal_metadata
from crm_platform.service import ServiceRuntime, running
from crm_platform.settings import ServiceSettings

TEST_SECRET = "test-principal-secret-of-32-bytes-or-more"  # noqa: S105 - a fixture value, never deployed


@contextlib.asynccontextmanager
async def running_service(
    settings: ServiceSettings, bootstrap: Callable[[ServiceSettings], Awaitable[ServiceRuntime]]
) -> AsyncIterator[grpc.aio.Channel]:
    """Serve `bootstrap(settings)` on settings.grpc_port; yields a channel to it."""
    async with running(settings, await bootstrap(settings)) as server:
        channel = create_channel(server.address)
        try:
            yield channel
        finally:
            await channel.close()


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
