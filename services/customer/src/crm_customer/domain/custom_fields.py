"""Custom fields an admin defines per entity, each with a type its values are held to.

Values of a defined field are checked and normalized on every write (API or import): a
number written as text in a spreadsheet becomes a number, a choice is stored as the option
spelled by the admin. A name with no definition stays free-form (a single value), so data
brought from another system is never refused for a field the admin has not described yet.
"""

import datetime as dt
import decimal
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from crm_customer.domain.values import MAX_SAFE_INTEGER, custom_value
from crm_platform.errors import FieldViolation, InvalidArgument

ENTITIES = ("contacts", "accounts")
MAX_OPTIONS = 200
MAX_TEXT = 10_000
_NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")
_TRUE = frozenset({"true", "yes", "y", "1", "是", "对"})
_FALSE = frozenset({"false", "no", "n", "0", "否", "不"})
# A number as people write it: thousands grouped by "," or " " (one of them, in threes) or
# not grouped, "." before the decimals, an exponent. "1,5" is refused, not read as 15.
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}([, ])\d{3}(?:\1\d{3})*|\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?")


class FieldType(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    CHOICE = "choice"


@dataclass(frozen=True)
class CustomField:
    entity: str
    name: str
    label: str
    type: FieldType
    options: tuple[str, ...] = ()  # of a choice
    max_length: int = 255  # of a text
    required: bool = False
    version: int = 1
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    updated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def define(
        cls,
        *,
        entity: str,
        name: str,
        label: str,
        type: str,
        options: Sequence[str] = (),
        max_length: int = 0,
        required: bool = False,
    ) -> "CustomField":
        problems: list[FieldViolation] = []
        if entity not in ENTITIES:
            problems.append(FieldViolation("entity", "must be contacts or accounts"))
        if not _NAME.fullmatch(name):
            why = "1-50 characters: lower-case letters, digits and _, starting with a letter"
            problems.append(FieldViolation("name", why))
        if type not in FieldType.__members__.values():
            kinds = ", ".join(FieldType)
            problems.append(FieldViolation("type", f"must be one of {kinds}"))
        if problems:
            raise InvalidArgument(problems)
        kind = FieldType(type)
        label, kept, length = _settings(kind, label or name, options, max_length)
        return cls(
            entity=entity,
            name=name,
            label=label,
            type=kind,
            options=kept,
            max_length=length or 255,
            required=required,
        )

    def change(
        self,
        *,
        label: str,
        options: Sequence[str] = (),
        max_length: int = 0,
        required: bool | None = None,
    ) -> "CustomField":
        """The definition with a new label, options (choice), length (text) or need (None:
        as it was); the name and type stay, as the values stored were checked against them.
        A field made required holds records to it from their next custom field write
        (`with_typed_custom_values`)."""
        label, kept, length = _settings(self.type, label or self.label, options, max_length)
        return replace(
            self,
            label=label,
            options=kept,
            max_length=length or self.max_length,
            required=self.required if required is None else required,
            version=self.version + 1,
            updated_at=dt.datetime.now(dt.UTC),
        )

    def read(self, value: Any) -> Any:
        """The value as stored; ValueError saying why it is not one of this field."""
        value = custom_value(value)
        text = value.strip() if isinstance(value, str) else value
        if self.type == FieldType.TEXT:
            text = _text(text)
            if len(text) > self.max_length:
                raise ValueError(f"must have at most {self.max_length} characters")
            return text
        if self.type == FieldType.BOOLEAN:
            return _boolean(text)
        if self.type == FieldType.INTEGER:
            return _integer(text)
        if self.type == FieldType.NUMBER:
            return _number(text)
        if self.type == FieldType.DATE:
            return _date(text)
        return self._option(text)

    def _option(self, value: Any) -> str:
        by_folded = {option.casefold(): option for option in self.options}
        found = by_folded.get(_text(value).casefold())
        if found is None:
            raise ValueError(f"must be one of {', '.join(self.options)}")
        return found


def with_typed_custom_values(
    definitions: Mapping[str, CustomField], values: Mapping[str, Any], *, creating: bool
) -> Mapping[str, Any]:
    """A record write's `values` with its custom field values held to their definitions:
    a new record needs every required field, and so does a write that sets the custom
    fields (it replaces them). A write leaving them alone is not held to fields made
    required after they were stored: the record stays editable until someone fills them."""
    custom = values.get("custom_fields")
    if custom is None and not creating:
        return values
    if custom is not None and not isinstance(custom, Mapping):
        return values  # a bad shape is the record's own rules to refuse
    typed = typed_values(definitions, custom or {}, complete=True)
    return values if custom is None else {**values, "custom_fields": typed}


def _settings(
    kind: FieldType, label: str, options: Sequence[str], max_length: int
) -> tuple[str, tuple[str, ...], int]:
    problems = []
    if not 0 < len(label.strip()) <= 200:
        problems.append(FieldViolation("label", "must have 1-200 characters"))
    kept = tuple(dict.fromkeys(o.strip() for o in options if o.strip()))
    if kind == FieldType.CHOICE and not 0 < len(kept) <= MAX_OPTIONS:
        problems.append(FieldViolation("options", f"a choice needs 1-{MAX_OPTIONS} options"))
    if kind != FieldType.CHOICE and kept:
        problems.append(FieldViolation("options", "only a choice has options"))
    if any(len(o) > 200 for o in kept):
        problems.append(FieldViolation("options", "must have at most 200 characters each"))
    if len({option.casefold() for option in kept}) < len(kept):  # values match case aside
        problems.append(FieldViolation("options", "must differ in more than their case"))
    if max_length and (kind != FieldType.TEXT or not 0 < max_length <= MAX_TEXT):
        problems.append(FieldViolation("max_length", f"only a text has one, 1-{MAX_TEXT}"))
    if problems:
        raise InvalidArgument(problems)
    return label.strip(), kept, max_length


def typed_values(
    definitions: Mapping[str, CustomField], values: Mapping[str, Any], *, complete: bool = False
) -> dict[str, Any]:
    """`values` with every defined field's value normalized; InvalidArgument naming each
    `custom_fields.<name>` whose value its type refuses (or, free-form, that could not be
    stored as sent: `custom_value`), and (`complete`) each required field without a value:
    absent, null or blank text."""
    found: dict[str, Any] = {}
    problems: list[FieldViolation] = []
    for name, value in values.items():
        defined = definitions.get(name)
        try:
            if value is None:
                found[name] = None
            elif defined is None:  # free-form: any single value stored as sent
                found[name] = custom_value(value)
            else:
                found[name] = defined.read(value)
        except ValueError as error:
            problems.append(FieldViolation(f"custom_fields.{name}", str(error)))
    if complete:
        problems += [
            FieldViolation(f"custom_fields.{name}", "is required")
            for name, defined in definitions.items()
            if defined.required and (values.get(name) is None or found.get(name) == "")
        ]
    if problems:
        raise InvalidArgument(problems)
    return found


def _text(value: Any) -> str:
    """Text as written; a number or boolean as JSON writes it: protobuf's Struct carries
    every number as a double, and 5 is "5", not "5.0"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    folded = _text(value).casefold()
    if folded in _TRUE or folded in _FALSE:
        return folded in _TRUE
    raise ValueError("must be true or false")


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    number = decimal.Decimal(value) if isinstance(value, int) else _decimal(value)
    # JSON would not bring a larger one back as written. By its exponent first: abs() of
    # 1e999999999 overflows the decimal context.
    if number.adjusted() > 15 or abs(number) > MAX_SAFE_INTEGER:
        raise ValueError(f"must lie between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")
    if number != number.to_integral_value():
        raise ValueError("must be a whole number")
    return int(number)


def _number(value: Any) -> int | float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = decimal.Decimal(str(value))
    else:
        number = _decimal(value)
    if not number.is_finite() or number.adjusted() > 15 or abs(number) > 10**15:
        raise ValueError("must be a number of at most 15 digits before the point")
    return int(number) if number == number.to_integral_value() else float(number)


def _decimal(value: Any) -> decimal.Decimal:
    text = str(value)
    if not _NUMBER.fullmatch(text):
        grouped = "," in text or " " in text
        raise ValueError("must be a number" + (", in groups of three: 1,200.50" if grouped else ""))
    try:
        number = decimal.Decimal(text.replace(",", "").replace(" ", ""))
    except decimal.InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a number")
    return number


def _date(value: Any) -> str:
    text = str(value)
    try:  # a spreadsheet's date-time at midnight is a date
        return dt.date.fromisoformat(text[:10] if text[10:11] in ("T", " ") else text).isoformat()
    except ValueError:
        raise ValueError("must be a date, YYYY-MM-DD") from None
