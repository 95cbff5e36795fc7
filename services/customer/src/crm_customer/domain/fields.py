"""Field rules shared by accounts and contacts: each validator returns the normalized value
or raises ValueError with a message meant for the caller."""

import functools
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from phonenumbers import PhoneMetadata, PhoneNumber

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


def name(max_length: int, *, required: bool = False) -> Validator:
    """Text with its runs of spaces, tabs and line breaks made one space: two spellings of
    a name that differ only there are one name, to people and to the duplicate rules."""
    as_text = text(max_length, required=required)

    def check(value: Any) -> str:
        return " ".join(as_text(value).split())

    return check


# Addresses of the common kind (ASCII, no quotes, no IDN, a letters-only top-level domain)
# are checked by this expression alone: every address it accepts, email-validator accepts
# unchanged except for case (test_import_rows holds the two to that). Others go through
# email-validator, ~35 µs each — too slow for an import of a million rows.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.ASCII,
)
_RESERVED_DOMAIN_ENDINGS = tuple("." + name for name in SPECIAL_USE_DOMAIN_NAMES)


def is_plain_email(address: str) -> bool:
    """Whether lower-case `address` is valid as it stands, by the fast path alone."""
    return (
        len(address) <= 254
        and _PLAIN_EMAIL.fullmatch(address) is not None
        and "--" not in address.partition("@")[2]
        and not address.endswith(_RESERVED_DOMAIN_ENDINGS)
    )


_EMAIL_TEXT = text(254)


def email(value: Any) -> str:
    value = _EMAIL_TEXT(value)
    if not value:
        return ""
    if is_plain_email(lowered := value.lower()):
        return lowered
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
        if value in _KNOWN_VALID:
            return value
        if (fast := _plain_e164(value, region)) is not None:
            _known_valid(fast)
            return fast
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


_SEPARATORS = re.compile(r"[ ().-]")
# E.164 numbers the fast path found valid lately: an import checks each number when it reads
# the row and again when it makes the record. A "+" number reads the same in any region.
_KNOWN_VALID: dict[str, None] = {}
_KNOWN_VALID_LIMIT = 65_536


def _known_valid(number: str) -> None:
    if len(_KNOWN_VALID) >= _KNOWN_VALID_LIMIT:
        _KNOWN_VALID.clear()
    _KNOWN_VALID[number] = None


def _plain_e164(value: str, region: str | None) -> str | None:
    """The E.164 form of a number written in digits and separators (with + and country
    code, or national in `region`) that needs none of phonenumbers' parsing rules: no
    international or national prefix, no leading zero, no extension. Checked for validity
    as `parse` + `is_valid_number` would, at a third of their cost; None otherwise, and
    the full parse decides (test_customer_model holds the two to the same answers)."""
    plus = value.startswith("+")
    digits = _SEPARATORS.sub("", value[1:] if plus else value)
    if not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    if plus:
        code = next((int(digits[:n]) for n in (1, 2, 3) if int(digits[:n]) in _COUNTRY_CODES), None)
        if code is None:
            return None
        national = digits[len(str(code)) :]
    elif region is not None and (rules := _region_rules(region)) is not None:
        code, international = rules
        if international.match(digits):
            return None
        national = digits
    else:
        return None
    if not national or national[0] == "0" or _national_prefix(code, national):
        return None
    return f"+{code}{national}" if _valid_number(code, national) else None


@functools.lru_cache(maxsize=8192)
def _valid_number(code: int, national: str) -> bool:
    """Whether phonenumbers.is_valid_number takes +`code` `national` (no leading zero, no
    extension), by its own metadata read ahead into a few expressions: ~1 µs instead of
    ~10-50. Cached: an imported number is checked when its row is read and again when its
    record is made, two batches (4,000 rows) apart at most."""
    regions = _regions_sharing(code)
    if regions is None:
        number = PhoneNumber(country_code=code, national_number=int(national))
        return bool(phonenumbers.is_valid_number(number))
    # The number belongs to the first region (in phonenumbers' order) whose leading digits
    # it has or, for a region without any, where it is valid; it is valid or not there.
    for leading_digits, (general, types_by_length) in regions:
        if leading_digits is None:
            if _valid_in(national, general, types_by_length):
                return True
        elif leading_digits.match(national):
            return _valid_in(national, general, types_by_length)
    return False


# A region's national numbers: the general pattern, and per length the types (mobile, toll
# free, ...) in one expression, since phonenumbers wants the general pattern and one type.
_Rules = tuple[re.Pattern[str], dict[int, re.Pattern[str]]]
_ALWAYS = re.compile("")  # the one region of a code is chosen whatever the number


def _valid_in(national: str, general: re.Pattern[str], types: dict[int, re.Pattern[str]]) -> bool:
    of_length = types.get(len(national))
    return (
        of_length is not None
        and general.fullmatch(national) is not None
        and of_length.fullmatch(national) is not None
    )


@functools.cache
def _regions_sharing(code: int) -> tuple[tuple[re.Pattern[str] | None, _Rules], ...] | None:
    """Per region of calling code `code`, the leading digits that choose it (None: chosen
    if valid there) and its rules; None where the metadata is not as this expects (none
    such today), and phonenumbers decides."""
    names = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    regions = []
    for name in names:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, name)
        if metadata is None or (name != "001" and metadata.country_code != code):
            return None
        if len(names) == 1:
            leading_digits: re.Pattern[str] | None = _ALWAYS
        elif name == "001":
            return None
        else:
            leading_digits = (
                None if metadata.leading_digits is None else re.compile(metadata.leading_digits)
            )
        rules = _rules(metadata)
        if rules is None:
            return None
        regions.append((leading_digits, rules))
    return tuple(regions)


def _rules(metadata: PhoneMetadata) -> _Rules | None:
    general = metadata.general_desc
    if general is None or not general.national_number_pattern or not general.possible_length:
        return None
    descs = [
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
        metadata.fixed_line,
    ]
    # Compared by pattern alone, so phonenumbers skips mobile even where its lengths differ.
    if not metadata.same_mobile_and_fixed_line_pattern:
        descs.append(metadata.mobile)
    types_by_length = {}
    for length in general.possible_length:
        # A type without lengths has the general ones; one with only -1 has none.
        patterns = dict.fromkeys(
            f"(?:{desc.national_number_pattern})"
            for desc in descs
            if desc is not None
            and desc.national_number_pattern
            and (not desc.possible_length or length in desc.possible_length)
        )
        if patterns:
            types_by_length[length] = re.compile("|".join(patterns))
    return re.compile(general.national_number_pattern), types_by_length


_COUNTRY_CODES = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@functools.lru_cache(maxsize=512)
def _region_rules(region: str) -> tuple[int, re.Pattern[str]] | None:
    metadata = PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None or metadata.international_prefix is None or not metadata.country_code:
        return None
    return metadata.country_code, re.compile(metadata.international_prefix)


def _national_prefix(code: int, national: str) -> bool:
    """Whether `national` may begin with a prefix phonenumbers would strip (a trunk or
    carrier code): such numbers are left to it."""
    pattern = _national_prefix_pattern(code)
    return pattern is not None and pattern.match(national) is not None


@functools.lru_cache(maxsize=512)
def _national_prefix_pattern(code: int) -> re.Pattern[str] | None:
    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    prefix = metadata.national_prefix_for_parsing if metadata else None
    if prefix is None and metadata is not None:
        prefix = metadata.national_prefix
    return re.compile(prefix) if prefix else None


# Stored in E.164 (`+493012345678`), so one number written many ways is one number.
phone = phone_in(None)


_WEBSITE_TEXT = text(500)


def website(value: Any) -> str:
    value = _WEBSITE_TEXT(value)
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


_TAG = text(50, required=True)


def tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("must be a list of strings")
    if len(value) > 50:
        raise ValueError("must have at most 50 tags")
    cleaned = [_TAG(tag) for tag in value]
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
