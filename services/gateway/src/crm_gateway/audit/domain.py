"""What the audit trail holds; no framework code here."""

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class AuditChange:
    action: str  # "<object>.<verb>": "user.create", "role.update", "api_key.revoke", "auth.login"
    object_type: str  # "user", "team", "role", "api_key", "account", ...
    object_id: str | None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Actor:
    subject_id: uuid.UUID | None
    kind: str  # "user", "api_key", or "anonymous" when the request proved no identity


@dataclass(frozen=True)
class RequestFacts:
    """Who asked, and how, as the audit middleware saw the request."""

    actor: Actor
    method: str
    route: str
    status: int
    client_ip: str | None
    user_agent: str | None
    trace_id: str | None


@dataclass(frozen=True)
class AuditEvent:
    id: uuid.UUID
    occurred_at: dt.datetime
    actor: Actor
    action: str
    object_type: str
    object_id: str | None
    method: str
    route: str
    status: int
    client_ip: str | None
    user_agent: str | None
    trace_id: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


@dataclass(frozen=True)
class AuditQuery:
    actor_id: uuid.UUID | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
