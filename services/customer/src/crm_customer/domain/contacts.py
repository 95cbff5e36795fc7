"""Contacts: the people a business deals with, optionally at an account."""

import uuid
from dataclasses import dataclass

from crm_customer.domain import fields as rule
from crm_customer.domain.records import Record


@dataclass(frozen=True)
class Contact(Record):
    RULES = {
        "first_name": rule.text(100),
        "last_name": rule.text(100),
        "email": rule.email,
        "phone": rule.phone,
        "account_id": rule.optional_id,
        "title": rule.text(100),
    }
    REQUIRED_ANY = ("first_name", "last_name")

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    account_id: uuid.UUID | None = None
    title: str = ""
