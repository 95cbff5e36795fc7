"""Records <-> protobuf messages. Field names are the same on both sides by design, so one
mapper serves accounts and contacts, in RPC replies and in event payloads alike; nested
values (addresses, money, consent...) map field by field the same way."""

import dataclasses
import datetime as dt
import decimal
import functools
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct, Value
from google.protobuf.timestamp_pb2 import Timestamp

from crm_customer.domain.loyalty import LoyaltyEntry
from crm_customer.domain.records import Record
from crm_platform.errors import FieldViolation, InvalidArgument

M = TypeVar("M", bound=Message)
_TIMESTAMP = Timestamp.DESCRIPTOR.full_name
_STRUCT = Struct.DESCRIPTOR.full_name


def to_proto(
    record: Record | LoyaltyEntry, message_type: type[M], names: Iterable[str] | None = None
) -> M:
    """The record as `message_type`, with only the fields `names` when given (an export's
    columns)."""
    # One constructor call with every value: ~3x faster than setting field by field, which
    # counts when an import turns a million records into event payloads.
    tracked = _tracked(message_type.DESCRIPTOR)
    return message_type(**_arguments(record, tracked, names))


def _arguments(
    value: Any, tracked: frozenset[str] = frozenset(), names: Iterable[str] | None = None
) -> dict[str, Any]:
    arguments = {}
    for name in _names(value.__class__) if names is None else names:
        field = getattr(value, name)
        if field is None:
            continue
        kind = field.__class__
        if not field and kind in _UNSET_WHEN_EMPTY and name not in tracked:
            continue  # "", 0, False, (): what an unset field reads as already
        # Text and ids are most values: no converter lookup for those.
        if kind is str:
            arguments[name] = field
        elif kind is uuid.UUID:
            arguments[name] = str(field)
        else:
            arguments[name] = _proto_value(field)
    return arguments


# Types whose empty value is the proto default. Not Decimal: a zero amount is the text "0"
# (an unset one would read as ""); not dict: an empty Struct is still a value.
_UNSET_WHEN_EMPTY = frozenset({str, int, float, bool, tuple})


@functools.cache
def _tracked(message: Descriptor) -> frozenset[str]:
    """Scalar fields declared `optional`: set to "" reads differently from unset (an
    internal note the caller may see but that is empty, against one hidden from them)."""
    return frozenset(
        f.name
        for f in message.fields
        if f.has_presence and f.message_type is None and not f.is_repeated
    )


@functools.cache
def _names(dataclass_type: Any) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(dataclass_type))


def _proto_value(value: Any) -> Any:
    convert = _CONVERTERS.get(value.__class__)
    if convert is None:  # a subclass of one of them, or a dataclass: its message's fields
        kind = next((k for k in value.__class__.__mro__ if k in _CONVERTERS), None)
        convert = _CONVERTERS[kind] if kind else _arguments
    return convert(value)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _timestamp(value: dt.datetime) -> Timestamp:
    """Whole-number arithmetic, exact to the microsecond: a third of FromDatetime's cost."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # as FromDatetime reads a naive time
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def _struct(value: dict[str, Any]) -> Struct:
    struct = Struct()
    struct.update(value)
    return struct


def _same(value: Any) -> Any:
    return value


# By exact type: one lookup per value instead of a chain of isinstance checks, for the
# million values of an import's event payloads.
_CONVERTERS: dict[type, Any] = {
    str: _same,
    bool: _same,
    int: _same,
    float: _same,
    uuid.UUID: str,
    decimal.Decimal: str,
    dt.datetime: _timestamp,
    dt.date: dt.date.isoformat,
    tuple: lambda value: [_proto_value(entry) for entry in value],
    dict: _struct,
}


def writable_values(
    message: Message, names: Iterable[str], allowed: Iterable[str]
) -> dict[str, Any]:
    """The values of `names` read from `message`; names outside `allowed` are refused.
    Nested messages become plain mappings, for the domain's validators to check."""
    allowed = set(allowed)
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise InvalidArgument([FieldViolation(name, "is not a writable field") for name in unknown])
    by_name = message.DESCRIPTOR.fields_by_name
    return {name: _read(message, by_name[name]) for name in names}


def _read(message: Message, field: Any) -> Any:
    value = getattr(message, field.name)
    if field.message_type is None:
        return list(value) if _repeated(field) else value
    kind = field.message_type.full_name
    if kind == _STRUCT:
        return struct_values(value)
    if _repeated(field):
        return [_plain(entry) for entry in value]
    if kind == _TIMESTAMP:
        return value.ToDatetime(dt.UTC) if message.HasField(field.name) else None
    return _plain(value) if message.HasField(field.name) else None


def struct_values(struct: Struct) -> dict[str, Any]:
    """A Struct as plain values. Not MessageToDict: it fails on NaN and infinities (a
    ValueError naming no field), which the domain refuses by name instead."""
    return {name: _json_value(value) for name, value in struct.fields.items()}


def _json_value(value: Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_values(value.struct_value)
    if kind == "list_value":
        return [_json_value(entry) for entry in value.list_value.values]
    return None if kind in (None, "null_value") else getattr(value, kind)


def _plain(message: Message) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.full_name == _TIMESTAMP:
            stamp = getattr(message, field.name)
            found[field.name] = stamp.ToDatetime(dt.UTC) if message.HasField(field.name) else None
        else:
            found[field.name] = getattr(message, field.name)
    return found


def _repeated(field: Any) -> bool:
    return bool(field.is_repeated)
