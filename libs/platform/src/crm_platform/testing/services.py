"""Run a service's bootstrap in-process on a free port, for its integration tests."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import grpc
from sqlalchemy import MetaData

from crm_platform.auth.principal import Action, Principal, Scope, issue_token
from crm_platform.db.migrations import schema_drift, upgrade_to_head
from crm_platform.grpc.client import create_channel, principal_metadata
from crm_platform.service import ServiceRuntime, running
from crm_platform.settings import ServiceSettings
from crm_platform.testing.ports import free_port

S = TypeVar("S", bound=ServiceSettings)

TEST_SECRET = "test-principal-secret-of-32-bytes-or-more"  # noqa: S105 - a fixture value, never deployed


@contextlib.asynccontextmanager
async def running_service(
    settings_type: type[S],
    bootstrap: Callable[[S], Awaitable[ServiceRuntime]],
    *,
    migrations: Path,
    database_url: str,
    nats_url: str,
    **overrides: Any,
) -> AsyncIterator[grpc.aio.Channel]:
    """A service migrated onto `database_url` and served in-process on a free port, with
    the test principal secret and any `overrides`; yields a channel to it."""
    await migrated(migrations, database_url)
    settings = settings_type(
        database_url=database_url,
        nats_url=nats_url,
        grpc_port=free_port(),
        principal_secret=TEST_SECRET,
        **overrides,
    )
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
    partner_id: uuid.UUID | None = None,
) -> Principal:
    grants = {obj: {action.value: scope.value for action in actions} for obj in objects}
    return Principal(
        subject_id=subject_id or uuid.uuid4(),
        kind="api_key" if partner_id else "user",
        roles=frozenset({"test"}),
        team_id=team_id,
        team_ids=frozenset(team_ids),
        partner_id=partner_id,
        grants=grants,
    )


def call_metadata(who: Principal, secret: str = TEST_SECRET) -> tuple[tuple[str, str], ...]:
    return principal_metadata(issue_token(who, secret))


async def migrated(migrations: Path, database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, migrations, database_url)


async def assert_schema_matches(migrations: Path, database_url: str, metadata: MetaData) -> None:
    """The migrations build exactly the tables the code declares."""
    await migrated(migrations, database_url)
    assert await asyncio.to_thread(schema_drift, database_url, metadata) == []
