"""Request and response bodies of the public API (DESIGN §8 field names).

Requests forbid unknown fields and bound every string and list, so a bad request is a
clear 422 that changes nothing. The services validate formats (email, phone, ids) again:
they are the owners of those rules and are called by more than the gateway.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

_EXAMPLE_ID = "0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e"
Id = Annotated[str, Field(description="A UUIDv7.", examples=[_EXAMPLE_ID])]
RefId = Annotated[str | None, Field(max_length=64, description="Id of a related record, or null.")]
Tag = Annotated[str, Field(min_length=1, max_length=50)]
_NEXT_CURSOR = "Pass as `cursor` for the next page; null at the end."


InternalNotes = Annotated[
    str | None,
    Field(max_length=5000, description="Internal only: partners can neither see nor set it."),
]
PartnerId = Annotated[
    str | None,
    Field(max_length=64, description="The partner the record is linked to; not for partners."),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Transfer(Strict):
    """Changing the owner (and team) needs the transfer permission; without it, 422."""

    owner_id: str | None = Field(default=None, max_length=64, description="The new owner.")
    team_id: RefId = None


class AccountCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    industry: str | None = Field(default=None, max_length=100)
    website: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=32)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    parent_id: RefId = None
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None


class AccountPatch(Transfer):
    """JSON merge patch: only the fields present change; null clears a field."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    industry: str | None = Field(default=None, max_length=100)
    website: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=32)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    parent_id: RefId = None
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None


class ContactCreate(Strict):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    account_id: RefId = None
    title: str | None = Field(default=None, max_length=100)
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None


class ContactPatch(ContactCreate, Transfer):
    """JSON merge patch: only the fields present change; null clears a field."""


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
    name: str
    industry: str
    website: str
    phone: str
    tags: list[str]
    parent_id: str | None


class Contact(Record):
    first_name: str
    last_name: str
    email: str
    phone: str
    account_id: str | None
    title: str


class AccountPage(BaseModel):
    items: list[Account]
    next_cursor: str | None = Field(description=_NEXT_CURSOR)


class ContactPage(BaseModel):
    items: list[Contact]
    next_cursor: str | None = Field(description=_NEXT_CURSOR)


class Token(BaseModel):
    access_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(
        description="Opaque; `grant_type=refresh_token` exchanges it (once) for new tokens."
    )
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")


class Me(BaseModel):
    id: Id
    email: str
    display_name: str
    roles: list[str]
    team_id: str | None


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    checks: dict[str, str]


class Alive(BaseModel):
    status: str = Field(examples=["alive"])
