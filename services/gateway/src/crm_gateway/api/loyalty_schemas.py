"""Request and response bodies of the loyalty ledgers of accounts and contacts.

Bounds are the customer service's (crm_customer.domain.loyalty), which checks them again.
"""

import datetime as dt
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from crm_gateway.api.schemas import NEXT_CURSOR, NO_NUL, Id, Strict

MAX_POINTS = 1_000_000_000


class LoyaltyEntryCreate(Strict):
    kind: Literal["earn", "redeem"] = Field(
        description="Expiries are written by the service itself, never by callers."
    )
    points: StrictInt = Field(ge=1, le=MAX_POINTS, description="Always positive.")
    reason: str = Field(min_length=1, max_length=500, pattern=NO_NUL)
    reference: str | None = Field(
        default=None,
        max_length=200,
        pattern=NO_NUL,
        description="E.g. an order number. A retry with the same kind and reference returns "
        "the entry written the first time (200) instead of counting it twice.",
    )
    expires_at: AwareDatetime | None = Field(
        default=None, description="Earns only, in the future: when their unspent points expire."
    )


class LoyaltyEntry(BaseModel):
    id: Id
    record_type: Literal["account", "contact"]
    record_id: Id
    kind: Literal["earn", "redeem", "expire"]
    points: int
    reason: str
    reference: str | None = Field(description="An expiry names the earn it expires.")
    expires_at: dt.datetime | None
    actor_id: Id
    created_at: dt.datetime
    balance_after: int = Field(description="The balance after this entry.")


class LoyaltyEntryAdded(BaseModel):
    entry: LoyaltyEntry
    balance: int = Field(description="The balance after the request.")


class LoyaltyPage(BaseModel):
    items: list[LoyaltyEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class LoyaltyExpiry(BaseModel):
    entry_id: Id = Field(description="The earn whose unspent points expire.")
    points: int
    expires_at: dt.datetime


class LoyaltyBalance(BaseModel):
    balance: int = Field(ge=0)
    expiring: list[LoyaltyExpiry] = Field(
        description="The unspent points that expire next, soonest first, at most 10."
    )
