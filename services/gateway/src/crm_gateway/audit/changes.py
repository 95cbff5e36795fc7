"""What a route reports for the audit trail. Routes note changes on the request; one place
(the audit middleware) adds who, when and from where and stores them.

Notes live in the ASGI scope, which the middleware and the route share (each builds its
own Request object around it)."""

import uuid

from starlette.requests import Request
from starlette.types import Scope

from crm_gateway.audit.domain import Actor, AuditChange

__all__ = [
    "AuditChange",
    "collect_changes",
    "note_actor",
    "note_change",
    "noted_actor",
    "noted_changes",
]

_CHANGES_KEY = "crm.audit.changes"
_ACTOR_KEY = "crm.audit.actor"


def note_change(request: Request, change: AuditChange) -> None:
    """Record `change` for the audit trail of this request (secrets must not be in it)."""
    request.scope.setdefault(_CHANGES_KEY, []).append(change)


def note_actor(request: Request, subject_id: uuid.UUID, kind: str) -> None:
    """Name the actor of a request that proves its identity itself (a login)."""
    request.scope[_ACTOR_KEY] = Actor(subject_id, kind)


def noted_changes(request: Request) -> list[AuditChange]:
    found: list[AuditChange] = request.scope.get(_CHANGES_KEY, [])
    return found


def collect_changes(scope: Scope) -> list[AuditChange]:
    """A fresh list the route's notes go into; the middleware reads it afterwards."""
    changes: list[AuditChange] = []
    scope[_CHANGES_KEY] = changes
    return changes


def noted_actor(scope: Scope) -> Actor | None:
    found: Actor | None = scope.get(_ACTOR_KEY)
    return found
