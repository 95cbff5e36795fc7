"""Accounts: the companies a business sells to."""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from crm_customer.domain import fields as rule
from crm_customer.domain import values as value
from crm_customer.domain.duplicates import Company
from crm_customer.domain.records import Record
from crm_customer.domain.values import Address, Agreement, Money
from crm_platform.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Account(Record):
    RULES = {
        "name": rule.name(200, required=True),
        "legal_name": rule.name(200),
        "industry": rule.text(100),
        "employees": value.count(10_000_000),
        "website": rule.website,
        "phone": rule.phone,
        "other_phones": value.listed(rule.phone),
        "addresses": value.listed(value.address),
        "tags": rule.tags,
        "parent_id": rule.optional_id,
        "lifecycle": value.choice(value.LIFECYCLES, default="prospect"),
        "credit_limit": value.money,
        "credit_rating": rule.text(20),
        "agreements": value.listed(value.agreement, 50),
        "custom_fields": value.custom_values,
    }
    REQUIRED_ANY = ("name",)
    OTHERS = {"other_phones": "phone"}
    STORED_AS_JSON = {
        "addresses": Address,
        "agreements": Agreement,
        "credit_limit": Money,
        "custom_fields": dict,
    }

    name: str = ""
    legal_name: str = ""
    industry: str = ""
    employees: int = 0
    website: str = ""
    phone: str = ""
    other_phones: tuple[str, ...] = ()
    addresses: tuple[Address, ...] = ()
    tags: tuple[str, ...] = ()
    parent_id: uuid.UUID | None = None
    lifecycle: str = "prospect"
    credit_limit: Money | None = None
    credit_rating: str = ""
    agreements: tuple[Agreement, ...] = ()
    custom_fields: dict[str, Any] = field(default_factory=dict, hash=False)
    last_contacted_at: dt.datetime | None = None

    def as_company(self) -> Company:
        phones = tuple(p for p in (self.phone, *self.other_phones) if p)
        return Company(self.id, self.name, phones, self.website)

    def check(self) -> None:
        super().check()
        if self.parent_id == self.id:
            raise InvalidArgument(
                [FieldViolation("parent_id", "an account cannot be its own parent")]
            )
