"""One repository class serves accounts and contacts: the tables differ only in columns,
which map one-to-one onto the dataclass fields."""

import uuid
from dataclasses import fields
from typing import Any, Generic

from sqlalchemy import Table, and_, func, insert, select, update

from crm_customer.domain.records import R
from crm_platform.auth.principal import Principal, Scope
from crm_platform.db.engine import Executor
from crm_platform.db.visibility import visible_rows


class SqlRecordRepository(Generic[R]):
    def __init__(self, session: Executor, table: Table, record_type: type[R]) -> None:
        self._session = session
        self._table = table
        self._type = record_type
        self._columns = [table.c[f.name] for f in fields(record_type)]

    async def get(self, record_id: uuid.UUID, *, principal: Principal, scope: Scope) -> R | None:
        query = select(*self._columns).where(
            self._table.c.id == record_id,
            self._table.c.deleted_at.is_(None),
            visible_rows(self._table, principal, scope),
        )
        row = (await self._session.execute(query)).first()
        return self._to_record(row._mapping) if row else None

    async def page(
        self,
        *,
        principal: Principal,
        scope: Scope,
        after: uuid.UUID | None,
        limit: int,
        filters: dict[str, Any],
    ) -> list[R]:
        conditions = [
            self._table.c.deleted_at.is_(None),
            visible_rows(self._table, principal, scope),
        ]
        conditions += [self._table.c[name] == value for name, value in filters.items()]
        if after is not None:
            conditions.append(self._table.c.id < after)
        query = (
            select(*self._columns)
            .where(and_(*conditions))
            .order_by(self._table.c.id.desc())
            .limit(limit)
        )
        rows = await self._session.execute(query)
        return [self._to_record(row._mapping) for row in rows]

    async def add(self, record: R) -> None:
        await self._session.execute(insert(self._table).values(**self._to_row(record)))

    async def replace(self, record: R, *, expected_version: int) -> bool:
        values = self._to_row(record)
        del values["id"], values["created_at"]
        result = await self._session.execute(
            update(self._table)
            .where(self._table.c.id == record.id, self._table.c.version == expected_version)
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, record: R, *, expected_version: int) -> bool:
        # Kept, marked deleted: history, events and references to it stay meaningful.
        result = await self._session.execute(
            update(self._table)
            .where(
                self._table.c.id == record.id,
                self._table.c.version == expected_version,
                self._table.c.deleted_at.is_(None),
            )
            .values(version=record.version, updated_at=record.updated_at, deleted_at=func.now())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def _to_record(self, row: Any) -> R:
        values = dict(row)
        if "tags" in values:
            values["tags"] = tuple(values["tags"])
        return self._type(**values)

    def _to_row(self, record: R) -> dict[str, Any]:
        values = record.snapshot()
        if "tags" in values:
            values["tags"] = list(values["tags"])
        return values
