"""The search and filter parameters of the account and contact lists, written once: query
parameters in, the customer service's RecordFilter out. The service validates them again
(it owns the rules); here they are bounded, so a bad one is a 422 before any call."""

from typing import Annotated, Any, Literal

from fastapi import Query
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, ConfigDict, Field

from crm.customer.v1 import customer_pb2 as pb
from crm_gateway.api.schemas import NO_NUL
from crm_platform.errors import FieldViolation, InvalidArgument

Order = Literal[
    "name", "-name", "created_at", "-created_at", "updated_at", "-updated_at",
    "last_contacted_at", "-last_contacted_at",
]  # fmt: skip


Lifecycle = Literal["prospect", "customer", "former"]
Company = Annotated[
    str, Field(max_length=200, pattern=NO_NUL, description="Start of the account's name.")
]


class RecordConditions(BaseModel):
    q: str = Field(
        default="", max_length=100, pattern=NO_NUL,
        description="Beginning of any word of the name, or a similar name (typos tolerated).",
    )  # fmt: skip
    email: str = Field(default="", max_length=254, pattern=NO_NUL, description="Or its start.")
    phone: str = Field(
        default="", max_length=32, pattern=NO_NUL, description="Any format: `+49 30 123`, `030123`."
    )
    region: str = Field(
        default="", max_length=2, pattern=NO_NUL,
        description="ISO 3166 code to read phone numbers without a country code, e.g. CN.",
    )  # fmt: skip
    tag: list[Annotated[str, Field(max_length=50, pattern=NO_NUL)]] = Field(
        default_factory=list, max_length=20, description="Repeat for several; all must match."
    )
    owner_id: str = Field(default="", max_length=64, pattern=NO_NUL)
    not_contacted_days: int = Field(
        default=0, ge=0, le=36_500, description="Not contacted in this many days, or never."
    )
    custom_field: list[Annotated[str, Field(max_length=300, pattern=NO_NUL)]] = Field(
        default_factory=list, max_length=20,
        description="`name:value`, exact; repeat for several.",
    )  # fmt: skip


class RecordQuery(RecordConditions):
    order_by: Order | None = Field(default=None, description="Newest first when absent.")


class AccountQuery(RecordQuery):
    lifecycle: Lifecycle | None = None


class ContactQuery(RecordQuery):
    company: Company = ""


class SavedConditions(RecordConditions):
    """The list filters, kept in a body (segments, exports): `lifecycle` is of accounts,
    `email` and `company` of contacts."""

    model_config = ConfigDict(extra="forbid")
    lifecycle: Lifecycle | None = Field(default=None, description="Accounts only.")
    company: Company = ""


AccountFilters = Annotated[AccountQuery, Query()]
ContactFilters = Annotated[ContactQuery, Query()]


def record_filter(query: RecordConditions, location: str = "query") -> pb.RecordFilter:
    """`location` names where the conditions came from in errors: `query` or `filter`."""
    found = pb.RecordFilter(
        query=query.q,
        email=query.email,
        phone=query.phone,
        region=query.region,
        tags=query.tag,
        owner_id=query.owner_id,
        not_contacted_days=query.not_contacted_days,
        lifecycle=getattr(query, "lifecycle", None) or "",
        company=getattr(query, "company", ""),
    )
    found.custom_fields.update(_custom_fields(query.custom_field, location))
    return found


def conditions_json(wanted: pb.RecordFilter) -> dict[str, Any]:
    """A RecordFilter under the names the API takes it by; only the conditions set."""
    found: dict[str, Any] = {
        name: getattr(wanted, field) for name, field in _API_NAMES.items() if getattr(wanted, field)
    }
    if wanted.tags:
        found["tag"] = list(wanted.tags)
    if wanted.custom_fields:
        found["custom_field"] = [
            f"{name}:{value}" for name, value in MessageToDict(wanted.custom_fields).items()
        ]
    return found


_API_NAMES = {
    "q": "query", "email": "email", "phone": "phone", "region": "region",
    "owner_id": "owner_id", "not_contacted_days": "not_contacted_days",
    "lifecycle": "lifecycle", "company": "company",
}  # fmt: skip


def _custom_fields(pairs: list[str], location: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        name, colon, value = pair.partition(":")
        if not colon or not name:
            raise InvalidArgument(
                [FieldViolation(f"{location}.custom_field", f"{pair!r} is not `name:value`")]
            )
        found[name] = value
    return found
