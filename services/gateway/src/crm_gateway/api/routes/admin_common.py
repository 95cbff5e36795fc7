"""What the users, teams and roles routes share: ids in paths, cursors, JSON of times."""

import base64
import binascii
import datetime as dt
import uuid

from crm_platform.errors import FieldViolation, InvalidArgument, NotFound


def path_id(value: str, kind: str) -> uuid.UUID:
    """A malformed id names no record: 404, as the services answer."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{kind} {value[:64]} not found") from None


def encode_cursor(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        # Strictly: the lenient decoder skips what is not base64 ("!!!" read as "").
        last = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad_cursor() from None
    if not last or "\x00" in last:  # no key is empty, and none holds what PostgreSQL cannot
        raise _bad_cursor()
    return last


def decode_id_cursor(cursor: str | None) -> uuid.UUID | None:
    last = decode_cursor(cursor)
    try:
        return uuid.UUID(last) if last is not None else None
    except ValueError:
        raise _bad_cursor() from None


def next_cursor(keys: list[str], limit: int) -> str | None:
    """A cursor after the last of a full page (one more was fetched to know there is more)."""
    return encode_cursor(keys[limit - 1]) if len(keys) > limit else None


def timestamp(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _bad_cursor() -> InvalidArgument:
    return InvalidArgument([FieldViolation("query.cursor", "not a cursor of this list")])
