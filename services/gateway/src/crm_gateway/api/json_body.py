"""A JSON request body holds only numbers JSON has, and nests no deeper than MAX_DEPTH.

Python's parser (FastAPI's) reads `NaN`, `Infinity` and `-Infinity`, and `1e999` as an
infinity; nothing downstream can keep one (protobuf's JSON and PostgreSQL's JSONB refuse
them), so the client hears of it here as a 422 naming the field, not later as a 500. No
body the API takes nests more than a few levels, and every later walk over one (validation,
the audit trail, conversion to protobuf) recurses once per level.
"""

import math
from typing import Any

from fastapi import Request

from crm_gateway.audit.rules import MAX_DEPTH
from crm_platform.errors import FieldViolation, InvalidArgument

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})

Path = tuple[str | int, ...]


async def sound_json_body(request: Request) -> None:
    """A dependency of every route (`create_app`): a JSON body with a number JSON has not,
    or nested more than MAX_DEPTH levels deep, is a 422."""
    if request.method not in _WITH_BODY or "json" not in request.headers.get("content-type", ""):
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
