"""Request and response bodies of the public API (DESIGN §8 field names).

Requests forbid unknown fields and bound every string and list, so a bad request is a
clear 422 that changes nothing. The services validate formats (email, phone, ids) again:
they are the owners of those rules and are called by more than the gateway.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

# PostgreSQL text cannot hold NUL; refused here, so no request can reach a database with it.
NO_NUL = r"^[^\x00]*$"

_EXAMPLE_ID = "0190f1c2-7b6e-7a3c-9d1e-3f2a1b0c4d5e"
Id = Annotated[str, Field(description="A UUIDv7.", examples=[_EXAMPLE_ID])]
RefId = Annotated[
    str | None,
    Field(max_length=64, pattern=NO_NUL, description="Id of a related record, or null."),
]
Tag = Annotated[str, Field(min_length=1, max_length=50, pattern=NO_NUL)]
_NEXT_CURSOR = "Pass as `cursor` for the next page; null at the end."


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
}
_CONTACT: JsonDict = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@acme.example",
    "phone": "+49 30 1234568",
    "account_id": _EXAMPLE_ID,
    "title": "CTO",
}
_RECORD: JsonDict = {
    "id": "0190f1c2-8a1d-7b2e-9f3c-4d5e6f708192",
    "version": 3,
    "owner_id": "0190f1c2-0000-7000-8000-000000000001",
    "team_id": "0190f1c2-0000-7000-8000-00000000000a",
    "partner_id": "0190f1c2-0000-7000-8000-0000000000b1",
    "created_at": "2026-11-20T09:30:00Z",
    "updated_at": "2026-11-22T14:05:12Z",
}


_NEXT_PAGE = "MDE5MGYxYzItOGExZC03YjJl"


def _examples(*examples: JsonDict) -> JsonDict:
    return {"examples": list(examples)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Transfer(Strict):
    """Changing the owner (and team) needs the transfer permission; without it, 422."""

    owner_id: str | None = Field(
        default=None, max_length=64, pattern=NO_NUL, description="The new owner."
    )
    team_id: RefId = None


class AccountCreate(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_examples(_ACCOUNT))

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    industry: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    website: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    phone: str | None = Field(default=None, max_length=32, pattern=NO_NUL)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    parent_id: RefId = None
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None


class AccountPatch(Transfer):
    """JSON merge patch: only the fields present change; null clears a field."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_examples({"industry": "Retail", "tags": []})
    )

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    industry: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    website: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    phone: str | None = Field(default=None, max_length=32, pattern=NO_NUL)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    parent_id: RefId = None
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None


class ContactCreate(Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_examples(_CONTACT))

    first_name: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    last_name: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    email: str | None = Field(default=None, max_length=254, pattern=NO_NUL)
    phone: str | None = Field(default=None, max_length=32, pattern=NO_NUL)
    account_id: RefId = None
    title: str | None = Field(default=None, max_length=100, pattern=NO_NUL)
    partner_id: PartnerId = None
    internal_notes: InternalNotes = None


class ContactPatch(ContactCreate, Transfer):
    """JSON merge patch: only the fields present change; null clears a field."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_examples({"title": "CEO", "phone": ""})
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
    model_config = ConfigDict(json_schema_extra=_examples({**_RECORD, **_ACCOUNT}))

    name: str
    industry: str
    website: str
    phone: str
    tags: list[str]
    parent_id: str | None


class Contact(Record):
    model_config = ConfigDict(json_schema_extra=_examples({**_RECORD, **_CONTACT}))

    first_name: str
    last_name: str
    email: str
    phone: str
    account_id: str | None
    title: str


class AccountPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples({"items": [{**_RECORD, **_ACCOUNT}], "next_cursor": _NEXT_PAGE})
    )

    items: list[Account]
    next_cursor: str | None = Field(description=_NEXT_CURSOR)


class ContactPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=_examples({"items": [{**_RECORD, **_CONTACT}], "next_cursor": _NEXT_PAGE})
    )

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
    kind: str = Field(description="`user`, or `api_key` for a request made with X-API-Key.")
    email: str | None = Field(description="The user's email; null for an API key.")
    display_name: str = Field(description="The user's name, or the API key's.")
    roles: list[str]
    team_id: str | None
    partner_id: str | None = Field(description="Set for a partner's API key: its records only.")
    permissions: dict[str, dict[str, str]] = Field(
        description="What the roles grant: `{object: {action: scope}}`, scopes partner, own, "
        "team (the team's subtree) or all."
    )


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    checks: dict[str, str]


class Alive(BaseModel):
    status: str = Field(examples=["alive"])
