"""The envelope every event travels in: NATS headers around a protobuf payload.

The payload stays opaque bytes here; a handler decodes it with the message type it expects,
so the platform needs no knowledge of any service's contracts.
"""

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Self, TypeVar

from google.protobuf.message import Message
from nats.aio.msg import Msg
from opentelemetry import propagate

from crm_platform.ids import uuid7

MSG_ID = "Nats-Msg-Id"
# The same id as Nats-Msg-Id, but a re-drive must change Nats-Msg-Id to get past JetStream's
# duplicate window; this one never changes, so consumers' inboxes still dedupe on it.
EVENT_ID = "Crm-Event-Id"
EVENT_TYPE = "Crm-Event-Type"
OCCURRED_AT = "Crm-Occurred-At"
AGGREGATE_ID = "Crm-Aggregate-Id"
AGGREGATE_VERSION = "Crm-Aggregate-Version"
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
BAGGAGE = "baggage"

TRACE_HEADERS = (TRACEPARENT, TRACESTATE, BAGGAGE)

T = TypeVar("T")


class EnvelopeError(ValueError):
    """A message whose envelope is missing or garbled: it can never be handled (poison)."""


@dataclass(frozen=True)
class Envelope:
    event_id: uuid.UUID
    event_type: str
    subject: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: dt.datetime
    payload: bytes
    trace_headers: dict[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # A naive time would be read as local time by whoever parses the header.
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")

    @classmethod
    def for_message(
        cls,
        *,
        subject: str,
        message: Message,
        aggregate_id: str,
        aggregate_version: int,
        event_id: uuid.UUID | None = None,
        occurred_at: dt.datetime | None = None,
        trace_headers: Mapping[str, str] | None = None,
    ) -> Self:
        """An envelope around `message`; trace headers default to the current trace context."""
        if trace_headers is None:
            trace_headers = current_trace_headers()
        return cls(
            event_id=event_id or uuid7(),
            event_type=message.DESCRIPTOR.full_name,
            subject=subject,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            occurred_at=occurred_at or dt.datetime.now(dt.UTC),
            payload=message.SerializeToString(),
            trace_headers=dict(trace_headers),
        )

    def to_headers(self) -> dict[str, str]:
        headers = {
            MSG_ID: str(self.event_id),
            EVENT_ID: str(self.event_id),
            EVENT_TYPE: self.event_type,
            OCCURRED_AT: format_time(self.occurred_at),
            AGGREGATE_ID: self.aggregate_id,
            AGGREGATE_VERSION: str(self.aggregate_version),
        }
        headers.update(self.trace_headers)
        return headers

    @classmethod
    def from_message(cls, msg: Msg) -> Self:
        """The envelope of a received message; EnvelopeError when it cannot be trusted."""
        return cls.from_parts(msg.subject, msg.data, msg.headers)

    @classmethod
    def from_parts(cls, subject: str, data: bytes, headers: Mapping[str, str] | None) -> Self:
        # Header names are case-insensitive on the wire for some clients; accept any case.
        found = {name.lower(): value for name, value in (headers or {}).items()}

        def required(name: str) -> str:
            value = found.get(name.lower(), "").strip()
            if not value:
                raise EnvelopeError(f"header {name} is missing")
            return value

        return cls(
            event_id=_parse(EVENT_ID, required(EVENT_ID), uuid.UUID),
            event_type=required(EVENT_TYPE),
            subject=subject,
            aggregate_id=required(AGGREGATE_ID),
            aggregate_version=_parse(AGGREGATE_VERSION, required(AGGREGATE_VERSION), int),
            occurred_at=_parse(OCCURRED_AT, required(OCCURRED_AT), parse_time),
            payload=data or b"",
            trace_headers={name: found[name] for name in TRACE_HEADERS if found.get(name)},
        )


def current_trace_headers() -> dict[str, str]:
    """The W3C trace context (and baggage) of the current span, as headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def format_time(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with a `Z`, microsecond precision (what PostgreSQL keeps)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no UTC offset")
    return moment.astimezone(dt.UTC)


def _parse(name: str, text: str, parser: Callable[[str], T]) -> T:
    try:
        value = parser(text)
    except (ValueError, TypeError) as exc:
        raise EnvelopeError(f"header {name} is garbled: {text!r}") from exc
    if isinstance(value, int) and value < 0:
        raise EnvelopeError(f"header {name} is negative: {text!r}")
    return value
