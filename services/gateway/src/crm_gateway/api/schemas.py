"""Request and response bodies of the public API (DESIGN §8 field names).

Requests forbid unknown fields and bound every string and list, so a bad request is a
clear 422 that changes nothing. The services validate formats (email, phone, ids) again:
they are the owners of those rules and are called by more than the gateway.
"""

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt
from pydantic.config import JsonDict

# PostgreSQL text cannot hold NUL; refused here, so no request can reach a database with it.
NO_NUL = r"^[^\x00]*$"

EXAMPLE_ID = "0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e"
Id = Annotated[str, Field(description="A UUIDv7.", examples=[EXAMPLE_ID])]
RefId = Annotated[
    str | None,
    Field(max_length=64, pattern=NO_NUL, description="Id of a related record, or null."),
]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=NO_NUL)]
NEXT_CURSOR = "Pass as `cursor` for the next page; null at the end."


InternalNotes = Annotated[
    str | None,
    Field(
        max_length=5000,
        pattern=NO_NUL,
        description="Internal only: partners can neither see nor set it.",
    ),
]
PartnerId = Annotated[
    str | None,
    Field(
        max_length=64,
        pattern=NO_NUL,
        description="The partner the record is linked to; not for partners.",
    ),
]
# Examples hold no nulls: FastAPI drops None values from the document, which would leave
# the examples without required keys.
_ACCOUNT: JsonDict = {
    "name": "Acme GmbH",
    "industry": "Manufacturing",
    "website": "https://acme.example",
    "phone": "+49 30 1234567",
    "tags": ["b2b", "key-account"],
    "parent_id": "0190f1c2-6c5d-7e4f-8a9b-0c1d2e3f4a5b",
    "legal_name": "Acme Holding GmbH",
    "employees": 250,
    "other_phones": ["+49 30 7654321"],
    "addresses": [
        {
            "kind": "billing",
            "street": "Hauptstr. 1",
            "city": "Berlin",
            "region": "BE",
            "postal_code": "10115",
            "country": "DE",
        }
    ],
    "lifecycle": "customer",
    "credit_limit": {"value": "25000.00", "currency": "EUR"},
    "credit_rating": "A",
    "agreements": [
        {
            "reference": "MSA-2026-7",
            "starts_on": "2026-01-01",
            "ends_on": "2027-12-31",
            "description": "Framework agreement",
        }
    ],
    "custom_fields": {"segment": "gold"},
}
_CONTACT: JsonDict = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@acme.example",
    "phone": "+49 30 1234568",
    "account_id": EXAMPLE_ID,
    "title": "CTO",
    "other_emails": ["ada@private.example"],
    "other_phones": [],
    "account_roles": [
        {"account_id": "0190f1c2-6c5d-7e4f-8a9b-0c1d2e3f4a5b", "role": "decision maker"}
    ],
    "addresses": [],
    "birthday": "1985-12-10",
    "preferred_channel": "email",
    "consents": [
        {
            "channel": "email",
            "granted": True,
            "recorded_at": "2026-11-20T09:30:00Z",
            "source": "web form",
        }
    ],
    "tags": ["newsletter"],
    "custom_fields": {"shoe_size": 38},
}
_RECORD: JsonDict = {
    "id": "0190f1c2-8a1d-7b2e-9f3c-4d5e6f708192",
    "version": 3,
    "owner_id": "0190f1c2-0000-7000-8000-000000000001",
    "team_id": "0190f1c2-0000-7000-8000-00000000000a",
    "partner_id": "0190f1c2-0000-7000-8000-0000000000b1",
    "created_at": "2026-11-20T09:30:00Z",
    "updated_at": "2026-11-22T14:05:12Z",
    "last_contacted_at": "2026-11-21T16:00:00Z",
}


NEXT_PAGE = "MDE5MGYxYzItOGExZC03YjJl"


def examples(*examples: JsonDict) -> JsonDict:
    return {"examples": list(examples)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Text2 = Annotated[str, Field(max_length=2, pattern=NO_NUL)]
Text20 = Annotated[str, Field(max_length=20, pattern=NO_NUL)]
Text50 = Annotated[str, Field(max_length=50, pattern=NO_NUL)]
Text100 = Annotated[str, Field(max_length=100, pattern=NO_NUL)]
Text300 = Annotated[str, Field(max_length=300, pattern=NO_NUL)]
Text500 = Annotated[str, Field(max_length=500, pattern=NO_NUL)]


class Address(Strict):
    kind: Literal["billing", "shipping", "office", "home", "other"] = "office"
    street: Text300 = ""
    city: Text100 = ""
    region: Text100 = ""
    postal_code: Text20 = ""
    country: Text2 = Field(default="", description="ISO 3166 alpha-2, e.g. DE.")


class Money(Strict):
    value: str = Field(
        max_length=40, pattern=NO_NUL, description="A decimal string.", examples=["25000.00"]
    )
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217.", examples=["EUR"])


class Agreement(Strict):
    reference: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    description: Text500 = ""


class Consent(Strict):
    channel: Literal["email", "sms", "phone"]
    granted: StrictBool
    recorded_at: dt.datetime | None = Field(
        default=None, description="When it was given or withdrawn; now when omitted."
    )
    source: Text100 = Field(default="", examples=["web form"])


class AccountRole(Strict):
    account_id: str = Field(max_length=64, pattern=NO_NUL)
    role: Text50 = Field(default="", examples=["decision maker"])


CustomValue = str | StrictInt | StrictFloat | StrictBool | None
CustomFields = Annotated[
    dict[Annotated[str, Field(max_length=50)], CustomValue] | None,
    Field(max_length=100, description="Values of the admin-defined custom fields, by name."),
]
Phones = Annotated[
    list[Annotated[str, Field(max_length=32, pattern=NO_NUL)]] | None, Field(max_length=10)
]
Emails = Annotated[
    list[Annotated[str, Field(max_length=254, pattern=NO_NUL)]] | None, Field(max_length=10)
]
Addresses = Annotated[list[Address] | None, Field(max_length=10)]


class Transfer(Strict):
    """Changing the owner (and team) needs the transfer permission; without it, 422."""

    owner_id: str | None = Field(
        default=None, max_length=64, pattern=NO_NUL, description="The new owner."
    )
    team_id: RefId = None


class AccountCreate(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=examples(_ACCOUNT))

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    industry: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    website: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    phone: str | None = Field(default=None, max_length=32, pattern=NO_NUL)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    parent_id: RefId = None
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None
    legal_name: str | None = Field(default=None, max_length=200, pattern=NO_NUL)
    employees: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    other_phones: Phones = None
    addresses: Addresses = None
    lifecycle: Literal["prospect", "customer", "former"] | None = None
    credit_limit: Money | None = None
    credit_rating: str | None = Field(default=None, max_length=20, pattern=NO_NUL)
    agreements: list[Agreement] | None = Field(default=None, max_length=50)
    custom_fields: CustomFields = None


class AccountPatch(Transfer):
    """JSON merge patch: only the fields present change; null clears a field."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=examples({"industry": "Retail", "tags": []})
    )

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    industry: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    website: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    phone: str | None = Field(default=None, max_length=32, pattern=NO_NUL)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    parent_id: RefId = None
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None
    legal_name: str | None = Field(default=None, max_length=200, pattern=NO_NUL)
    employees: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    other_phones: Phones = None
    addresses: Addresses = None
    lifecycle: Literal["prospect", "customer", "former"] | None = None
    credit_limit: Money | None = None
    credit_rating: str | None = Field(default=None, max_length=20, pattern=NO_NUL)
    agreements: list[Agreement] | None = Field(default=None, max_length=50)
    custom_fields: CustomFields = None


class ContactCreate(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=examples(_CONTACT))

    first_name: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    last_name: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    email: str | None = Field(default=None, max_length=254, pattern=NO_NUL)
    phone: str | None = Field(default=None, max_length=32, pattern=NO_NUL)
    account_id: RefId = None
    title: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None
    other_emails: Emails = None
    other_phones: Phones = None
    account_roles: list[AccountRole] | None = Field(default=None, max_length=50)
    addresses: Addresses = None
    birthday: dt.date | None = None
    preferred_channel: Literal["email", "sms", "phone", "mail", ""] | None = None
    consents: list[Consent] | None = Field(default=None, max_length=12)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    custom_fields: CustomFields = None


class ContactPatch(ContactCreate, Transfer):
    """JSON merge patch: only the fields present change; null clears a field."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=examples({"title": "CEO", "phone": ""})
    )


class Record(BaseModel):
    id: Id
    version: int = Field(description="Increases with every change; the ETag is its quoted value.")
    owner_id: Id
    team_id: str | None
    partner_id: str | None
    internal_notes: str | None = Field(
        default=None, description="Internal only: absent in answers to partners."
    )
    created_at: str = Field(description="RFC 3339, UTC.")
    updated_at: str = Field(description="RFC 3339, UTC.")


class Account(Record):
    model_config = ConfigDict(json_schema_extra=examples({**_RECORD, **_ACCOUNT}))

    name: str
    industry: str
    website: str
    phone: str
    tags: list[str]
    parent_id: str | None
    legal_name: str
    employees: int
    other_phones: list[str]
    addresses: list[Address]
    lifecycle: str
    credit_limit: Money | None
    credit_rating: str
    agreements: list[Agreement]
    custom_fields: dict[str, CustomValue]
    last_contacted_at: str | None


class Contact(Record):
    model_config = ConfigDict(json_schema_extra=examples({**_RECORD, **_CONTACT}))

    first_name: str
    last_name: str
    email: str
    phone: str
    account_id: str | None
    title: str
    other_emails: list[str]
    other_phones: list[str]
    account_roles: list[AccountRole]
    addresses: list[Address]
    birthday: str | None
    preferred_channel: str
    consents: list[Consent]
    tags: list[str]
    custom_fields: dict[str, CustomValue]
    last_contacted_at: str | None


class LikelyDuplicate(BaseModel):
    id: Id
    reasons: list[str] = Field(
        description="Strongest first. Contacts: same_email, same_phone, "
        "similar_name_same_company. Accounts: same_website, same_phone, similar_name.",
        examples=[["same_email"]],
    )


class AccountCreated(Account):
    likely_duplicates: list[LikelyDuplicate] = Field(
        description="Visible accounts that are likely the same company."
    )


class ContactCreated(Contact):
    likely_duplicates: list[LikelyDuplicate] = Field(
        description="Visible contacts that are likely the same person."
    )


class AccountPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=examples({"items": [{**_RECORD, **_ACCOUNT}], "next_cursor": NEXT_PAGE})
    )

    items: list[Account]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class ContactPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=examples({"items": [{**_RECORD, **_CONTACT}], "next_cursor": NEXT_PAGE})
    )

    items: list[Contact]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class ImportJob(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    entity: Literal["contacts", "accounts"]
    mode: Literal["create", "upsert", "skip_duplicates"]
    dry_run: bool
    file_name: str
    total: int = Field(description="Data rows in the file.")
    processed: int
    created: int
    updated: int
    skipped: int
    failed: int
    error: str | None = Field(description="Why the import failed as a whole.")
    ignored_columns: list[str] = Field(description="Columns mapped to no field.")
    created_at: dt.datetime
    finished_at: dt.datetime | None


class ImportPage(BaseModel):
    items: list[ImportJob] = Field(description="Newest first.")
    next_cursor: str | None = Field(description=NEXT_CURSOR)
