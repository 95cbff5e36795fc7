"""What a search or filtered list asks for, checked and normalized; storage turns it into
SQL (repository/search.py)."""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from crm_customer.domain import fields as rule
from crm_customer.domain import values as value
from crm_platform.errors import FieldViolation, InvalidArgument

ORDERS = ("name", "created_at", "updated_at", "last_contacted_at")


@dataclass(frozen=True)
class Order:
    field: str = "created_at"
    descending: bool = True


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last record's sort value and id."""

    value: Any
    last_id: uuid.UUID


@dataclass(frozen=True)
class Filter:
    query: str = ""
    email: str = ""  # lower-cased, as emails are stored
    phones: tuple[str, ...] = ()  # E.164 readings of the number asked for
    company: str = ""
    tags: tuple[str, ...] = ()
    owner_id: uuid.UUID | None = None
    lifecycle: str = ""
    not_contacted_since: dt.datetime | None = None
    custom_fields: dict[str, Any] = field(default_factory=dict, hash=False)
    account_id: uuid.UUID | None = None


def parse_filter(
    *,
    query: str = "",
    email: str = "",
    phone: str = "",
    region: str = "",
    company: str = "",
    tags: list[str] | tuple[str, ...] = (),
    owner_id: str = "",
    lifecycle: str = "",
    not_contacted_days: int = 0,
    custom_fields: dict[str, Any] | None = None,
    account_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Filter:
    """The filter asked for; InvalidArgument naming every bad condition at once."""
    violations: list[FieldViolation] = []

    def checked(name: str, check: Any, raw: Any) -> Any:
        try:
            return check(raw)
        except ValueError as error:
            violations.append(FieldViolation(f"filter.{name}", str(error)))
            return None

    found = Filter(
        query=checked("query", rule.text(100), query) or "",
        email=(checked("email", rule.text(254), email) or "").lower(),
        phones=checked("phone", lambda raw: phone_readings(raw, region), phone) or (),
        company=checked("company", rule.text(200), company) or "",
        tags=checked("tags", rule.tags, list(tags)) or (),
        owner_id=checked("owner_id", rule.optional_id, owner_id),
        lifecycle=checked("lifecycle", value.choice(value.LIFECYCLES, default=""), lifecycle) or "",
        not_contacted_since=checked(
            "not_contacted_days", lambda days: _since(days, now), not_contacted_days
        ),
        custom_fields=checked("custom_fields", value.custom_values, custom_fields) or {},
        account_id=account_id,
    )
    if violations:
        raise InvalidArgument(violations)
    return found


def phone_readings(raw: str, region: str) -> tuple[str, ...]:
    """The E.164 number `raw` means: with a country code as written, else read in `region`."""
    raw = rule.text(32)(raw)
    if not raw:
        return ()
    region = region.strip().upper()
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"region {region!r} is not an ISO 3166 alpha-2 code")
    try:
        parsed = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number; add the country code or a region") from None
    return (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),)


def _since(days: int, now: dt.datetime | None) -> dt.datetime | None:
    if not days:
        return None
    if not 0 < days <= 36_500:
        raise ValueError("must be between 1 and 36500 days")
    return (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)


def parse_order(text: str) -> Order:
    name = text.strip()
    if not name:
        return Order()
    descending = name.startswith("-")
    name = name.lstrip("-")
    if name not in ORDERS:
        why = f"must be one of {', '.join(ORDERS)}, `-` first for descending"
        raise InvalidArgument([FieldViolation("order_by", why)])
    return Order(name, descending)
