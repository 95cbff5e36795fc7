"""A body sent to a route that takes JSON is JSON, holds only numbers JSON has, and nests
no deeper than MAX_DEPTH.

Python's parser (FastAPI's) reads `NaN`, `Infinity` and `-Infinity`, and `1e999` as an
infinity; nothing downstream can keep one (protobuf's JSON and PostgreSQL's JSONB refuse
them), so the client hears of it here as a 422 naming the field, not later as a 500. No
body the API takes nests more than a few levels, and every later walk over one (validation,
the audit trail, conversion to protobuf) recurses once per level.
"""

import math
from typing import Any

from fastapi import Request, params
from starlette.exceptions import HTTPException

from crm_gateway.audit.rules import MAX_DEPTH
from crm_platform.errors import FieldViolation, InvalidArgument

WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# The types a 415 names. Any +json type is taken too (is_json), as FastAPI reads it as JSON.
_ACCEPTED = {
    "PATCH": ("application/merge-patch+json", "application/json"),
    "POST": ("application/json",),
    "PUT": ("application/json",),
}

Path = tuple[str | int, ...]


async def sound_json_body(request: Request) -> None:
    """A dependency of every route (`create_app`): a body that is not JSON, sent to a route
    that takes JSON, is a 415; a JSON body with a number JSON has not, or nested more than
    MAX_DEPTH levels deep, is a 422."""
    if request.method not in WITH_BODY:
        return
    if not is_json(request.headers.get("content-type", "")):
        # FastAPI would hand the route the raw bytes, and their validation say "not a
        # valid dictionary": a 422 about the fields where the fault is the media type.
        if _takes_json(request) and await request.body():
            raise _unsupported(request.method)
        return
    if not await request.body():
        return
    try:
        value = await request.json()  # FastAPI has parsed it already, for a route taking one
    except (ValueError, RecursionError):
        return  # a route taking a body has refused it already; one taking none ignores it
    flaw = first_flaw(value)
    if flaw is not None:
        raise InvalidArgument([flaw])


def is_json(content_type: str) -> bool:
    """`application/json` or `application/<anything>+json`, whatever the parameters."""
    maintype, _, subtype = content_type.partition(";")[0].strip().lower().partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def foreign_charset(content_type: str) -> bool:
    """JSON labelled with a charset other than UTF-8 (or its subset ASCII). JSON is UTF-8
    (RFC 8259 §8.1); a body in another charset would be misread, or refused as unparsable."""
    if not is_json(content_type):
        return False
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() not in _UTF8
    return False


_UTF8 = frozenset({"utf-8", "utf8", "us-ascii"})
UTF8_ONLY = "send JSON in UTF-8, labelled so or without a charset"


def _takes_json(request: Request) -> bool:
    # Form and file routes read their body as a form: only the others take JSON.
    body = getattr(request.scope.get("route"), "body_field", None)
    return body is not None and not isinstance(body.field_info, params.Form)


def _unsupported(method: str) -> HTTPException:
    accepted = _ACCEPTED[method]
    # RFC 5789 §2.2: a 415 to a PATCH names the patch formats the resource takes.
    headers = {"Accept-Patch": ", ".join(accepted)} if method == "PATCH" else None
    return HTTPException(415, f"send the body as {' or '.join(accepted)}", headers=headers)


def first_flaw(value: Any) -> FieldViolation | None:
    """The first number JSON has not in `value`, or the first object or array nested more
    than MAX_DEPTH levels deep; None when there is neither."""
    pending: list[tuple[Path, Any]] = [((), value)]
    while pending:  # not recursive: the depth is what is in question
        path, item = pending.pop()
        if isinstance(item, dict | list):
            if len(path) >= MAX_DEPTH:
                return nested_too_deep(_dotted(path))
            children = item.items() if isinstance(item, dict) else enumerate(item)
            pending.extend(((*path, key), child) for key, child in reversed(list(children)))
        elif isinstance(item, float) and not math.isfinite(item):
            return FieldViolation(_dotted(path), "must be a finite number")
    return None


def nested_too_deep(field: str = "body") -> FieldViolation:
    return FieldViolation(field, f"nests more than {MAX_DEPTH} levels deep")


def _dotted(path: Path) -> str:
    """The field as validation problems name it (`custom_fields.a`, `addresses.0`)."""
    return ".".join(str(part) for part in path) or "body"
