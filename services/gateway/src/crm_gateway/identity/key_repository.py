"""The api_keys table's repository (the table is in crm_gateway.identity.schema)."""

import datetime as dt
import uuid
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_gateway.identity.keys import ApiKey
from crm_gateway.identity.role_store import lock_custom_roles
from crm_gateway.identity.schema import api_keys
from crm_platform.errors import FieldViolation, InvalidArgument

_COLUMNS = [api_keys.c[f.name] for f in fields(ApiKey)]


class SqlApiKeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, key: ApiKey) -> None:
        async with self._engine.begin() as connection:
            unknown = await lock_custom_roles(connection, key.roles)
            if unknown:
                why = f"unknown roles: {', '.join(unknown)}"
                raise InvalidArgument([FieldViolation("roles", why)])
            await connection.execute(insert(api_keys).values(_row(key)))

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await self._one(api_keys.c.id == key_id)

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        return await self._one(api_keys.c.prefix == prefix)

    async def page(self, *, after: uuid.UUID | None, limit: int) -> list[ApiKey]:
        condition = api_keys.c.id < after if after is not None else and_(True)
        query = select(*_COLUMNS).where(condition).order_by(api_keys.c.id.desc()).limit(limit)
        async with self._engine.connect() as connection:
            rows = await connection.execute(query)
            return [_key(row._mapping) for row in rows]

    async def replace(self, key: ApiKey, *, expected_version: int) -> bool:
        values = _row(key)
        del values["id"], values["created_at"], values["last_used_at"]
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(api_keys)
                .where(api_keys.c.id == key.id, api_keys.c.version == expected_version)
                .values(values)
            )
        return bool(result.rowcount)

    async def record_use(self, key_id: uuid.UUID, at: dt.datetime) -> None:
        # No version change: using a key is no edit, and the callers' caches key on it.
        statement = update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at)
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def _one(self, condition: Any) -> ApiKey | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(*_COLUMNS).where(condition))).first()
        return _key(row._mapping) if row else None


def _row(key: ApiKey) -> dict[str, Any]:
    values = asdict(key)
    values["roles"] = list(key.roles)
    return values


def _key(row: Any) -> ApiKey:
    values = dict(row)
    values["roles"] = tuple(values["roles"])
    return ApiKey(**values)
