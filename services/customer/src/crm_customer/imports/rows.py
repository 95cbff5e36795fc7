"""One row of an import as the values to store, or the reason it is rejected (issue 3: a
row without a name, with an email that is not an address or a phone that cannot be read
is rejected; the file goes on). Called once per row: keep it lean."""

from dataclasses import dataclass

import phonenumbers

from crm_customer.imports.columns import ColumnMap, Entity
from crm_customer.imports.errors import ImportFileError
from crm_customer.imports.names import split_full_name
from crm_customer.imports.reader import RawRow
from crm_customer.imports.values import RULES

_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
_NAME_PROBLEMS = ("name ", "first_name ", "last_name ", "full_name ")
_SHOWN_CHARACTERS = 40  # of a bad value quoted in the reason: enough to find it


@dataclass(frozen=True)
class ParsedRow:
    """`values` are normalized (trimmed, emails lower-case, phones E.164, tags a tuple,
    birthday a date, size an int) and hold only non-empty fields; a contact's full name
    is split into first_name and last_name. When `error` is set, `values` must not be
    stored: it says, for the uploader, everything wrong with the row."""

    line: int
    values: dict[str, object]
    error: str | None = None


def check_region(region: str | None) -> str | None:
    """The default phone region in capitals ("cn" is CN), if phonenumbers knows it."""
    if region is None:
        return None
    if region.upper() not in _REGIONS:
        raise ImportFileError(
            f"the default region {region!r} is not a country code; use one like CN or DE"
        )
    return region.upper()


def normalize_row(row: RawRow, columns: ColumnMap, *, default_region: str | None) -> ParsedRow:
    if row.problem:
        return ParsedRow(row.line, {}, row.problem)
    region = check_region(default_region)
    rules = RULES[columns.entity]
    cells = row.cells
    values: dict[str, object] = {}
    problems: list[str] = []
    for field, index in columns.fields.items():
        raw = cells[index].strip()
        if raw:
            try:
                values[field] = rules[field](raw, region) if field in rules else raw
            except ValueError as error:
                problems.append(f"{field} '{_shown(raw)}' {error}")
    if columns.entity is Entity.CONTACTS:
        _contact_names(values, problems)
        if values.get("mobile") == values.get("phone"):
            values.pop("mobile", None)  # the same number twice is one number
    if not _has_name(values, columns.entity) and not _name_rejected(problems):
        problems.insert(0, "no name")
    if problems:
        return ParsedRow(row.line, {}, "; ".join(problems))
    return ParsedRow(row.line, values)


def _contact_names(values: dict[str, object], problems: list[str]) -> None:
    """A full name counts only when the row has neither first nor last name."""
    full_name = values.pop("full_name", None)
    if not isinstance(full_name, str) or "first_name" in values or "last_name" in values:
        return
    first, last = split_full_name(full_name)
    for field, part in (("first_name", first), ("last_name", last)):
        if len(part) > 100:
            problems.append(f"{field} '{_shown(part)}' must be at most 100 characters")
        elif part:
            values[field] = part


def _has_name(values: dict[str, object], entity: Entity) -> bool:
    if entity is Entity.CONTACTS:
        return "first_name" in values or "last_name" in values
    return "name" in values


def _name_rejected(problems: list[str]) -> bool:
    """Whether a name was there but is wrong (too long): then "no name" would mislead."""
    return any(problem.startswith(_NAME_PROBLEMS) for problem in problems)


def _shown(raw: str) -> str:
    return raw if len(raw) <= _SHOWN_CHARACTERS else raw[:_SHOWN_CHARACTERS] + "..."
