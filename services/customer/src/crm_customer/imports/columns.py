"""Which column holds which field: the uploader's explicit mapping first, then the headers
recognised in English or Chinese; everything else is ignored and reported as such."""

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from crm_customer.imports.errors import ImportFileError
from crm_customer.imports.synonyms import (
    ACCOUNT_FIELDS,
    ACCOUNT_HEADERS,
    CONTACT_FIELDS,
    CONTACT_HEADERS,
    header_key,
)


class Entity(enum.StrEnum):
    CONTACTS = "contacts"
    ACCOUNTS = "accounts"


_FIELDS = {Entity.CONTACTS: CONTACT_FIELDS, Entity.ACCOUNTS: ACCOUNT_FIELDS}
_HEADERS = {Entity.CONTACTS: CONTACT_HEADERS, Entity.ACCOUNTS: ACCOUNT_HEADERS}
_NAME_FIELDS = {
    Entity.CONTACTS: ("full_name", "first_name", "last_name"),
    Entity.ACCOUNTS: ("name",),
}
SKIP = ""  # the field an explicit mapping gives a column that must not be imported
# A mapping may send a column to a custom field: `custom_fields.<name>` (typed, if the
# admin defined the field, when the row is stored).
CUSTOM_FIELD = re.compile(r"custom_fields\.[a-z][a-z0-9_]{0,49}")


@dataclass(frozen=True)
class ColumnMap:
    entity: Entity
    fields: dict[str, int]  # field -> index of the column holding it, in column order
    ignored: tuple[str, ...]  # headers of the columns not imported ("column 3" if unnamed)


def map_headers(
    headers: list[str], entity: Entity | str, mapping: Mapping[str, str] | None = None
) -> ColumnMap:
    """The columns of a file with these `headers` as fields of `entity`. `mapping` (header
    -> field, or "" to skip a column) wins over recognised headers; ImportFileError when it
    names unknown fields or columns, or when no column holds a name."""
    entity = _entity(entity)
    by_column = _explicit(headers, entity, mapping or {})
    taken = set(by_column.values())
    for index, header in enumerate(headers):
        if index not in by_column:
            field = _recognised(header, entity, taken)
            if field:
                by_column[index] = field
                taken.add(field)
    fields = {field: index for index, field in sorted(by_column.items()) if field != SKIP}
    if not any(name in fields for name in _NAME_FIELDS[entity]):
        raise _no_name_column(headers, entity)
    ignored = tuple(
        header or f"column {index + 1}"
        for index, header in enumerate(headers)
        if by_column.get(index, SKIP) == SKIP
    )
    return ColumnMap(entity, fields, ignored)


def _entity(entity: Entity | str) -> Entity:
    try:
        return Entity(entity)
    except ValueError:
        raise ImportFileError(f"cannot import {entity!r}: only contacts or accounts") from None


def _explicit(headers: list[str], entity: Entity, mapping: Mapping[str, str]) -> dict[int, str]:
    known = _FIELDS[entity]
    unknown = sorted(
        field
        for field in set(mapping.values())
        if field != SKIP and field not in known and not CUSTOM_FIELD.fullmatch(field)
    )
    if unknown:
        raise _mapping_error(
            f"the mapping names fields that {entity} do not have: {', '.join(unknown)}; "
            f"the fields are {', '.join(known)}, or custom_fields.<name>"
        )
    by_column: dict[int, str] = {}
    named_as: dict[int, str] = {}
    missing = []
    for header, field in mapping.items():
        index = _column_of(header, headers)
        if index is None:
            missing.append(header)
            continue
        if index in named_as:
            raise _mapping_error(
                f"the mapping names the column {headers[index]!r} twice "
                f"(as {named_as[index]!r} and {header!r})"
            )
        if field != SKIP and field in by_column.values():
            raise _mapping_error(f"the mapping gives more than one column the field {field}")
        by_column[index] = field
        named_as[index] = header
    if missing:
        raise _mapping_error(
            f"the mapping names columns the file does not have: {', '.join(missing)}"
        )
    return by_column


def _mapping_error(message: str) -> ImportFileError:
    return ImportFileError(message, field="mapping")


def _column_of(header: str, headers: list[str]) -> int | None:
    """The column a mapping means: its exact header, else one written differently."""
    wanted = header.strip()
    if wanted in headers:
        return headers.index(wanted)
    key = header_key(wanted)
    return next((i for i, name in enumerate(headers) if header_key(name) == key), None)


def _recognised(header: str, entity: Entity, taken: set[str]) -> str | None:
    """The field a header names, unless an earlier column has it already. A second phone
    column of a contact is its mobile (people list office and mobile numbers side by side)."""
    field = _HEADERS[entity].get(header_key(header)) if header else None
    if field not in taken:
        return field
    if field == "phone" and entity is Entity.CONTACTS and "mobile" not in taken:
        return "mobile"
    return None


def _no_name_column(headers: list[str], entity: Entity) -> ImportFileError:
    examples = "姓名, name" if entity is Entity.CONTACTS else "公司名称, name"
    fields = " or ".join(_NAME_FIELDS[entity])
    found = ", ".join(header for header in headers if header) or "none"
    return ImportFileError(
        f"no column holds a name (the columns are: {found}); call one {examples}, "
        f"or map a column to {fields}"
    )
