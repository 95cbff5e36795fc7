"""Field rules shared by accounts and contacts: each validator returns the normalized value
or raises ValueError with a message meant for the caller."""

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from crm_platform.errors import FieldViolation, InvalidArgument

Validator = Callable[[Any], Any]

_WEBSITE = re.compile(r"^(https?://)?[A-Za-z0-9.-]+\.[A-Za-z]{2,}(:[0-9]{1,5})?(/\S*)?$")


def text(max_length: int, *, required: bool = False) -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        value = value.strip()
        if "\x00" in value:  # PostgreSQL cannot store it; other gRPC callers may send it
            raise ValueError("must not contain NUL characters")
        if required and not value:
            raise ValueError("must not be empty")
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return value

    return check


def email(value: Any) -> str:
    value = text(254)(value)
    if not value:
        return ""
    try:
        # Lower-cased whole: no mail system in use tells addresses apart by case, and
        # duplicates are found by equality.
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None


def phone_in(region: str | None) -> Validator:
    """Phone numbers as `phone` stores them, with `region` (ISO 3166 code, "CN") for numbers
    written without a country code: in CN, "138 0013 8000" is +8613800138000. Without a
    region a number needs its + and country code."""
    length = text(32)

    def check(value: Any) -> str:
        value = length(value)
        if not value:
            return ""
        try:
            parsed = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            if region is None:
                raise ValueError(
                    "is not a phone number in international format, e.g. +49 30 1234567"
                ) from None
            raise ValueError("is not a phone number") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError("is not a valid phone number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    return check


# Stored in E.164 (`+493012345678`), so one number written many ways is one number.
phone = phone_in(None)


def website(value: Any) -> str:
    value = text(500)(value)
    if value and not _WEBSITE.match(value):
        raise ValueError("is not a web address")
    return value


def optional_id(value: Any) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ValueError("is not a valid id") from None


def required_id(value: Any) -> uuid.UUID:
    found = optional_id(value)
    if found is None:
        raise ValueError("must not be empty")
    return found


def tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list of strings")
    if len(value) > 50:
        raise ValueError("must have at most 50 tags")
    cleaned = [text(50, required=True)(tag) for tag in value]
    return tuple(dict.fromkeys(cleaned))  # drop repeats, keep order


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


def validate(rules: Mapping[str, Validator], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every value checked against its rule; all violations reported at once."""
    cleaned: dict[str, Any] = {}
    violations: list[FieldViolation] = []
    for name, value in values.items():
        rule = rules.get(name)
        if rule is None:
            violations.append(FieldViolation(name, "is not a writable field"))
            continue
        try:
            cleaned[name] = rule(value)
        except ValueError as error:
            violations.append(FieldViolation(name, str(error)))
    if violations:
        raise InvalidArgument(violations)
    return cleaned
