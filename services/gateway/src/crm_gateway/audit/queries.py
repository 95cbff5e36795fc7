"""Checking an audit query and its page cursor; no framework code here."""

import base64
import binascii
import datetime as dt
import uuid

from crm_gateway.audit.domain import AuditQuery
from crm_platform.errors import FieldViolation, InvalidArgument

# (occurred_at, id) of the last event of a page: the next page starts below it.
Position = tuple[dt.datetime, uuid.UUID]


def checked_query(query: AuditQuery) -> AuditQuery:
    """`query` when its time window makes sense; InvalidArgument naming the fields if not."""
    violations = [
        FieldViolation(f"query.{name}", "needs a time zone, e.g. 2026-01-31T12:00:00Z")
        for name, value in (("since", query.since), ("until", query.until))
        if value is not None and value.utcoffset() is None
    ]
    if not violations and query.since and query.until and query.since > query.until:
        violations.append(FieldViolation("query.until", "must not be before since"))
    if violations:
        raise InvalidArgument(violations)
    return query


def encode_cursor(position: Position | None) -> str | None:
    if position is None:
        return None
    at, last_id = position
    text = f"{at.astimezone(dt.UTC).isoformat()}|{last_id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Position | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, last_id = text.partition("|")
        position = (dt.datetime.fromisoformat(at), uuid.UUID(last_id))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument([FieldViolation("query.cursor", "is not a cursor of ours")]) from exc
    if position[0].utcoffset() is None:
        raise InvalidArgument([FieldViolation("query.cursor", "is not a cursor of ours")])
    return position
