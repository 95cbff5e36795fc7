"""The users table's repository (the tables are in crm_gateway.identity.schema)."""

import uuid
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.identity.domain import User
from crm_gateway.identity.schema import sso_identities, users
from crm_platform.db.schema import utcnow


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

    async def get_by_sso(self, issuer: str, subject: str) -> User | None:
        joined = users.join(sso_identities, sso_identities.c.user_id == users.c.id)
        statement = select(users).select_from(joined)
        return await self._first(
            statement.where(sso_identities.c.issuer == issuer, sso_identities.c.subject == subject)
        )

    async def link_sso(self, user_id: uuid.UUID, issuer: str, subject: str) -> bool:
        statement = (
            insert(sso_identities)
            .values(issuer=issuer, subject=subject, user_id=user_id)
            .on_conflict_do_nothing()
            .returning(sso_identities.c.user_id)
        )
        async with self._engine.begin() as connection:
            return (await connection.execute(statement)).first() is not None

    async def add_sso_user(self, user: User, issuer: str, subject: str) -> bool:
        add_user = (
            insert(users)
            .values(_row(user))
            .on_conflict_do_nothing(index_elements=[users.c.email])
            .returning(users.c.id)
        )
        link = (
            insert(sso_identities)
            .values(issuer=issuer, subject=subject, user_id=user.id)
            .on_conflict_do_nothing()
            .returning(sso_identities.c.user_id)
        )
        async with self._engine.begin() as connection:
            if (await connection.execute(add_user)).first() is None:
                return False
            if (await connection.execute(link)).first() is None:
                # A concurrent first request of the same identity linked it first.
                await connection.rollback()
                return False
            return True

    async def replace_roles(self, user: User, roles: tuple[str, ...]) -> User:
        # Unguarded by version: the issuer's word on roles is the newest there is.
        statement = (
            update(users)
            .where(users.c.id == user.id)
            .values(roles=list(roles), version=users.c.version + 1, updated_at=utcnow())
            .returning(*users.c)
        )
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        return user if row is None else user_of(row)

    async def _one(self, condition: Any) -> User | None:
        return await self._first(select(users).where(condition))

    async def _first(self, statement: Any) -> User | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement)).first()
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
