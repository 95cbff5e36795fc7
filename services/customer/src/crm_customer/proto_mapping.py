"""Records <-> protobuf messages. Field names are the same on both sides by design, so one
mapper serves accounts and contacts, in RPC replies and in event payloads alike."""

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import fields
from typing import Any, TypeVar

from google.protobuf.message import Message

from crm_customer.domain.records import Record
from crm_platform.errors import FieldViolation, InvalidArgument

M = TypeVar("M", bound=Message)


def to_proto(record: Record, message_type: type[M]) -> M:
    message = message_type()
    for f in fields(record):
        value = getattr(record, f.name)
        if value is None:
            continue
        target = getattr(message, f.name)
        if isinstance(value, dt.datetime):
            target.FromDatetime(value)
        elif isinstance(value, tuple):
            target.extend(value)
        else:
            setattr(message, f.name, str(value) if isinstance(value, uuid.UUID) else value)
    return message


def writable_values(
    message: Message, names: Iterable[str], allowed: Iterable[str]
) -> dict[str, Any]:
    """The values of `names` read from `message`; names outside `allowed` are refused."""
    allowed = set(allowed)
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise InvalidArgument([FieldViolation(name, "is not a writable field") for name in unknown])
    values: dict[str, Any] = {}
    for name in names:
        value = getattr(message, name)
        values[name] = list(value) if not isinstance(value, str | int | float | bool) else value
    return values
