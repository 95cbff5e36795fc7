"""Protobuf records <-> the JSON the API speaks. Names are the same on both sides (DESIGN
§8); the differences are that ids proto leaves empty are null in JSON, timestamps are
RFC 3339 strings, and a JSON null in a patch clears the field."""

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp

from crm.customer.v1 import customer_pb2 as pb
from crm.customer.v1 import loyalty_pb2 as lpb
from crm.customer.v1 import timeline_pb2 as tpb

JsonObject = dict[str, Any]
_RECORD_FIELDS = [
    *pb.Account.DESCRIPTOR.fields,
    *pb.Contact.DESCRIPTOR.fields,
]
# Message fields: null clears them, which proto expresses by leaving them out.
_MESSAGES = frozenset(f.name for f in _RECORD_FIELDS if f.message_type and not f.is_repeated)
# Every other field: what null becomes, its type's empty value ("", 0, [], ...).
_EMPTY: dict[str, Any] = {
    f.name: [] if f.is_repeated else f.default_value
    for f in _RECORD_FIELDS
    if f.name not in _MESSAGES
}


def _time(value: Timestamp) -> str:
    return value.ToJsonString()


def account_json(a: pb.Account) -> JsonObject:
    return {
        "id": a.id,
        "version": a.version,
        "name": a.name,
        "industry": a.industry,
        "website": a.website,
        "phone": a.phone,
        "tags": list(a.tags),
        "parent_id": a.parent_id or None,
        "legal_name": a.legal_name,
        "employees": a.employees,
        "other_phones": list(a.other_phones),
        "addresses": _entries(a.addresses),
        "lifecycle": a.lifecycle,
        "credit_limit": _entry(a.credit_limit) if a.HasField("credit_limit") else None,
        "credit_rating": a.credit_rating,
        "agreements": [
            {**_entry(g), "starts_on": g.starts_on or None, "ends_on": g.ends_on or None}
            for g in a.agreements
        ],
        **_ownership(a),
    }


def loyalty_entry_json(entry: lpb.LoyaltyEntry) -> JsonObject:
    return {
        "id": entry.id,
        "record_type": entry.record_type,
        "record_id": entry.record_id,
        "kind": entry.kind,
        "points": entry.points,
        "reason": entry.reason,
        "reference": entry.reference or None,
        "expires_at": _time(entry.expires_at) if entry.HasField("expires_at") else None,
        "actor_id": entry.actor_id,
        "created_at": _time(entry.created_at),
        "balance_after": entry.balance_after,
    }


def loyalty_balance_json(found: lpb.GetLoyaltyBalanceResponse) -> JsonObject:
    expiring = [
        {"entry_id": e.entry_id, "points": e.points, "expires_at": _time(e.expires_at)}
        for e in found.expiring
    ]
    return {"balance": found.balance, "expiring": expiring}


def contact_json(c: pb.Contact) -> JsonObject:
    return {
        "id": c.id,
        "version": c.version,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "email": c.email,
        "phone": c.phone,
        "account_id": c.account_id or None,
        "title": c.title,
        "other_emails": list(c.other_emails),
        "other_phones": list(c.other_phones),
        "account_roles": _entries(c.account_roles),
        "addresses": _entries(c.addresses),
        "birthday": c.birthday or None,
        "preferred_channel": c.preferred_channel,
        "consents": _entries(c.consents),
        "tags": list(c.tags),
        **_ownership(c),
    }


def _ownership(r: pb.Account | pb.Contact) -> JsonObject:
    found: JsonObject = {
        "owner_id": r.owner_id,
        "team_id": r.team_id or None,
        "partner_id": r.partner_id or None,
        "created_at": _time(r.created_at),
        "updated_at": _time(r.updated_at),
        "custom_fields": custom_json(r.custom_fields),
        "last_contacted_at": (
            _time(r.last_contacted_at) if r.HasField("last_contacted_at") else None
        ),
    }
    # The service leaves internal fields unset for callers who may not see them.
    if r.HasField("internal_notes"):
        found["internal_notes"] = r.internal_notes
    return found


def duplicates_json(
    created: pb.CreateAccountResponse | pb.CreateContactResponse,
) -> list[JsonObject]:
    return [{"id": d.id, "reasons": list(d.reasons)} for d in created.likely_duplicates]


def _entry(message: Message) -> JsonObject:
    return MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def _entries(messages: Iterable[Message]) -> list[JsonObject]:
    return [_entry(m) for m in messages]


def custom_json(values: Struct) -> JsonObject:
    """Struct keeps every number as a double; whole ones go back out as integers."""
    return {
        name: int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v
        for name, v in MessageToDict(values).items()
    }


def proto_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Field values for a proto constructor: null becomes the field's empty value (or is left
    out, for message fields), dates become YYYY-MM-DD."""
    return {
        name: _EMPTY[name] if value is None else _dates_as_text(value)
        for name, value in values.items()
        if not (value is None and name in _MESSAGES)
    }


def _dates_as_text(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    return value


def to_account(values: Mapping[str, Any], account_id: str = "") -> pb.Account:
    return pb.Account(id=account_id, **proto_values(values))


def to_contact(values: Mapping[str, Any], contact_id: str = "") -> pb.Contact:
    return pb.Contact(id=contact_id, **proto_values(values))


def present(model_fields: Iterable[str]) -> list[str]:
    """The update mask of a merge patch: the fields the client sent, in a stable order."""
    return sorted(model_fields)


def timeline_entry_json(entry: tpb.TimelineEntry) -> JsonObject:
    return {
        "id": entry.id,
        "occurred_at": _time(entry.occurred_at),
        "kind": entry.kind,
        "source": entry.source,
        "event_type": entry.event_type,
        "subject_id": entry.subject_id,
        "title": entry.title,
        "data": _whole_numbers(MessageToDict(entry.data)),
    }


def _whole_numbers(value: Any) -> Any:
    """A Struct holds every number as a double: 3 comes back 3.0 unless made whole again."""
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
