"""The users table's repository (the tables are in crm_gateway.identity.schema)."""

import uuid
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.identity.domain import User
from crm_gateway.identity.schema import metadata, users
from crm_platform.db.schema import utcnow

__all__ = ["SqlUserRepository", "metadata", "users"]


class SqlUserRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self._one(users.c.id == user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(users.c.email == email)

    async def add_if_absent(self, user: User) -> bool:
        """Insert unless the email is taken: two gateways starting at once both try."""
        statement = (
            insert(users)
            .values(_row(user))
            .on_conflict_do_nothing(index_elements=[users.c.email])
            .returning(users.c.id)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).first() is not None

    async def replace_password_hash(self, user: User, password_hash: str) -> None:
        # Guarded by version: a concurrent change (e.g. a new password) wins over a rehash.
        statement = (
            update(users)
            .where(users.c.id == user.id, users.c.version == user.version)
            .values(password_hash=password_hash, version=user.version + 1, updated_at=utcnow())
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def _one(self, condition: Any) -> User | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(users).where(condition))).first()
        return None if row is None else user_of(row)


def user_of(row: Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        roles=tuple(row.roles),
        team_id=row.team_id,
        active=row.active,
        version=row.version,
        password_hash=row.password_hash,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _row(user: User) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": user.id,
        "version": user.version,
        "email": user.email,
        "display_name": user.display_name,
        "password_hash": user.password_hash,
        "roles": list(user.roles),
        "team_id": user.team_id,
        "active": user.active,
        "created_at": now,
        "updated_at": now,
    }
