"""Any event about an account -> its timeline entries.

Decoding is generic: `Crm-Event-Type` is the full proto name, found in the protobuf pool
(every contract in protos/ is compiled in), so a new event type is shown without code here.
The accounts an event is about are its `account_id` fields, at the top or in the records
it carries (`opportunity.account_id`, `contact.account_roles[].account_id`); an event that
names none is acked and left out (the inbox keeps its id)."""

import datetime as dt
import importlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message
from sqlalchemy.ext.asyncio import AsyncSession

import crm
from crm_customer.domain.timeline import TimelineEntry, snake_case
from crm_customer.events.timeline_kinds import (
    BY_EVENT_TYPE,
    BY_SUBJECT,
    LABEL_FIELDS,
    OWN_PREFIXES,
    OWN_SUBJECTS,
    Data,
    Presentation,
)
from crm_customer.usecases.ports import TimelineStore
from crm_customer.usecases.timeline import record_entries
from crm_platform.events.consumer import BatchHandler, Handler
from crm_platform.events.envelope import Envelope
from crm_platform.events.outbox import OutboxEvent
from crm_platform.ids import parse_uuid

# Records nest records (an order's lines, a contact's roles); deeper is not about the account.
_MAX_DEPTH = 3
_ACCOUNT_FIELDS = ("account_id", "account_ids")
_LABEL_LENGTH = 200


class UnknownEventType(LookupError):
    """A type missing from our contracts: this service is older than the publisher. The
    event fails until dead-lettered, and is re-driven once the service is updated."""


def timeline_handlers(
    store: Callable[[AsyncSession], TimelineStore],
) -> tuple[Handler, BatchHandler]:
    """The consumer's handlers of one event and of a fetched batch: a batch's entries take
    one lookup of merged accounts and one insert."""
    load_contracts()

    async def on_events(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        entries = [entry for envelope in envelopes for entry in timeline_entries(envelope)]
        await record_entries(store=store(session), entries=entries)

    async def on_event(session: AsyncSession, envelope: Envelope) -> None:
        await on_events(session, [envelope])

    return on_event, on_events


class Published(Protocol):
    """An event as its consumers see it: a received Envelope, or an OutboxEvent of ours."""

    @property
    def event_id(self) -> uuid.UUID: ...
    @property
    def event_type(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def aggregate_id(self) -> str: ...
    @property
    def occurred_at(self) -> dt.datetime: ...


def own_entries(event: OutboxEvent) -> list[TimelineEntry]:
    """The entries of this service's own event about accounts, which the unit of work puts
    on the timeline in the transaction that publishes the event (`add_own_entries`): no
    trip through NATS and back, and an account's timeline shows a change once committed."""
    return entries_of(event, event.message) if _own(event.subject) else []


async def add_own_entries(store: TimelineStore, entries: Sequence[TimelineEntry]) -> None:
    await record_entries(store=store, entries=entries, new=True)


def _own(subject: str) -> bool:
    return subject.startswith(OWN_PREFIXES) or subject in OWN_SUBJECTS


def timeline_entries(envelope: Envelope) -> list[TimelineEntry]:
    """One entry per account the event is about (none when it names no account)."""
    return entries_of(envelope, decode(envelope))


def entries_of(envelope: Published, message: Message) -> list[TimelineEntry]:
    """The entries of an event whose payload is `message`."""
    shown = presentation(envelope)
    if not shown.relevant(message):
        return []
    accounts = [
        parsed
        for found in (shown.accounts or account_ids)(message)
        if (parsed := parse_uuid(found)) is not None
    ]
    if shown.keep is not None:
        data = shown.keep(message)
    else:
        data = MessageToDict(message, preserving_proto_field_name=True)
    title = _title(envelope, shown, data)
    return [
        TimelineEntry(
            id=envelope.event_id,
            account_id=account,
            occurred_at=envelope.occurred_at,
            source=_subject_token(envelope.subject, 1) or "unknown",
            event_type=envelope.event_type,
            kind=shown.kind,
            subject_id=envelope.aggregate_id,
            title=title,
            data=data,
        )
        for account in dict.fromkeys(accounts)  # once each, in the order found
    ]


def load_contracts() -> None:
    """Import every generated contract module: a type is in the pool once its module is."""
    # The generated packages have no __init__.py, which pkgutil's walk does not enter.
    names = {
        ".".join(("crm", *found.relative_to(root).with_suffix("").parts))
        for root in map(Path, crm.__path__)
        for found in root.rglob("*_pb2.py")
    }
    for name in sorted(names):
        importlib.import_module(name)


def decode(envelope: Envelope) -> Message:
    try:
        found = descriptor_pool.Default().FindMessageTypeByName(envelope.event_type)
    except KeyError:
        raise UnknownEventType(f"no contract for {envelope.event_type}") from None
    message_class = message_factory.GetMessageClass(found)
    try:
        return message_class.FromString(envelope.payload)
    except DecodeError as exc:
        raise ValueError(f"payload is not a {envelope.event_type}: {exc}") from exc


def account_ids(message: Message) -> list[str]:
    """Every `account_id` (or `account_ids`) in the message and the records it carries."""
    return list(_account_ids(message, 0))


def _account_ids(message: Message, depth: int) -> Iterator[str]:
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        if field.name in _ACCOUNT_FIELDS and field.type == FieldDescriptor.TYPE_STRING:
            yield from values
        elif _is_record(field) and depth + 1 < _MAX_DEPTH:
            for nested in values:
                yield from _account_ids(nested, depth + 1)


def _is_record(field: FieldDescriptor) -> bool:
    """A nested message other than a map (whose entries hold no record)."""
    nested = field.message_type
    return nested is not None and not nested.GetOptions().map_entry


def presentation(envelope: Published) -> Presentation:
    """The registered presentation of the event, or one named after its subject."""
    known = BY_EVENT_TYPE.get(envelope.event_type)
    if known is not None:
        return known
    for prefix, shown in BY_SUBJECT.items():
        if envelope.subject.startswith(prefix):
            return shown
    aggregate = _subject_token(envelope.subject, 2)
    if aggregate:
        return Presentation(aggregate, _words(aggregate).capitalize())
    name = envelope.event_type.rsplit(".", 1)[-1]
    return Presentation("other", _words(snake_case(name)).capitalize(), verb="")


def _title(envelope: Published, shown: Presentation, data: Data) -> str:
    verb = shown.verb if shown.verb is not None else _words(_subject_token(envelope.subject, 3))
    label = shown.label(data) if shown.label else _label(data)
    title = f"{shown.noun} {verb}".strip()
    return f"{title}: {label[:_LABEL_LENGTH]}" if label else title


def _label(data: Data) -> str:
    """The first name-like field at the top of the event or in the record it carries."""
    records = [data, *(value for value in data.values() if isinstance(value, dict))]
    for field in LABEL_FIELDS:
        for record in records:
            if isinstance(record.get(field), str | int) and str(record[field]).strip():
                return str(record[field]).strip()
    return ""


def _subject_token(subject: str, index: int) -> str:
    """crm.<service>.<aggregate>.<event>.v<n>: 1 is the service, 2 the aggregate, 3 the event."""
    tokens = subject.split(".")
    return tokens[index] if len(tokens) == 5 and tokens[0] == "crm" else ""


def _words(token: str) -> str:
    return token.replace("_", " ")
