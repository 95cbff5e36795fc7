"""The teams table: a tree through `parent_id`, kept free of cycles under concurrent edits."""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, exists, func, insert, literal, select, text, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm_gateway.identity.domain import Team
from crm_gateway.identity.schema import teams, users
from crm_gateway.preconditions import ExpectedVersion
from crm_platform.db.schema import utcnow
from crm_platform.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
)

# Serializes moves of teams: two moves that are each fine alone could close a cycle together.
_HIERARCHY_LOCK = text("SELECT pg_advisory_xact_lock(4242000001)")


class SqlTeams:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, team_id: uuid.UUID) -> Team | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(teams).where(teams.c.id == team_id))).first()
        return _team(row) if row else None

    async def page(
        self, *, after: uuid.UUID | None, limit: int, within: frozenset[uuid.UUID] | None
    ) -> list[Team]:
        """Teams in id (= creation) order; `within` limits them to those ids (None: all)."""
        statement = select(teams).order_by(teams.c.id).limit(limit)
        if after is not None:
            statement = statement.where(teams.c.id > after)
        if within is not None:
            statement = statement.where(teams.c.id.in_(within))
        async with self._engine.connect() as connection:
            return [_team(row) for row in await connection.execute(statement)]

    async def add(self, *, name: str, parent_id: uuid.UUID | None, team_id: uuid.UUID) -> Team:
        async with self._engine.begin() as connection:
            if parent_id is not None:
                await _lock_parent(connection, parent_id)
            row = (
                await connection.execute(
                    insert(teams)
                    .values(id=team_id, version=1, name=name, parent_id=parent_id)
                    .returning(*teams.c)
                )
            ).one()
        return _team(row)

    async def update(
        self, team_id: uuid.UUID, expected_version: ExpectedVersion, changes: Mapping[str, Any]
    ) -> tuple[Team, Team]:
        """Apply `changes` (name, parent_id); the team before and after."""
        async with self._engine.begin() as connection:
            if "parent_id" in changes:
                await connection.execute(_HIERARCHY_LOCK)
            before = await _locked(connection, team_id, expected_version)
            parent_id = changes.get("parent_id")
            if parent_id is not None and parent_id != before.parent_id:
                await _lock_parent(connection, parent_id)
                if await _is_ancestor_or_self(connection, team_id, of=parent_id):
                    raise InvalidArgument(
                        [FieldViolation("parent_id", "would make the team its own ancestor")]
                    )
            row = (
                await connection.execute(
                    update(teams)
                    .where(teams.c.id == team_id)
                    .values(**changes, version=before.version + 1, updated_at=utcnow())
                    .returning(*teams.c)
                )
            ).one()
        return before, _team(row)

    async def delete(self, team_id: uuid.UUID, expected_version: ExpectedVersion) -> Team:
        async with self._engine.begin() as connection:
            before = await _locked(connection, team_id, expected_version)
            # The row lock makes new members and children wait (they lock the team to share).
            if await connection.scalar(select(exists().where(users.c.team_id == team_id))):
                raise PreconditionFailed("the team still has members; move them first")
            if await connection.scalar(select(exists().where(teams.c.parent_id == team_id))):
                raise PreconditionFailed("the team still has child teams; move them first")
            await connection.execute(sql_delete(teams).where(teams.c.id == team_id))
        return before


async def lock_team(connection: AsyncConnection, team_id: uuid.UUID) -> bool:
    """Within a writer's transaction: whether the team exists, kept so until commit."""
    found = await connection.scalar(
        select(teams.c.id).where(teams.c.id == team_id).with_for_update(read=True)
    )
    return found is not None


async def _lock_parent(connection: AsyncConnection, parent_id: uuid.UUID) -> None:
    if not await lock_team(connection, parent_id):
        raise InvalidArgument([FieldViolation("parent_id", "no such team")])


async def _locked(
    connection: AsyncConnection, team_id: uuid.UUID, expected_version: ExpectedVersion
) -> Team:
    row = (
        await connection.execute(select(teams).where(teams.c.id == team_id).with_for_update())
    ).first()
    if row is None:
        raise NotFound(f"team {team_id} not found")
    expected_version.check(row.version, f"team {team_id}")
    return _team(row)


async def _is_ancestor_or_self(
    connection: AsyncConnection, team_id: uuid.UUID, *, of: uuid.UUID
) -> bool:
    """Whether `team_id` is `of` or one of its ancestors."""
    ancestors = select(literal(of, UUID(as_uuid=True)).label("id")).cte("ancestors", recursive=True)
    ancestors = ancestors.union(
        select(teams.c.parent_id).where(
            teams.c.id == ancestors.c.id, teams.c.parent_id.is_not(None)
        )
    )
    found = await connection.scalar(
        select(func.count()).select_from(ancestors).where(ancestors.c.id == team_id)
    )
    return bool(found)


def _team(row: Row[Any]) -> Team:
    return Team(
        id=row.id,
        name=row.name,
        parent_id=row.parent_id,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
