"""`GET /api/v1/audit-events`: the audit trail, for those granted `audit: read` (admins)."""

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from crm_gateway.api.deps import CurrentCaller, GatewayServices
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, Limit, problems
from crm_gateway.api.schemas import NO_NUL
from crm_gateway.audit.domain import AuditEvent, AuditQuery
from crm_gateway.audit.queries import checked_query, decode_cursor, encode_cursor
from crm_gateway.identity.callers import Caller
from crm_platform.auth.principal import Action

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"])


class AuditEventOut(BaseModel):
    id: str
    occurred_at: dt.datetime
    actor_id: str | None = Field(description="Null when the request proved no identity.")
    actor_kind: str = Field(examples=["user", "api_key", "anonymous"])
    action: str = Field(examples=["account.create", "auth.login_failed"])
    object_type: str
    object_id: str | None
    method: str
    route: str = Field(examples=["/api/v1/accounts/{account_id}"])
    status: int
    client_ip: str | None
    user_agent: str | None
    trace_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditEventPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None


async def audit_reader(caller: CurrentCaller) -> Caller:
    # A dependency, so a caller without the grant hears 403 before anything about filters.
    caller.principal.require("audit", Action.READ)
    return caller


Text = Annotated[str | None, Query(min_length=1, max_length=100, pattern=NO_NUL)]
Moment = Annotated[dt.datetime | None, Query(description="ISO 8601 with a time zone.")]


@router.get(
    "",
    response_model=AuditEventPage,
    responses=problems(401, 403, 422, 503),
    summary="List audit events, newest first",
)
async def list_audit_events(
    reader: Annotated[Caller, Depends(audit_reader)],
    services: GatewayServices,
    actor_id: Annotated[uuid.UUID | None, Query()] = None,
    action: Text = None,
    object_type: Text = None,
    object_id: Text = None,
    since: Moment = None,
    until: Moment = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    query = checked_query(
        AuditQuery(actor_id, action, object_type, object_id, since=since, until=until)
    )
    found, position = await services.audit.find(query, limit=limit, after=decode_cursor(cursor))
    return common.page_response([_event_json(e) for e in found], encode_cursor(position) or "")


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "occurred_at": event.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "actor_id": str(event.actor.subject_id) if event.actor.subject_id else None,
        "actor_kind": event.actor.kind,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "method": event.method,
        "route": event.route,
        "status": event.status,
        "client_ip": event.client_ip,
        "user_agent": event.user_agent,
        "trace_id": event.trace_id,
        "before": event.before,
        "after": event.after,
    }
