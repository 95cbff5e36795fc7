"""The structured values records hold: addresses, money, agreements, consent, account roles.

Each is a frozen dataclass with a validator that takes what callers send (a mapping, or the
value itself) and a JSON form for storage; validators raise ValueError with a message meant
for the caller, like the field rules in fields.py.
"""

import datetime as dt
import decimal
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

import phonenumbers

from crm_customer.domain import fields as rule

ADDRESS_KINDS = ("billing", "shipping", "office", "home", "other")
LIFECYCLES = ("prospect", "customer", "former")
CHANNELS = ("email", "sms", "phone")
PREFERRED_CHANNELS = (*CHANNELS, "mail")
MAX_ITEMS = 10
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# ISO 3166 alpha-2 codes phonenumbers knows, plus the few without a numbering plan.
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"AQ", "BV", "GS", "HM", "PN", "TF", "UM"}

V = TypeVar("V")


@dataclass(frozen=True)
class Address:
    kind: str = "office"
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""  # ISO 3166 alpha-2


@dataclass(frozen=True)
class Money:
    value: decimal.Decimal
    currency: str  # ISO 4217


@dataclass(frozen=True)
class Agreement:
    reference: str
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    description: str = ""


@dataclass(frozen=True)
class Consent:
    channel: str
    granted: bool
    recorded_at: dt.datetime
    source: str = ""


@dataclass(frozen=True)
class AccountRole:
    account_id: uuid.UUID
    role: str = ""


def choice(options: tuple[str, ...], *, default: str) -> rule.Validator:
    """One of `options`, case-insensitive; empty means `default`."""

    def check(value: Any) -> str:
        value = rule.text(50)(value).lower() or default
        if value != default and value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return check


def count(maximum: int) -> rule.Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        if not 0 <= value <= maximum:
            raise ValueError(f"must be between 0 and {maximum}")
        return value

    return check


def date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(rule.text(10)(value))
    except ValueError:
        raise ValueError("must be a date, YYYY-MM-DD") from None


def birthday(value: Any) -> dt.date | None:
    found = date(value)
    if found is not None and not dt.date(1900, 1, 1) <= found <= dt.date.today():
        raise ValueError("must lie between 1900-01-01 and today")
    return found


def listed(
    item: Callable[[Any], V],
    maximum: int = MAX_ITEMS,
    *,
    same: Callable[[V], Any] = lambda v: v,
) -> Callable[[Any], tuple[V, ...]]:
    """A list of `item`s, at most `maximum`, repeats (by `same`) dropped; errors name the
    position."""

    def check(value: Any) -> tuple[V, ...]:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ValueError("must be a list")
        if len(value) > maximum:
            raise ValueError(f"must have at most {maximum} entries")
        found: list[V] = []
        for position, entry in enumerate(value):
            try:
                found.append(item(entry))
            except ValueError as error:
                raise ValueError(f"entry {position}: {error}") from None
        first: dict[Any, V] = {}
        for entry in found:
            first.setdefault(same(entry), entry)
        return tuple(first.values())

    return check


def _parts(value: Any, kind: type[Any]) -> dict[str, Any]:
    if isinstance(value, kind):
        return asdict(value)
    if not isinstance(value, Mapping):
        raise ValueError("must be an object")
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(map(str, unknown))}")
    return dict(value)


def address(value: Any) -> Address:
    parts = _parts(value, Address)
    country = rule.text(100)(parts.get("country", "")).upper()
    if country and country not in COUNTRIES:  # "Germany", not DE: say which part is wrong
        raise ValueError(f"country {country!r} is not an ISO 3166 alpha-2 code")
    found = Address(
        kind=choice(ADDRESS_KINDS, default="office")(parts.get("kind", "")),
        street=rule.text(300)(parts.get("street", "")),
        city=rule.text(100)(parts.get("city", "")),
        region=rule.text(100)(parts.get("region", "")),
        postal_code=rule.text(20)(parts.get("postal_code", "")),
        country=country,
    )
    if not (found.street or found.city or found.postal_code or found.country):
        raise ValueError("needs a street, city, postal code or country")
    return found


def money(value: Any) -> Money | None:
    if value is None:
        return None
    parts = _parts(value, Money)
    currency = rule.text(10)(parts.get("currency", "")).upper()
    if not _CURRENCY.match(currency):
        raise ValueError("currency must be an ISO 4217 code such as EUR")
    try:
        amount = decimal.Decimal(str(parts.get("value", "")).strip())
    except decimal.InvalidOperation:
        raise ValueError("value must be a decimal number such as 1234.50") from None
    if not amount.is_finite() or amount < 0 or amount >= decimal.Decimal("1e15"):
        raise ValueError("value must be at least 0 and below 10^15")
    exponent = amount.as_tuple().exponent
    if exponent < -4:  # type: ignore[operator]
        raise ValueError("value must have at most 4 decimals")
    if exponent > 0:  # type: ignore[operator]
        amount = amount.quantize(decimal.Decimal(1))  # "0E+5", "1E+3": written out
    return Money(amount.copy_abs(), currency)  # not "-0"


def agreement(value: Any) -> Agreement:
    parts = _parts(value, Agreement)
    found = Agreement(
        reference=rule.text(100, required=True)(parts.get("reference", "")),
        starts_on=date(parts.get("starts_on")),
        ends_on=date(parts.get("ends_on")),
        description=rule.text(500)(parts.get("description", "")),
    )
    if found.starts_on and found.ends_on and found.ends_on < found.starts_on:
        raise ValueError("ends_on must not be before starts_on")
    return found


# How far ahead of ours another machine's clock may be, for a time it says is now.
CLOCK_SKEW = dt.timedelta(minutes=5)


def consent(value: Any) -> Consent:
    parts = _parts(value, Consent)
    granted = parts.get("granted")
    if not isinstance(granted, bool):
        raise ValueError("granted must be true or false")
    now = dt.datetime.now(dt.UTC)
    recorded = parts.get("recorded_at") or now
    if not isinstance(recorded, dt.datetime) or recorded.tzinfo is None:
        raise ValueError("recorded_at must be a time with a zone")
    if recorded > now + CLOCK_SKEW:  # it would hold over every consent given after it
        raise ValueError("recorded_at must not be in the future")
    return Consent(
        channel=_channel(parts.get("channel", "")),
        granted=granted,
        recorded_at=recorded,
        source=rule.text(100)(parts.get("source", "")),
    )


def _channel(value: Any) -> str:
    found = rule.text(10)(value).lower()
    if found not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    return found


def consents(value: Any) -> tuple[Consent, ...]:
    """At most one per channel: the consent a contact gave last is the one that holds."""
    found = listed(consent, len(CHANNELS) * 4)(value)
    latest: dict[str, Consent] = {}
    for entry in sorted(found, key=lambda c: c.recorded_at):
        latest[entry.channel] = entry
    return tuple(latest[channel] for channel in CHANNELS if channel in latest)


def account_role(value: Any) -> AccountRole:
    parts = _parts(value, AccountRole)
    return AccountRole(
        account_id=rule.required_id(parts.get("account_id")),
        role=rule.text(50)(parts.get("role", "")),
    )


def account_roles(value: Any) -> tuple[AccountRole, ...]:
    found = listed(account_role, 50)(value)
    ids = [r.account_id for r in found]
    if len(ids) != len(set(ids)):
        raise ValueError("names an account twice; give it one role")
    return found


def custom_values(value: Any) -> dict[str, Any]:
    """Shape only; the types are the admin's definitions, checked by the use cases."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("must be an object")
    if len(value) > 100:
        raise ValueError("must have at most 100 fields")
    for key, entry in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", key):
            raise ValueError(f"{key!r} is not a custom field name")
        if entry is not None:
            try:
                custom_value(entry)
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from None
    return {k: v for k, v in value.items() if v is not None}


# JSON numbers are doubles to most readers (JavaScript, protobuf's Struct): integers beyond
# 2^53 - 1 come back as other integers.
MAX_SAFE_INTEGER = 2**53 - 1


def custom_value(value: Any) -> Any:
    """One custom field value as JSONB stores it and every JSON reader gets it back: text
    without NUL (JSONB has none), a boolean, or a finite number within ±(2^53 - 1)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
    if isinstance(value, bool):
        return value
    if not isinstance(value, int | float):
        raise ValueError("must be a single value")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"must lie between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")
    return value


# Storage: values to JSON and back, by type.
def to_json(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, Address | Agreement | Consent | AccountRole | Money):
        return {f.name: to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    return value


def from_json(kind: type[V], data: Any) -> V:
    found: V = _FROM_JSON[kind](data)
    return found


# Runs for every stored value of every record read: built once.
_FROM_JSON: dict[type[Any], Callable[[Any], Any]] = {
    Address: lambda d: Address(**d),
    Agreement: lambda d: Agreement(
        d["reference"], date(d.get("starts_on")), date(d.get("ends_on")), d["description"]
    ),
    Consent: lambda d: Consent(
        d["channel"], d["granted"], dt.datetime.fromisoformat(d["recorded_at"]), d["source"]
    ),
    AccountRole: lambda d: AccountRole(uuid.UUID(d["account_id"]), d["role"]),
    Money: lambda d: Money(decimal.Decimal(d["value"]), d["currency"]),
}
