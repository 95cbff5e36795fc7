"""Pages of records or their history: how long, and the cursor where the next one starts
(an opaque token made for one order)."""

import base64
import datetime as dt
import json
import uuid
from typing import Any, Protocol, TypeVar

from crm_customer.domain.search import Cursor, Order
from crm_platform.errors import FieldViolation, InvalidArgument
from crm_platform.ids import parse_uuid

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


def page_limit(page_size: int) -> int:
    """How many entries a page holds: `page_size`, or the default when unset (0)."""
    limit = page_size or DEFAULT_PAGE_SIZE
    if not 0 < limit <= MAX_PAGE_SIZE:
        raise InvalidArgument([FieldViolation("page_size", f"must be 1..{MAX_PAGE_SIZE}")])
    return limit


def decode_id_token(page_token: str) -> uuid.UUID | None:
    """The last id of the previous page of a list in id order (None for the first page)."""
    after = parse_uuid(page_token) if page_token else None
    if page_token and after is None:
        raise InvalidArgument([FieldViolation("page_token", "is not a valid cursor")])
    return after


class _WithId(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


T = TypeVar("T", bound=_WithId)


def id_page(found: list[T], limit: int) -> tuple[list[T], str]:
    """A page of a list in id order, read one entry longer than `limit` to know whether
    more follow, and the next page's token ("" at the end)."""
    return found[:limit], str(found[limit - 1].id) if len(found) > limit else ""


def encode_page_token(order: Order, cursor: Cursor) -> str:
    data = {"o": _order_text(order), "v": cursor_value(cursor.value), "i": str(cursor.last_id)}
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, order: Order) -> Cursor:
    """The cursor in `token`, which must have been made for the same order. A token comes
    back from the client: anything but what `encode_page_token` makes is refused here, as
    the query would otherwise fail in the database."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict) or data.get("o") != _order_text(order):
            raise ValueError("made for another order")
        if not isinstance(data["i"], str):
            raise ValueError("not an id")
        return Cursor(parse_cursor_value(order, data["v"]), uuid.UUID(data["i"]))
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError):
        raise InvalidArgument([FieldViolation("page_token", "is not a valid cursor")]) from None


def _order_text(order: Order) -> str:
    return f"{'-' if order.descending else ''}{order.field}"


def cursor_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


# The sort columns that may be NULL (sorted last); a cursor in that tail holds null.
_NULLABLE = frozenset({"last_contacted_at"})


def parse_cursor_value(order: Order, value: Any) -> Any:
    """The sort value a cursor holds for `order`, of the type its column needs (ValueError
    otherwise): none in creation order (the id decides), the name's text, or a time."""
    if order.field == "created_at":
        if value is not None:
            raise ValueError("creation order has no sort value")
        return None
    if value is None:
        if order.field not in _NULLABLE:
            raise ValueError("the sort column is never null")
        return None
    if order.field == "name":
        return _text(value)
    return _time(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not a name")
    value.encode()  # a lone surrogate (UnicodeEncodeError) is no text PostgreSQL stores
    return value


def _time(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("not a time")
    at = dt.datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError("a time without its offset")
    # The driver sends times in UTC: an offset can push a date past year 1 or 9999
    # (OverflowError); the last year is kept out too, a margin no real time comes near.
    at = at.astimezone(dt.UTC)
    if not 1 <= at.year <= 9998:
        raise ValueError("out of range")
    return at
