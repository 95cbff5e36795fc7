"""Protobuf records <-> the JSON the API speaks. Names are the same on both sides (DESIGN
§8); the differences are that ids proto leaves empty are null in JSON, timestamps are
RFC 3339 strings, and a JSON null in a patch clears the field."""

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from crm.customer.v1 import customer_pb2 as pb

JsonObject = dict[str, Any]
_LISTS = frozenset({"tags"})


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
        **_ownership(a),
    }


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
        **_ownership(c),
    }


def _ownership(r: pb.Account | pb.Contact) -> JsonObject:
    found: JsonObject = {
        "owner_id": r.owner_id,
        "team_id": r.team_id or None,
        "partner_id": r.partner_id or None,
        "created_at": _time(r.created_at),
        "updated_at": _time(r.updated_at),
    }
    # The service leaves internal fields unset for callers who may not see them.
    if r.HasField("internal_notes"):
        found["internal_notes"] = r.internal_notes
    return found


def proto_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Field values for a proto constructor: null becomes the field's empty value."""
    return {
        name: (([] if name in _LISTS else "") if value is None else value)
        for name, value in values.items()
    }


def to_account(values: Mapping[str, Any], account_id: str = "") -> pb.Account:
    return pb.Account(id=account_id, **proto_values(values))


def to_contact(values: Mapping[str, Any], contact_id: str = "") -> pb.Contact:
    return pb.Contact(id=contact_id, **proto_values(values))


def present(model_fields: Iterable[str]) -> list[str]:
    """The update mask of a merge patch: the fields the client sent, in a stable order."""
    return sorted(model_fields)
