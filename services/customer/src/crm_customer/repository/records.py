"""One repository class serves accounts and contacts: the tables differ only in columns,
which map one-to-one onto the dataclass fields."""

import uuid
from dataclasses import fields
from functools import partial
from typing import Any, Generic

from sqlalchemy import ARRAY, Table, and_, func, select, text, update

from crm_customer.domain.records import R, Record
from crm_customer.domain.search import Cursor, Filter, Order
from crm_customer.domain.values import from_json, to_json
from crm_customer.repository import search
from crm_platform.auth.principal import Principal, Scope
from crm_platform.db.bulk import copy_objects, json_writer
from crm_platform.db.engine import Executor
from crm_platform.db.visibility import visible_rows

_SORT_KEY = "sort_key"

# An import batch's lookup of its thousands of keys, planned as that whatever the table's
# statistics say. After five runs of a prepared statement PostgreSQL may switch to a
# generic plan, made without the arrays' values: `= ANY(array)` then compares each element
# with every value (no hashing), 15x slower; the rest of the batch's transaction keeps
# custom plans too. And a table an import is filling looks small to the planner until
# autovacuum analyzes it again: it scanned the whole table for each kind of key, with two
# parallel workers started for it, 30-85 ms a batch at 10,000-50,000 contacts. Only this
# lookup goes without them: another read of the batch may have no index to use (an
# account's website, in skip_duplicates mode), where a sequential scan is the best plan.
_KEYED_LOOKUP = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('enable_seqscan', 'off', true),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)
_AFTER_KEYED_LOOKUP = text(
    "SELECT set_config(name, reset_val, true) FROM pg_settings"
    " WHERE name IN ('enable_seqscan', 'max_parallel_workers_per_gather')"
)
# Held until commit by whoever walks the account hierarchy to change it (`ancestors`).
_LOCK_HIERARCHY = text("SELECT pg_advisory_xact_lock(hashtext('crm_customer.account_parents'))")
# UNION, not UNION ALL: a repeated id ends the walk, so a cycle stored ends it too.
_ANCESTORS = text(
    """
    WITH RECURSIVE up(parent_id) AS (
        SELECT parent_id FROM accounts WHERE id = :start AND parent_id IS NOT NULL
        UNION
        SELECT a.parent_id FROM accounts a JOIN up ON a.id = up.parent_id
        WHERE a.parent_id IS NOT NULL
    )
    SELECT parent_id FROM up
    """
)


class SqlRecordRepository(Generic[R]):
    def __init__(self, session: Executor, table: Table, record_type: type[R]) -> None:
        self._session = session
        self._table = table
        self._type = record_type
        self._columns = [table.c[f.name] for f in fields(record_type)]
        self._fields = _fields(table, record_type)

    async def get(
        self,
        record_id: uuid.UUID,
        *,
        principal: Principal,
        scope: Scope,
        for_update: bool = False,
        for_share: bool = False,
    ) -> R | None:
        query = select(*self._columns).where(
            self._table.c.id == record_id,
            self._table.c.deleted_at.is_(None),
            visible_rows(self._table, principal, scope),
        )
        if for_update or for_share:
            query = query.with_for_update(read=not for_update)
        row = (await self._session.execute(query)).first()
        return self._to_record(row) if row else None

    async def merged_into(
        self, record_id: uuid.UUID, *, principal: Principal, scope: Scope
    ) -> uuid.UUID | None:
        table = self._table
        query = select(table.c.merged_into_id).where(
            table.c.id == record_id,
            table.c.deleted_at.is_not(None),
            visible_rows(table, principal, scope),
        )
        found: uuid.UUID | None = (await self._session.execute(query)).scalar()
        return found

    async def referring_to(self, account_id: uuid.UUID) -> list[R]:
        c = self._table.c
        pointing = (
            [c.parent_id == account_id]
            if "parent_id" in c
            else search.conditions(self._table, Filter(account_id=account_id))
        )
        query = (
            select(*self._columns)
            .where(c.deleted_at.is_(None), *pointing)
            .order_by(c.id)  # rows locked in one order: concurrent merges cannot deadlock
            .with_for_update()
        )
        return [self._to_record(row) for row in await self._session.execute(query)]

    async def parent_of(self, account_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self._session.scalar(
            select(self._table.c.parent_id).where(self._table.c.id == account_id)
        )
        return found

    async def lock_hierarchy(self) -> None:
        await self._session.execute(_LOCK_HIERARCHY)

    async def ancestors(self, account_id: uuid.UUID) -> list[uuid.UUID]:
        await self.lock_hierarchy()
        rows = await self._session.execute(_ANCESTORS, {"start": account_id})
        return [row.parent_id for row in rows]

    async def page(
        self,
        *,
        principal: Principal,
        scope: Scope,
        wanted: Filter,
        order: Order,
        after: Cursor | None,
        limit: int,
    ) -> list[tuple[R, Any]]:
        table = self._table
        conditions = [
            table.c.deleted_at.is_(None),
            visible_rows(table, principal, scope),
            *search.conditions(table, wanted),
        ]
        if after is not None:
            conditions.append(search.after(table, order, after.value, after.last_id))
        key = search.sort_key(table, order)
        extra = [key.label(_SORT_KEY)] if key is not None else []
        query = (
            select(*self._columns, *extra)
            .where(and_(*conditions))
            .order_by(*search.sort_columns(table, order))
            .limit(limit)
        )
        rows = await self._session.execute(query)
        return [(self._to_record(row), row[-1] if extra else None) for row in rows]

    async def count(self, *, principal: Principal, scope: Scope, wanted: Filter) -> int:
        table = self._table
        query = select(func.count()).where(
            table.c.deleted_at.is_(None),
            visible_rows(table, principal, scope),
            *search.conditions(table, wanted),
        )
        return int((await self._session.execute(query)).scalar_one())

    async def look_alikes(
        self, record: R, *, principal: Principal, scope: Scope, limit: int
    ) -> list[R]:
        table = self._table
        query = (
            select(*self._columns)
            .where(
                table.c.deleted_at.is_(None),
                table.c.id != record.id,
                visible_rows(table, principal, scope),
                search.look_alikes(table, record),
            )
            .order_by(table.c.id.desc())
            .limit(limit)
        )
        return [self._to_record(row) for row in await self._session.execute(query)]

    async def with_keys(
        self,
        *,
        emails: list[str],
        phones: list[str],
        names: list[str],
        principal: Principal,
        scope: Scope,
    ) -> list[R]:
        table = self._table
        query = select(*self._columns).where(
            table.c.deleted_at.is_(None),
            visible_rows(table, principal, scope),
            search.with_keys(table, emails=emails, phones=phones, names=names),
        )
        await self._session.execute(_KEYED_LOOKUP)
        found = [self._to_record(row) for row in await self._session.execute(query)]
        await self._session.execute(_AFTER_KEYED_LOOKUP)
        return found

    async def named(
        self, names: list[str], *, principal: Principal, scope: Scope
    ) -> list[tuple[uuid.UUID, str]]:
        table = self._table
        query = (
            select(table.c.id, table.c.name)
            .where(
                table.c.deleted_at.is_(None),
                visible_rows(table, principal, scope),
                search.with_keys(table, emails=[], phones=[], names=names),
            )
            .order_by(table.c.created_at)
        )
        return [(row.id, row.name) for row in await self._session.execute(query)]

    async def add(self, record: R) -> None:
        await self.add_many([record])

    async def add_many(self, records: list[R]) -> None:
        writers = [(name, write) for name, _, write in self._fields]
        await copy_objects(self._session, self._table, writers, records)

    async def replace(self, record: R, *, expected_version: int) -> bool:
        values = self._to_row(record)
        del values["id"], values["created_at"]
        result = await self._session.execute(
            update(self._table)
            .where(self._table.c.id == record.id, self._table.c.version == expected_version)
            .values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(
        self, record: R, *, expected_version: int, merged_into: uuid.UUID | None = None
    ) -> bool:
        # Kept, marked deleted: history, events and references to it stay meaningful.
        result = await self._session.execute(
            update(self._table)
            .where(
                self._table.c.id == record.id,
                self._table.c.version == expected_version,
                self._table.c.deleted_at.is_(None),
            )
            .values(
                version=record.version,
                updated_at=record.updated_at,
                deleted_at=func.now(),
                merged_into_id=merged_into,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def _to_record(self, row: Any) -> R:
        """`row` holds the record's columns in field order; a sort key may follow (not read)."""
        return self._type(
            *[
                value if read is None or value is None else read(value)
                for (_, read, _), value in zip(self._fields, row, strict=False)
            ]
        )

    def _to_row(self, record: R) -> dict[str, Any]:
        values = record.snapshot()
        for name, value in values.items():
            if name in self._type.STORED_AS_JSON:
                values[name] = to_json(value)
            elif isinstance(value, tuple):
                values[name] = list(value)
        return values


def _fields(table: Table, record_type: type[Record]) -> tuple[tuple[str, Any, Any], ...]:
    """Per field of `record_type`: its name, how its stored value becomes the record's, and
    how the record's goes into COPY (None: as it is). Built once: every row read or
    imported goes through them."""
    found = _FIELDS.get(record_type)
    if found is None:
        found = _FIELDS[record_type] = tuple(
            (f.name, *_converters(table, record_type, f.name)) for f in fields(record_type)
        )
    return found


_FIELDS: dict[type[Record], tuple[tuple[str, Any, Any], ...]] = {}


def _converters(table: Table, record_type: type[Record], name: str) -> tuple[Any, Any]:
    """(read, write) of one field."""
    column = table.c[name].type
    if name in record_type.STORED_AS_JSON:
        kind = record_type.STORED_AS_JSON[name]
        as_json = json_writer(column)

        def write(value: Any) -> Any:
            return as_json(to_json(value))

        if kind is dict:
            return None, write
        read_one = partial(from_json, kind)

        def read(value: Any) -> Any:
            return tuple(map(read_one, value)) if value.__class__ is list else read_one(value)

        return read, write
    if isinstance(column, ARRAY):
        return tuple, list
    return None, None
