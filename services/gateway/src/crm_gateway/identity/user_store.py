"""Users as the administration sees them: pages, creation and changes, each checking in its
transaction that the team and the custom roles named exist (and keeping them so)."""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm_gateway.identity.domain import User
from crm_gateway.identity.repository import user_of
from crm_gateway.identity.role_store import lock_custom_roles
from crm_gateway.identity.schema import users
from crm_gateway.identity.session_store import revoke_sessions_of
from crm_gateway.identity.team_store import lock_team
from crm_gateway.preconditions import ExpectedVersion
from crm_platform.db.schema import utcnow
from crm_platform.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
)


class SqlUserAdminStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(
        self,
        *,
        after: uuid.UUID | None,
        limit: int,
        within: frozenset[uuid.UUID] | None,
        self_id: uuid.UUID,
    ) -> list[User]:
        """Users in id order; `within` limits them to those teams and `self_id` (None: all)."""
        statement = select(users).order_by(users.c.id).limit(limit)
        if after is not None:
            statement = statement.where(users.c.id > after)
        if within is not None:
            statement = statement.where(or_(users.c.id == self_id, users.c.team_id.in_(within)))
        async with self._engine.connect() as connection:
            return [user_of(row) for row in await connection.execute(statement)]

    async def add(self, user: User) -> User:
        now = utcnow()
        values = {
            "id": user.id, "version": 1, "email": user.email, "display_name": user.display_name,
            "password_hash": user.password_hash, "roles": list(user.roles),
            "team_id": user.team_id, "active": user.active, "created_at": now, "updated_at": now,
        }  # fmt: skip
        statement = (
            insert(users)
            .values(values)
            .on_conflict_do_nothing(index_elements=[users.c.email])
            .returning(*users.c)
        )
        async with self._engine.begin() as connection:
            await _lock_references(connection, user.team_id, user.roles)
            row = (await connection.execute(statement)).first()
        if row is None:
            raise _email_taken(user.email)
        return user_of(row)

    async def update(
        self,
        user_id: uuid.UUID,
        expected_version: ExpectedVersion,
        changes: Mapping[str, Any],
        *,
        end_sessions: bool,
    ) -> tuple[User, User]:
        """Apply `changes` (column -> value); with `end_sessions`, revoke all the user's
        sessions in the same transaction. The user before and after."""
        try:
            async with self._engine.begin() as connection:
                before = await _locked(connection, user_id, expected_version)
                await _lock_references(
                    connection, changes.get("team_id"), changes.get("roles") or ()
                )
                after = await _write(connection, before, changes)
                if end_sessions:
                    await revoke_sessions_of(connection, user_id)
        except IntegrityError as exc:
            if "uq_users_email" in str(exc.orig):
                raise _email_taken(str(changes.get("email"))) from None
            raise
        return before, after


async def _write(connection: AsyncConnection, before: User, changes: Mapping[str, Any]) -> User:
    values = {**changes, "version": before.version + 1, "updated_at": utcnow()}
    if "roles" in values:
        values["roles"] = list(values["roles"])
    statement = update(users).where(users.c.id == before.id).values(values).returning(*users.c)
    return user_of((await connection.execute(statement)).one())


async def _lock_references(
    connection: AsyncConnection, team_id: uuid.UUID | None, role_names: Sequence[str]
) -> None:
    """The team and custom roles exist, and cannot be deleted before this commits."""
    violations = []
    if team_id is not None and not await lock_team(connection, team_id):
        violations.append(FieldViolation("team_id", "no such team"))
    unknown = await lock_custom_roles(connection, role_names)
    if unknown:
        violations.append(FieldViolation("roles", f"unknown roles: {', '.join(unknown)}"))
    if violations:
        raise InvalidArgument(violations)


async def _locked(
    connection: AsyncConnection, user_id: uuid.UUID, expected_version: ExpectedVersion
) -> User:
    row = (
        await connection.execute(select(users).where(users.c.id == user_id).with_for_update())
    ).first()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    expected_version.check(row.version, f"user {user_id}")
    return user_of(row)


def _email_taken(email: str) -> AlreadyExists:
    return AlreadyExists(f"a user with email {email} exists")
