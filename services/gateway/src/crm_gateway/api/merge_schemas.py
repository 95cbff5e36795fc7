"""Request and response bodies of record merges and record history."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_gateway.api.schemas import NO_NUL, Strict

FieldName = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]


class MergeRequest(Strict):
    """Merge `duplicate_id` into the record of the path (the survivor)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "duplicate_id": "0190f1c2-8a1d-7b2e-9c3f-4d5e6f708192",
                    "fields": {"first_name": "duplicate"},
                }
            ]
        },
    )

    duplicate_id: str = Field(
        min_length=1, max_length=64, pattern=NO_NUL, description="The record merged away."
    )
    fields: dict[FieldName, Literal["survivor", "duplicate"]] = Field(
        default_factory=dict,
        max_length=100,
        description="Whose value a field keeps. Unnamed fields keep the survivor's value, or "
        "the duplicate's where the survivor's is empty; lists (tags, other emails and "
        "phones, addresses, roles, consents, agreements) are unioned without repeats.",
    )


class RecordChange(BaseModel):
    field: str = Field(
        description="The field changed, or what happened to the whole record: "
        "created, deleted, merged."
    )
    old: Any = Field(description="The value before, JSON as stored; null when none.")
    new: Any = Field(description='The value after; of "merged": {"survivor_id", "duplicate_id"}.')
    actor_id: str = Field(description="Who made the change.")
    changed_at: str = Field(description="RFC 3339, UTC.")


class HistoryPage(BaseModel):
    items: list[RecordChange] = Field(description="Newest change first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
