"""The 360° timeline of an account, as the API shows it."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from crm_gateway.api.schemas import EXAMPLE_ID, NEXT_CURSOR, NEXT_PAGE, examples

_TIMELINE_ENTRY: JsonDict = {
    "id": EXAMPLE_ID,
    "occurred_at": "2026-11-22T09:30:00.000Z",
    "kind": "opportunity",
    "source": "sales",
    "event_type": "crm.sales.events.v1.OpportunityWon",
    "subject_id": "0190f1c2-8a1d-7b2e-9c3f-4d5e6f708192",
    "title": "Opportunity won: Big deal",
    "data": {"opportunity": {"name": "Big deal", "account_id": EXAMPLE_ID}},
}


class TimelineEntry(BaseModel):
    id: str = Field(description="The event's id.")
    occurred_at: str
    kind: str = Field(
        description="opportunity, activity, quote, ticket, campaign_response, erp_order, "
        "erp_invoice, contact, account, or what a newer event type's subject names."
    )
    source: str = Field(description="The publishing service (sales, service_desk, ...).")
    event_type: str = Field(description="The event's full protobuf name.")
    subject_id: str = Field(description="The record the event is about.")
    title: str
    data: dict[str, Any] = Field(description="The event's fields, as published.")


class TimelinePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=examples({"items": [_TIMELINE_ENTRY], "next_cursor": NEXT_PAGE})
    )

    items: list[TimelineEntry]
    next_cursor: str | None = Field(description=NEXT_CURSOR)
