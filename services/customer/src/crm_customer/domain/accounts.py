"""Accounts: the companies a business sells to."""

import uuid
from dataclasses import dataclass

from crm_customer.domain import fields as rule
from crm_customer.domain.records import Record
from crm_platform.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Account(Record):
    RULES = {
        "name": rule.text(200, required=True),
        "industry": rule.text(100),
        "website": rule.website,
        "phone": rule.phone,
        "tags": rule.tags,
        "parent_id": rule.optional_id,
    }
    REQUIRED_ANY = ("name",)

    name: str = ""
    industry: str = ""
    website: str = ""
    phone: str = ""
    tags: tuple[str, ...] = ()
    parent_id: uuid.UUID | None = None

    def check(self) -> None:
        super().check()
        if self.parent_id == self.id:
            raise InvalidArgument(
                [FieldViolation("parent_id", "an account cannot be its own parent")]
            )
