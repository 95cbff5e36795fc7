"""The rules for one cell of each field: a cell's text in, the stored value out, or
ValueError saying what is wrong. The domain's validators where they exist (lengths,
phones, websites, tags), plus a fast path for emails and a cache for phones, because
these run a million times per big import."""

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable

from crm_customer.domain import fields as rule
from crm_customer.imports.columns import Entity

# A cell's text (stripped, not empty) and the default phone region -> the stored value.
Rule = Callable[[str, str | None], object]

_TAG_SEPARATORS = re.compile(r"[,;|\uff0c\u3001\uff1b]")  # , ; | and their Chinese forms
# 1990-05-01, 1990/5/1, 1990.05.01, 1990年5月1日, with a midnight time as some exports add
_DATE_YMD = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]0?0:00(?::00)?)?")
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATE_DMY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")  # dots: day first, as in Europe
_DATE_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")  # US or European: the day decides
_EMPLOYEES = re.compile(r"(\d{1,3}(?:[,_ ]?\d{3})*)\s*(?:\+|\u4eba)?")  # 1,200 / 1200+ / 50人
_CHANNELS = {
    "email": ("email", "e-mail", "mail", "邮件", "邮箱", "电子邮件"),
    "phone": ("phone", "call", "telephone", "tel", "电话"),
    "sms": ("sms", "text", "text message", "短信"),
}
_CHANNEL_OF = {word: channel for channel, words in _CHANNELS.items() for word in words}
MAX_TAGS = MAX_TAG_LENGTH = 50  # as the domain's rule.tags; checked here first for speed
PHONE_CACHE_SIZE = 32_768  # distinct raw numbers remembered: a few MB at most


def _text(max_length: int) -> Rule:
    check = rule.text(max_length)
    return lambda raw, _region: check(raw)


def email(raw: str, _region: str | None = None) -> str:
    if rule.is_plain_email(address := raw.lower()):
        return address
    try:  # NFKC: the full-width at-sign and letters of Chinese keyboards become plain ones
        return str(rule.email(unicodedata.normalize("NFKC", raw))).lower()
    except ValueError:
        raise ValueError("is not a valid address") from None


def phone(raw: str, region: str | None) -> str:
    number, problem = _parsed_phone(raw, region)
    if problem:
        raise ValueError(problem)
    return number


@functools.lru_cache(maxsize=PHONE_CACHE_SIZE)
def _parsed_phone(raw: str, region: str | None) -> tuple[str, str]:
    """(E.164, "") or ("", the problem). phonenumbers takes ~30 µs a number; files repeat
    numbers (duplicates, a company's switchboard), which then cost a dictionary lookup."""
    try:
        return str(_phone_rule(region)(raw)), ""
    except ValueError as error:
        return "", str(error)


@functools.lru_cache(maxsize=64)
def _phone_rule(region: str | None) -> rule.Validator:
    return rule.phone_in(region)


def tags(raw: str, _region: str | None = None) -> tuple[str, ...]:
    """ "vip, 华东" -> ("vip", "华东"); the domain's limits (50 tags of 50 characters)."""
    words = [stripped for word in _TAG_SEPARATORS.split(raw) if (stripped := word.strip())]
    if len(words) > MAX_TAGS or "\x00" in raw or any(len(w) > MAX_TAG_LENGTH for w in words):
        rule.tags(words)  # raises ValueError saying which limit
    return tuple(dict.fromkeys(words))  # repeats dropped, order kept


def birthday(raw: str, _region: str | None = None) -> dt.date:
    match = _DATE_YMD.fullmatch(raw) or _DATE_COMPACT.fullmatch(raw)
    if match:
        year, month, day = match.groups()
    elif match := _DATE_DMY.fullmatch(raw):
        day, month, year = match.groups()
    elif match := _DATE_SLASHED.fullmatch(raw):
        first, second, year = match.groups()
        if int(first) > 12:
            day, month = first, second
        elif int(second) > 12 or first == second:
            month, day = first, second
        else:
            raise ValueError("is ambiguous (day or month first?); write it as YYYY-MM-DD")
    else:
        raise ValueError("is not a date; write it as YYYY-MM-DD")
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError("is not a date; write it as YYYY-MM-DD") from None


def preferred_channel(raw: str, _region: str | None = None) -> str:
    channel = _CHANNEL_OF.get(raw.casefold())
    if channel is None:
        raise ValueError(f"is not one of {', '.join(_CHANNELS)}")
    return channel


def size(raw: str, _region: str | None = None) -> int:
    match = _EMPLOYEES.fullmatch(raw)
    if not match:
        raise ValueError("is not a number of employees")
    return int(re.sub(r"[,_ ]", "", match.group(1)))


def _website(raw: str, _region: str | None) -> str:
    return str(rule.website(raw))


_SHARED: dict[str, Rule] = {
    "phone": phone,
    "tags": tags,
    "external_id": _text(100),
}
RULES: dict[Entity, dict[str, Rule]] = {
    Entity.CONTACTS: {
        **_SHARED,
        "first_name": _text(100),
        "last_name": _text(100),
        "full_name": _text(201),  # split into first and last, each checked again
        "email": email,
        "mobile": phone,
        "title": _text(100),
        "company": _text(200),
        "birthday": birthday,
        "preferred_channel": preferred_channel,
        "notes": _text(5000),
    },
    Entity.ACCOUNTS: {
        **_SHARED,
        "name": _text(200),
        "parent": _text(200),  # the parent account's name, resolved as a contact's company
        "legal_name": _text(200),
        "industry": _text(100),
        "website": _website,
        "size": size,
        "street": _text(200),
        "city": _text(100),
        "region": _text(100),
        "postal_code": _text(20),
        "country": _text(100),
    },
}
