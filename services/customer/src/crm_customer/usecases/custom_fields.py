"""Custom field definitions: admins (the `custom_field` permission) define, change and
remove them; whoever may read an entity's records may read its definitions, to show and
fill its forms. Record writes hold custom values to them through `typed_custom_values`."""

from collections.abc import Mapping, Sequence
from typing import Any

from crm_customer.domain.custom_fields import ENTITIES, CustomField, with_typed_custom_values
from crm_customer.usecases.ports import UnitOfWork
from crm_platform.auth.principal import Action, Principal
from crm_platform.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
    StaleVersion,
)

OBJ = "custom_field"
_READERS = {"contacts": "contact", "accounts": "account"}


async def define_custom_field(
    *,
    uow: UnitOfWork,
    principal: Principal,
    entity: str,
    name: str,
    label: str,
    type: str,
    options: Sequence[str] = (),
    max_length: int = 0,
    required: bool = False,
) -> CustomField:
    principal.require(OBJ, Action.CREATE)
    field = CustomField.define(
        entity=entity,
        name=name,
        label=label,
        type=type,
        options=options,
        max_length=max_length,
        required=required,
    )
    async with uow:
        if not await uow.custom_fields.add(field):
            raise AlreadyExists(f"{entity} already have a custom field {name!r}")
        await uow.commit()
    return field


async def list_custom_fields(
    *, uow: UnitOfWork, principal: Principal, entity: str
) -> list[CustomField]:
    if entity not in ENTITIES:
        raise InvalidArgument([FieldViolation("entity", "must be contacts or accounts")])
    principal.require(_READERS[entity], Action.READ)
    async with uow:
        return list((await uow.custom_fields.of(entity)).values())


async def change_custom_field(
    *,
    uow: UnitOfWork,
    principal: Principal,
    entity: str,
    name: str,
    expected_version: int,
    label: str,
    options: Sequence[str] = (),
    max_length: int = 0,
    required: bool | None = None,
) -> CustomField:
    principal.require(OBJ, Action.EDIT)
    async with uow:
        current = await _defined(uow, entity, name, expected_version)
        changed = current.change(
            label=label, options=options, max_length=max_length, required=required
        )
        if not await uow.custom_fields.replace(changed, expected_version=expected_version):
            raise StaleVersion("the custom field was changed concurrently")
        await uow.commit()
    return changed


async def remove_custom_field(
    *, uow: UnitOfWork, principal: Principal, entity: str, name: str, expected_version: int
) -> None:
    """The definition goes; values already stored stay, free-form, as before it existed."""
    principal.require(OBJ, Action.DELETE)
    async with uow:
        current = await _defined(uow, entity, name, expected_version)
        if not await uow.custom_fields.delete(current, expected_version=expected_version):
            raise StaleVersion("the custom field was changed concurrently")
        await uow.commit()


async def typed_custom_values(
    uow: UnitOfWork, entity: str, values: Mapping[str, Any], *, creating: bool
) -> Mapping[str, Any]:
    """`values` (a record write, `creating` a record or not) with its custom field values
    held to their definitions; call inside the write's unit of work."""
    if "custom_fields" not in values and not creating:
        return values
    definitions = await uow.custom_fields.of(entity)
    return with_typed_custom_values(definitions, values, creating=creating)


async def _defined(uow: UnitOfWork, entity: str, name: str, expected_version: int) -> CustomField:
    field = (await uow.custom_fields.of(entity)).get(name) if entity in ENTITIES else None
    if field is None:
        raise NotFound(f"{entity} have no custom field {name!r}")
    if field.version != expected_version:
        raise StaleVersion(f"custom field is at version {field.version}, not {expected_version}")
    return field
