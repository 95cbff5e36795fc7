"""Custom field definitions in PostgreSQL: one row per entity and name."""

from dataclasses import asdict, fields

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects.postgresql import insert as upsert

from crm_customer.domain.custom_fields import CustomField, FieldType
from crm_customer.repository import tables
from crm_platform.db.engine import Executor

_table = tables.custom_fields
_COLUMNS = [_table.c[f.name] for f in fields(CustomField)]


class SqlCustomFields:
    def __init__(self, session: Executor) -> None:
        self._session = session

    async def of(self, entity: str) -> dict[str, CustomField]:
        query = select(*_COLUMNS).where(_table.c.entity == entity).order_by(_table.c.name)
        return {row.name: _field(row._mapping) for row in await self._session.execute(query)}

    async def add(self, field: CustomField) -> bool:
        """False when the entity already has a field of that name."""
        statement = (
            upsert(_table).values(**_row(field)).on_conflict_do_nothing().returning(_table.c.name)
        )
        return (await self._session.execute(statement)).first() is not None

    async def replace(self, field: CustomField, *, expected_version: int) -> bool:
        result = await self._session.execute(
            update(_table)
            .where(*_key(field), _table.c.version == expected_version)
            .values(**_row(field))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, field: CustomField, *, expected_version: int) -> bool:
        result = await self._session.execute(
            delete(_table).where(*_key(field), _table.c.version == expected_version)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _key(field: CustomField) -> list[ColumnElement[bool]]:
    return [_table.c.entity == field.entity, _table.c.name == field.name]


def _row(field: CustomField) -> dict[str, object]:
    return {**asdict(field), "type": field.type.value, "options": list(field.options)}


def _field(row: object) -> CustomField:
    values = dict(row)  # type: ignore[call-overload]
    return CustomField(
        **{**values, "type": FieldType(values["type"]), "options": tuple(values["options"])}
    )
