"""What the resource routes share: JSON responses, ETags, conditional requests, pages."""

import base64
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Header, Query
from starlette.responses import Response

from crm_gateway.api.problems import Problem
from crm_gateway.api.schemas import NO_NUL
from crm_gateway.errors import PreconditionRequired
from crm_gateway.preconditions import ANY_VERSION, ExpectedVersion
from crm_platform.errors import FieldViolation, InvalidArgument, NotFound
from crm_platform.ids import parse_uuid

# Ids are UUIDs (36 characters); anything much longer cannot name a record.
MAX_ID_LENGTH = 64
# int64 versions have at most 19 digits; more could not be sent to the service at all.
_MAX_VERSION_DIGITS = 18

Limit = Annotated[int, Query(ge=1, le=500, description="Page length, 1..500.")]
# Every If-Match line the request holds: two lines mean what one line listing both does
# (RFC 9110 §5.3).
IfMatch = Annotated[
    list[str] | None,
    Header(
        description='The ETag read before (`"3"`), a list of them (`"3", "4"`) or `*`. '
        "Required; 412 when none is current."
    ),
]
IfNoneMatch = Annotated[
    str | None, Header(description="ETag(s) the client holds; 304 when one is current.")
]
Cursor = Annotated[
    str | None,
    Query(max_length=2048, pattern=NO_NUL, description="`next_cursor` of the previous page."),
]


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    # Serialized here rather than through a response model: the hot path skips a second
    # validation of data the service has already validated.
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status, headers, media_type="application/json")


def etag(version: int) -> str:
    return f'"{version}"'


def record_response(
    body: dict[str, Any], version: int, status: int = 200, location: str | None = None
) -> Response:
    headers = {"ETag": etag(version)}
    if location:
        headers["Location"] = location
    return json_response(body, status, headers)


def page_response(items: list[dict[str, Any]], next_token: str) -> Response:
    return json_response({"items": items, "next_cursor": next_token or None})


def encode_cursor(last_id: uuid.UUID) -> str:
    """The cursor of a page of the gateway's own records (newest first, by id)."""
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise InvalidArgument([FieldViolation("cursor", "is not a valid cursor")]) from None


def parse_id(record_id: str, kind: str) -> uuid.UUID:
    """A record id of the gateway's own; anything that is not one names no record."""
    parsed = parse_uuid(record_id) if len(record_id) <= MAX_ID_LENGTH else None
    if parsed is None:
        raise NotFound(f"{kind} not found")
    return parsed


def require_plausible_id(record_id: str, kind: str) -> None:
    """Absurdly long ids are answered here; the service answers malformed ones NOT_FOUND."""
    if len(record_id) > MAX_ID_LENGTH:
        raise NotFound(f"{kind} not found")


def not_modified(if_none_match: str | None, version: int) -> bool:
    """If-None-Match with weak comparison (RFC 9110 §13.1.2)."""
    if not if_none_match:
        return False
    current = etag(version)
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(if_none_match))


def not_modified_response(version: int) -> Response:
    return Response(status_code=304, headers={"ETag": etag(version)})


def read_response(
    if_none_match: str | None, version: int, render: Callable[[], dict[str, Any]]
) -> Response:
    """A record read: 304 when the client holds this version (nothing rendered), else the
    record with its ETag."""
    if not_modified(if_none_match, version):
        return not_modified_response(version)
    return record_response(render(), version)


def expected_version(if_match: list[str] | None) -> ExpectedVersion:
    """The versions the If-Match lines name, one of which must be current; any for `*`.

    Strong comparison (RFC 9110 §13.1.1): a tag matches only as the ETag is written, so a
    weak, non-numeric or zero-padded one never does, and a header of nothing else is a 412,
    exactly as a stale one is, once the record is found (a missing one is a 404, §13.2.1).
    An unquoted number is accepted as a courtesy."""
    if not if_match:
        raise PreconditionRequired("send If-Match with the ETag you read to change this record")
    header = ", ".join(if_match)
    if header.strip() == "*":
        return ANY_VERSION
    return ExpectedVersion(frozenset(v for v in map(_version_in, _tags(header)) if v is not None))


def _tags(header: str) -> list[str]:
    # A plain split: a tag holding a comma is none of ours, and its pieces match nothing.
    return [tag.strip() for tag in header.split(",")]


def _version_in(tag: str) -> int | None:
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    if not (tag.isascii() and tag.isdigit()) or len(tag) > _MAX_VERSION_DIGITS:
        return None
    version = int(tag)
    return version if str(version) == tag else None  # "01" is not the ETag "1"


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem answers of a route."""
    return {status: {"model": Problem, "description": _DESCRIPTIONS[status]} for status in statuses}


_DESCRIPTIONS = {
    401: "Missing, invalid or expired access token (`WWW-Authenticate: Bearer`).",
    403: "The caller's roles do not allow this.",
    404: "No such record visible to the caller.",
    409: "Conflicts with the record's current state.",
    412: "If-Match does not name the current version: read the record again.",
    422: "The request is not valid; `errors` names the fields.",
    428: "If-Match is required.",
    413: "The file is larger than the configured limit.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "A service or database is unavailable; retry after `Retry-After` seconds.",
}
