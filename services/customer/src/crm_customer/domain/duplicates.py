"""When two contacts are likely one person: the rules behind duplicate reports on create,
duplicate handling in imports and merge suggestions (issue 3).

Three reasons, strongest first: the same email address (case-insensitive), the same phone
number (compared in E.164, so any way of writing it matches), or a similar name at the same
company. Emails and phones are identifiers, so one shared is enough; names are not, so a
similar name counts only together with the same company, and only above a high similarity.
"""

import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz

# token_sort_ratio, 0-100: "Zhang Wei" / "Wei Zhang" = 100, "Jon Smith" / "John Smith" = 95,
# "John Smith" / "Joan Smyth" = 80. Below this two people at one company are two people.
SIMILAR_NAME_SCORE = 90.0

# Legal forms say nothing about which company it is: "ACME GmbH" is "Acme".
_LEGAL_FORMS = frozenset(
    [
        "ag",
        "bv",
        "co",
        "company",
        "corp",
        "corporation",
        "gmbh",
        "inc",
        "incorporated",
        "kg",
        "limited",
        "llc",
        "llp",
        "ltd",
        "nv",
        "plc",
        "pty",
        "sa",
        "sarl",
        "sas",
        "spa",
        "srl",
        "ug",
    ]
)
_CJK_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "集团", "公司")
_NOT_A_WORD = re.compile(r"[^\w]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class Reason(StrEnum):
    SAME_EMAIL = "same_email"
    SAME_PHONE = "same_phone"
    SIMILAR_NAME_SAME_COMPANY = "similar_name_same_company"


class CompanyReason(StrEnum):
    SIMILAR_NAME = "similar_name"
    SAME_PHONE = "same_phone"
    SAME_WEBSITE = "same_website"


@dataclass(frozen=True)
class Person:
    """What matching needs of a contact; emails lower-case, phones in E.164."""

    id: uuid.UUID | None
    name: str
    company: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class Company:
    """What matching needs of an account; phones in E.164."""

    id: uuid.UUID | None
    name: str
    phones: tuple[str, ...] = ()
    website: str = ""


@dataclass(frozen=True)
class Match:
    other_id: uuid.UUID | None
    reasons: tuple[Reason | CompanyReason, ...]


def name_key(text: str) -> str:
    """A name as compared: case, accents, punctuation and spacing removed. Chinese names
    are written with or without spaces (张伟, 张 伟): without any, they compare alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = _NOT_A_WORD.sub(" ", plain).split()
    return "".join(words) if _CJK.search(plain) else " ".join(words)


def company_key(text: str) -> str:
    """A company as compared: its name key without legal forms, in Latin or Chinese."""
    key = name_key(text)
    for form in _CJK_LEGAL_FORMS:
        if key.endswith(form) and len(key) > len(form):
            key = key[: -len(form)].strip()
            break
    words = [word for word in key.split() if word not in _LEGAL_FORMS]
    return " ".join(words) if words else key


def similar_names(a: str, b: str) -> bool:
    first, second = name_key(a), name_key(b)
    if not first or not second:
        return False
    return fuzz.token_sort_ratio(first, second) >= SIMILAR_NAME_SCORE


def compare(a: Person, b: Person) -> Match | None:
    """Why `b` is likely the same person as `a`; None when nothing says so."""
    reasons = []
    if set(a.emails) & set(b.emails):
        reasons.append(Reason.SAME_EMAIL)
    if set(a.phones) & set(b.phones):
        reasons.append(Reason.SAME_PHONE)
    same_company = bool(company_key(a.company)) and company_key(a.company) == company_key(b.company)
    if same_company and similar_names(a.name, b.name):
        reasons.append(Reason.SIMILAR_NAME_SAME_COMPANY)
    return Match(b.id, tuple(reasons)) if reasons else None


def website_host(url: str) -> str:
    """`https://www.Acme.example/about` -> `acme.example`: one site however it is written."""
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip().lower()).split("/", 1)[0]
    host = host.split(":", 1)[0]
    return host.removeprefix("www.")


def compare_companies(a: Company, b: Company) -> Match | None:
    """Why `b` is likely the same company as `a`; None when nothing says so. Names count
    without legal forms: "ACME GmbH" is "Acme AG"."""
    reasons: list[CompanyReason] = []
    first, second = company_key(a.name), company_key(b.name)
    if first and second and fuzz.token_sort_ratio(first, second) >= SIMILAR_NAME_SCORE:
        reasons.append(CompanyReason.SIMILAR_NAME)
    if set(a.phones) & set(b.phones):
        reasons.append(CompanyReason.SAME_PHONE)
    host = website_host(a.website)
    if host and host == website_host(b.website):
        reasons.append(CompanyReason.SAME_WEBSITE)
    return Match(b.id, tuple(reasons)) if reasons else None


def lookalike_groups(who: Person | Company) -> list[str]:
    """Where records that may be `who` again are found without comparing every pair: a
    person among those of its company (a similar name counts only there); a company among
    those whose name begins with the same word, or on the same website. The database
    narrows stored candidates alike (repository/search.py `look_alikes`)."""
    if isinstance(who, Person):
        company = company_key(who.company)
        return [f"company:{company}"] if company else []
    key, host = company_key(who.name), website_host(who.website)
    return [*([f"word:{key.split()[0]}"] if key else []), *([f"host:{host}"] if host else [])]


def likely_duplicates(person: Person, candidates: Iterable[Person]) -> list[Match]:
    """`candidates` that are likely `person`, strongest reasons first."""
    found = [m for c in candidates if c.id != person.id and (m := compare(person, c))]
    return strongest_first(found)


def likely_duplicate_companies(company: Company, candidates: Iterable[Company]) -> list[Match]:
    found = [m for c in candidates if c.id != company.id and (m := compare_companies(company, c))]
    return strongest_first(found)


def strongest_first(matches: list[Match]) -> list[Match]:
    return sorted(matches, key=lambda m: (min(_STRENGTH[r] for r in m.reasons), -len(m.reasons)))


# Identifiers (email, phone, website) first, then names.
_STRENGTH: dict[Reason | CompanyReason, int] = {
    Reason.SAME_EMAIL: 0,
    Reason.SAME_PHONE: 1,
    CompanyReason.SAME_WEBSITE: 1,
    CompanyReason.SAME_PHONE: 1,
    Reason.SIMILAR_NAME_SAME_COMPANY: 2,
    CompanyReason.SIMILAR_NAME: 2,
}
