"""Contacts: the people a business deals with, at an account and possibly several more."""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from crm_customer.domain import fields as rule
from crm_customer.domain import values as value
from crm_customer.domain.duplicates import Person
from crm_customer.domain.records import Record
from crm_customer.domain.values import AccountRole, Address, Consent
from crm_platform.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Contact(Record):
    RULES = {
        "first_name": rule.name(100),
        "last_name": rule.name(100),
        "email": rule.email,
        "other_emails": value.listed(rule.email, same=str.lower),
        "phone": rule.phone,
        "other_phones": value.listed(rule.phone),
        "account_id": rule.optional_id,
        "account_roles": value.account_roles,
        "title": rule.text(100),
        "addresses": value.listed(value.address),
        "birthday": value.birthday,
        "preferred_channel": value.choice(value.PREFERRED_CHANNELS, default=""),
        "consents": value.consents,
        "tags": rule.tags,
        "custom_fields": value.custom_values,
    }
    REQUIRED_ANY = ("first_name", "last_name")
    OTHERS = {"other_emails": "email", "other_phones": "phone"}
    STORED_AS_JSON = {
        "addresses": Address,
        "consents": Consent,
        "account_roles": AccountRole,
        "custom_fields": dict,
    }

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    other_emails: tuple[str, ...] = ()
    phone: str = ""
    other_phones: tuple[str, ...] = ()
    account_id: uuid.UUID | None = None
    account_roles: tuple[AccountRole, ...] = ()
    title: str = ""
    addresses: tuple[Address, ...] = ()
    birthday: dt.date | None = None
    preferred_channel: str = ""
    consents: tuple[Consent, ...] = ()
    tags: tuple[str, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict, hash=False)
    last_contacted_at: dt.datetime | None = None

    def check(self) -> None:
        super().check()
        if self.account_id is not None and any(
            r.account_id == self.account_id for r in self.account_roles
        ):
            why = "names the primary account (account_id); give the role there only once"
            raise InvalidArgument([FieldViolation("account_roles", why)])

    @property
    def emails(self) -> tuple[str, ...]:
        return tuple(e for e in (self.email, *self.other_emails) if e)

    @property
    def phones(self) -> tuple[str, ...]:
        return tuple(p for p in (self.phone, *self.other_phones) if p)

    def as_person(self) -> Person:
        """As the duplicate rules see it: its primary account is its company."""
        name = f"{self.first_name} {self.last_name}".strip()
        company = str(self.account_id) if self.account_id else ""
        return Person(self.id, name, company, self.emails, self.phones)
