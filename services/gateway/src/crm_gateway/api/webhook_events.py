"""The suite's events as webhooks deliver them: the type's public name, the record the
event is about (for visibility) and that record's public JSON, as the API shows it."""

import uuid
from collections.abc import Callable
from typing import Any

from google.protobuf.message import Message

from crm.customer.events.v1 import events_pb2 as customer_events
from crm_gateway.api.mapping import account_json, contact_json
from crm_gateway.webhooks.dispatch import RenderedEvent
from crm_gateway.webhooks.rules import Subject
from crm_platform.events.envelope import Envelope

_EVENTS: dict[str, tuple[type[Message], str, str, Callable[[Any], dict[str, Any]]]] = {
    message.DESCRIPTOR.full_name: (message, event_type, obj, to_json)
    for message, event_type, obj, to_json in (
        (customer_events.AccountCreated, "account.created", "account", account_json),
        (customer_events.AccountUpdated, "account.updated", "account", account_json),
        (customer_events.AccountDeleted, "account.deleted", "account", account_json),
        (customer_events.ContactCreated, "contact.created", "contact", contact_json),
        (customer_events.ContactUpdated, "contact.updated", "contact", contact_json),
        (customer_events.ContactDeleted, "contact.deleted", "contact", contact_json),
    )
}
# The `Crm-Event-Type` names the dispatcher's consumer handles.
EVENT_NAMES = tuple(_EVENTS)


def render(envelope: Envelope) -> RenderedEvent | None:
    found = _EVENTS.get(envelope.event_type)
    if found is None:
        return None
    message_type, event_type, obj, to_json = found
    record = getattr(message_type.FromString(envelope.payload), obj)
    subject = Subject(
        obj=obj,
        owner_id=_uuid(record.owner_id),
        team_id=_uuid(record.team_id),
        partner_id=_uuid(record.partner_id),
    )
    return RenderedEvent(event_type, subject, to_json(record))


def _uuid(text: str) -> uuid.UUID | None:
    return uuid.UUID(text) if text else None
