"""What a route reports for the audit trail. Routes note changes on the request; one place
(the audit middleware) adds who, when and from where and stores them."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

_STATE_KEY = "audit_changes"


@dataclass(frozen=True)
class AuditChange:
    action: str  # "<object>.<verb>": "user.create", "role.update", "api_key.revoke", "auth.login"
    object_type: str  # "user", "team", "role", "api_key", "account", ...
    object_id: str | None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None


def note_change(request: Request, change: AuditChange) -> None:
    """Record `change` for the audit trail of this request (secrets must not be in it)."""
    request.state.__dict__.setdefault(_STATE_KEY, []).append(change)


def noted_changes(request: Request) -> list[AuditChange]:
    found: list[AuditChange] = request.state.__dict__.get(_STATE_KEY, [])
    return found
