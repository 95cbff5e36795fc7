"""`/api/v1/webhooks`: event subscriptions for partners and integrations, their signing
secrets and their delivery log (crm_gateway.webhooks)."""

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from crm_gateway.api.deps import CurrentCaller, GatewayServices
from crm_gateway.api.routes import common
from crm_gateway.api.routes.common import Cursor, IfMatch, Limit, problems
from crm_gateway.api.schemas import NO_NUL, Strict
from crm_gateway.audit.changes import AuditChange, note_change
from crm_gateway.webhooks.model import Delivery, Webhook
from crm_gateway.webhooks.rules import EVENT_TYPES, MAX_URL_LENGTH

PATH = "/api/v1/webhooks"
OBJECT = "webhook"

router = APIRouter(prefix=PATH, tags=["webhooks"], responses=problems(401, 403, 429, 503))

EventType = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
_TYPES = f"Event types or patterns: {', '.join(EVENT_TYPES)}, `account.*`, `*`."
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        pattern=NO_NUL,
        examples=["https://erp.example.com/hooks"],
    ),
]


class WebhookCreate(Strict):
    url: Url
    event_types: list[EventType] = Field(min_length=1, max_length=50, description=_TYPES)
    description: str = Field(default="", max_length=500, pattern=NO_NUL)
    active: bool = True


class WebhookPatch(Strict):
    """Only the fields present change; `active: true` re-enables a disabled webhook."""

    url: Url | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    active: bool | None = None


class WebhookOut(BaseModel):
    id: str
    version: int
    url: str
    event_types: list[str]
    description: str
    active: bool
    disabled_reason: str | None = Field(description="Why it was disabled automatically.")
    consecutive_failures: int
    owner_id: str = Field(description="The user or API key whose visibility it follows.")
    owner_kind: str
    created_at: str
    updated_at: str


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="Signs every delivery; shown only here. Keep it secret.")


class WebhookPage(BaseModel):
    items: list[WebhookOut]
    next_cursor: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: str | None
    created_at: str
    payload: dict[str, Any]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


@router.post(
    "", status_code=201, response_model=WebhookWithSecret, responses=problems(422),
    summary="Subscribe a URL to events",
)  # fmt: skip
async def create_webhook(
    body: WebhookCreate, request: Request, caller: CurrentCaller, services: GatewayServices
) -> Response:
    webhook = await services.webhooks.create(
        caller.principal,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        active=body.active,
    )
    _noted(request, "webhook.create", webhook)
    return common.record_response(
        {**webhook_json(webhook), "secret": webhook.secret},
        webhook.version,
        201,
        location=f"{PATH}/{webhook.id}",
    )


@router.get("", response_model=WebhookPage, responses=problems(422), summary="List webhooks")
async def list_webhooks(
    caller: CurrentCaller, services: GatewayServices, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    found = await services.webhooks.page(
        caller.principal, after=common.decode_cursor(cursor), limit=limit + 1
    )
    next_cursor = common.encode_cursor(found[limit - 1].id) if len(found) > limit else ""
    return common.page_response([webhook_json(w) for w in found[:limit]], next_cursor)


@router.get(
    "/{webhook_id}", response_model=WebhookOut, responses=problems(404), summary="Get a webhook"
)
async def get_webhook(
    webhook_id: str, caller: CurrentCaller, services: GatewayServices
) -> Response:
    webhook = await services.webhooks.get(caller.principal, _id(webhook_id))
    return common.record_response(webhook_json(webhook), webhook.version)


@router.patch(
    "/{webhook_id}", response_model=WebhookOut, responses=problems(404, 412, 422, 428),
    summary="Change a webhook",
)  # fmt: skip
async def update_webhook(
    webhook_id: str,
    body: WebhookPatch,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    webhook = await services.webhooks.update(
        caller.principal,
        _id(webhook_id),
        expected_version=common.expected_version(if_match),
        **body.model_dump(exclude_unset=True, exclude_none=True),
    )
    _noted(request, "webhook.update", webhook)
    return common.record_response(webhook_json(webhook), webhook.version)


@router.post(
    "/{webhook_id}/rotate-secret", response_model=WebhookWithSecret,
    responses=problems(404, 412, 428), summary="Give a webhook a new signing secret",
)  # fmt: skip
async def rotate_webhook_secret(
    webhook_id: str,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    webhook = await services.webhooks.rotate_secret(
        caller.principal, _id(webhook_id), expected_version=common.expected_version(if_match)
    )
    _noted(request, "webhook.rotate_secret", webhook)
    return common.record_response(
        {**webhook_json(webhook), "secret": webhook.secret}, webhook.version
    )


@router.delete(
    "/{webhook_id}", status_code=204, responses=problems(404, 412, 428),
    summary="Remove a webhook and its delivery log",
)  # fmt: skip
async def delete_webhook(
    webhook_id: str,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
    if_match: IfMatch = None,
) -> Response:
    webhook = await services.webhooks.delete(
        caller.principal, _id(webhook_id), expected_version=common.expected_version(if_match)
    )
    _noted(request, "webhook.delete", webhook)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries", response_model=DeliveryPage, responses=problems(404, 422),
    summary="The delivery log, newest first",
)  # fmt: skip
async def list_deliveries(
    webhook_id: str,
    caller: CurrentCaller,
    services: GatewayServices,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    found = await services.webhooks.deliveries(
        caller.principal, _id(webhook_id), after=common.decode_cursor(cursor), limit=limit + 1
    )
    next_cursor = common.encode_cursor(found[limit - 1].id) if len(found) > limit else ""
    return common.page_response([delivery_json(d) for d in found[:limit]], next_cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/resend", status_code=202,
    response_model=DeliveryOut, responses=problems(404), summary="Send a delivery again",
)  # fmt: skip
async def resend_delivery(
    webhook_id: str,
    delivery_id: str,
    request: Request,
    caller: CurrentCaller,
    services: GatewayServices,
) -> Response:
    delivery = await services.webhooks.resend(
        caller.principal, _id(webhook_id), common.parse_id(delivery_id, "delivery")
    )
    note_change(request, AuditChange("webhook.resend", OBJECT, webhook_id))
    return common.json_response(delivery_json(delivery), 202)


def _id(webhook_id: str) -> uuid.UUID:
    return common.parse_id(webhook_id, "webhook")


def _noted(request: Request, action: str, webhook: Webhook) -> None:
    note_change(request, AuditChange(action, OBJECT, str(webhook.id), after=webhook_json(webhook)))


def _moment(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": str(webhook.id),
        "version": webhook.version,
        "url": webhook.url,
        "event_types": list(webhook.event_types),
        "description": webhook.description,
        "active": webhook.active,
        "disabled_reason": webhook.disabled_reason,
        "consecutive_failures": webhook.consecutive_failures,
        "owner_id": str(webhook.owner.subject_id),
        "owner_kind": webhook.owner.kind,
        "created_at": _moment(webhook.created_at),
        "updated_at": _moment(webhook.updated_at),
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": _moment(delivery.next_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": _moment(delivery.delivered_at),
        "created_at": _moment(delivery.created_at),
        "payload": delivery.payload,
    }
