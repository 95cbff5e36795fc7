"""The users table (mirrored by migrations/) and its repository."""

import uuid
from typing import Any

from sqlalchemy import ARRAY, Boolean, CheckConstraint, Column, String, Table, select, update
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.identity.domain import User
from crm_platform.db.schema import (
    id_column,
    new_metadata,
    timestamp_columns,
    utcnow,
    version_column,
)

metadata = new_metadata()

users = Table(
    "users",
    metadata,
    id_column(),
    version_column(),
    Column("email", String(254), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, server_default=""),
    Column("password_hash", String(255), nullable=False),
    Column("roles", ARRAY(String(50)), nullable=False, server_default="{}"),
    Column("team_id", UUID(as_uuid=True)),
    Column("active", Boolean, nullable=False, server_default="true"),
    *timestamp_columns(),
    # Lookups lower-case the email; the constraint keeps every writer honest.
    CheckConstraint("email = lower(email)", name="email_lower_case"),
)


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
        if row is None:
            return None
        return User(
            id=row.id,
            email=row.email,
            display_name=row.display_name,
            roles=tuple(row.roles),
            team_id=row.team_id,
            active=row.active,
            version=row.version,
            password_hash=row.password_hash,
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
