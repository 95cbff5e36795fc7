"""The custom roles table. Users and API keys hold roles by name, so a role's name never
changes and a role still held cannot be deleted."""

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Row, any_, delete, exists, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm_gateway.identity.domain import Role
from crm_gateway.identity.roles import BUILT_IN_ROLES
from crm_gateway.identity.schema import api_keys, roles, users
from crm_gateway.preconditions import ExpectedVersion
from crm_platform.db.schema import utcnow
from crm_platform.errors import AlreadyExists, NotFound, PreconditionFailed


class SqlRoles:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def page(self, *, after: str | None, limit: int) -> list[Role]:
        statement = select(roles).order_by(roles.c.name).limit(limit)
        if after is not None:
            statement = statement.where(roles.c.name > after)
        async with self._engine.connect() as connection:
            return [_role(row) for row in await connection.execute(statement)]

    async def get(self, name: str) -> Role | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(roles).where(roles.c.name == name))).first()
        return _role(row) if row else None

    async def add(self, role_id: uuid.UUID, name: str, permissions: Mapping[str, Any]) -> Role:
        now = utcnow()
        statement = (
            insert(roles)
            .values(id=role_id, version=1, name=name, permissions=permissions,
                    created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=[roles.c.name])
            .returning(*roles.c)
        )  # fmt: skip
        async with self._engine.begin() as connection:
            row = (await connection.execute(statement)).first()
        if row is None:
            raise AlreadyExists(f"a role named {name} exists")
        return _role(row)

    async def update(
        self, name: str, expected_version: ExpectedVersion, permissions: Mapping[str, Any]
    ) -> tuple[Role, Role]:
        async with self._engine.begin() as connection:
            before = await _locked(connection, name, expected_version)
            statement = (
                update(roles)
                .where(roles.c.name == name)
                .values(permissions=permissions, version=before.version + 1, updated_at=utcnow())
                .returning(*roles.c)
            )
            row = (await connection.execute(statement)).one()
        return before, _role(row)

    async def delete(self, name: str, expected_version: ExpectedVersion) -> Role:
        async with self._engine.begin() as connection:
            # The row lock makes users being given this role wait (they lock it to share).
            before = await _locked(connection, name, expected_version)
            for holders, table in (("users", users), ("API keys", api_keys)):
                holding = [literal(name) == any_(table.c.roles)]
                if table is api_keys:  # inside the EXISTS: a revoked key holds nothing
                    holding.append(api_keys.c.revoked_at.is_(None))
                if await connection.scalar(select(exists().where(*holding))):
                    raise PreconditionFailed(
                        f"{holders} still hold the role {name}; take it away first"
                    )
            await connection.execute(delete(roles).where(roles.c.name == name))
        return before


async def lock_custom_roles(connection: AsyncConnection, names: Iterable[str]) -> list[str]:
    """The custom roles among `names` that do not exist; the others cannot be deleted before
    this transaction ends (they are locked to share)."""
    custom = sorted(set(names) - BUILT_IN_ROLES)
    if not custom:
        return []
    statement = select(roles.c.name).where(roles.c.name.in_(custom)).with_for_update(read=True)
    found = set(await connection.scalars(statement))
    return [name for name in custom if name not in found]


async def _locked(
    connection: AsyncConnection, name: str, expected_version: ExpectedVersion
) -> Role:
    row = (
        await connection.execute(select(roles).where(roles.c.name == name).with_for_update())
    ).first()
    if row is None:
        raise NotFound(f"role {name} not found")
    expected_version.check(row.version, f"role {name}")
    return _role(row)


def _role(row: Row[Any]) -> Role:
    return Role(
        name=row.name,
        permissions=row.permissions,
        built_in=False,
        version=row.version,
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
