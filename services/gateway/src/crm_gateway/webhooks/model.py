"""A webhook subscription and one delivery of one event to it."""

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from crm_platform.auth.principal import Principal


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Webhook:
    id: uuid.UUID
    version: int
    # Whose visibility the deliveries follow: the user or API key that subscribed.
    owner: Principal
    url: str
    event_types: tuple[str, ...]
    description: str
    active: bool
    secret: str
    created_at: dt.datetime
    updated_at: dt.datetime
    disabled_reason: str | None = None
    consecutive_failures: int = 0
    # When it was last made active; None while it is not.
    active_since: dt.datetime | None = None


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: dt.datetime | None = None


def principal_json(principal: Principal) -> dict[str, Any]:
    return {
        "subject_id": str(principal.subject_id),
        "kind": principal.kind,
        "roles": sorted(principal.roles),
        "team_id": str(principal.team_id) if principal.team_id else None,
        "team_ids": sorted(str(t) for t in principal.team_ids),
        "partner_id": str(principal.partner_id) if principal.partner_id else None,
        "grants": principal.grants,
    }


def principal_of(data: dict[str, Any]) -> Principal:
    return Principal(
        subject_id=uuid.UUID(data["subject_id"]),
        kind=data["kind"],
        roles=frozenset(data["roles"]),
        team_id=uuid.UUID(data["team_id"]) if data["team_id"] else None,
        team_ids=frozenset(uuid.UUID(t) for t in data["team_ids"]),
        partner_id=uuid.UUID(data["partner_id"]) if data["partner_id"] else None,
        grants=data["grants"],
    )
