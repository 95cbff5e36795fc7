"""The event envelope, stream naming and failure classification, without servers."""

import datetime as dt
import uuid

import asyncpg
import pytest
import sqlalchemy.exc
from nats.aio.msg import Msg
from opentelemetry.sdk.trace import TracerProvider

from crm.customer.events.v1 import events_pb2
from crm_platform.events.envelope import (
    AGGREGATE_ID,
    AGGREGATE_VERSION,
    EVENT_ID,
    EVENT_TYPE,
    MSG_ID,
    OCCURRED_AT,
    TRACEPARENT,
    Envelope,
    EnvelopeError,
)
from crm_platform.events.failures import is_transient
from crm_platform.events.outbox import OutboxEvent
from crm_platform.events.streams import deadletter_subject, stream_name, stream_subjects

OCCURRED = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def sample_envelope() -> Envelope:
    message = events_pb2.AccountCreated()
    message.account.id = "a1"
    message.account.name = "Acme"
    return Envelope.for_message(
        subject="crm.customer.account.created.v1",
        message=message,
        aggregate_id="a1",
        aggregate_version=3,
        event_id=uuid.UUID("01950000-0000-7000-8000-000000000001"),
        occurred_at=OCCURRED,
        trace_headers={TRACEPARENT: TRACE, "tracestate": "k=v"},
    )


def as_message(envelope: Envelope, headers: dict[str, str] | None = None) -> Msg:
    return Msg(
        _client=None,  # type: ignore[arg-type]
        subject=envelope.subject,
        data=envelope.payload,
        headers=envelope.to_headers() if headers is None else headers,
    )


def test_headers_carry_the_whole_envelope() -> None:
    headers = sample_envelope().to_headers()
    assert headers == {
        MSG_ID: "01950000-0000-7000-8000-000000000001",
        EVENT_ID: "01950000-0000-7000-8000-000000000001",
        EVENT_TYPE: "crm.customer.events.v1.AccountCreated",
        OCCURRED_AT: "2026-03-01T12:30:15.123456Z",
        AGGREGATE_ID: "a1",
        AGGREGATE_VERSION: "3",
        TRACEPARENT: TRACE,
        "tracestate": "k=v",
    }


def test_envelope_round_trips_through_a_message() -> None:
    envelope = sample_envelope()
    received = Envelope.from_message(as_message(envelope))
    assert received == envelope
    assert events_pb2.AccountCreated.FromString(received.payload).account.name == "Acme"


def test_a_redriven_message_keeps_its_event_id() -> None:
    envelope = sample_envelope()
    headers = envelope.to_headers()
    headers[MSG_ID] = f"{envelope.event_id}:redrive:7"
    assert Envelope.from_message(as_message(envelope, headers)).event_id == envelope.event_id


def test_header_names_are_matched_case_insensitively() -> None:
    envelope = sample_envelope()
    headers = {name.upper(): value for name, value in envelope.to_headers().items()}
    assert Envelope.from_message(as_message(envelope, headers)) == envelope


def test_other_offsets_are_read_as_utc() -> None:
    envelope = sample_envelope()
    headers = envelope.to_headers()
    headers[OCCURRED_AT] = "2026-03-01T14:30:15.123456+02:00"
    assert Envelope.from_message(as_message(envelope, headers)).occurred_at == OCCURRED


@pytest.mark.parametrize(
    "missing", [EVENT_ID, EVENT_TYPE, OCCURRED_AT, AGGREGATE_ID, AGGREGATE_VERSION]
)
def test_a_missing_header_is_poison(missing: str) -> None:
    envelope = sample_envelope()
    headers = envelope.to_headers()
    del headers[missing]
    with pytest.raises(EnvelopeError, match=f"{missing} is missing"):
        Envelope.from_message(as_message(envelope, headers))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (EVENT_ID, "not-a-uuid"),
        (AGGREGATE_VERSION, "seven"),
        (AGGREGATE_VERSION, "-1"),
        (OCCURRED_AT, "yesterday"),
        (OCCURRED_AT, "2026-03-01T12:30:15"),  # no offset: ambiguous
    ],
)
def test_a_garbled_header_is_poison(name: str, value: str) -> None:
    envelope = sample_envelope()
    headers = envelope.to_headers()
    headers[name] = value
    with pytest.raises(EnvelopeError, match=f"{name} is"):
        Envelope.from_message(as_message(envelope, headers))


def test_a_message_without_headers_is_poison() -> None:
    with pytest.raises(EnvelopeError):
        Envelope.from_message(Msg(_client=None, subject="x", data=b"", headers=None))  # type: ignore[arg-type]


def test_envelope_defaults_to_the_current_trace_context() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        envelope = Envelope.for_message(
            subject="crm.x.y.z.v1",
            message=events_pb2.AccountCreated(),
            aggregate_id="a",
            aggregate_version=1,
        )
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert trace_id in envelope.trace_headers[TRACEPARENT]
    assert envelope.occurred_at.tzinfo is not None


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Envelope(uuid.uuid4(), "t", "s", "a", 1, dt.datetime(2026, 1, 1), b"")


@pytest.mark.parametrize("bad", ["", "crm.x.>", "crm.*.y", "crm..y", "crm.x y", ".crm"])
def test_outbox_events_need_a_concrete_subject(bad: str) -> None:
    with pytest.raises(ValueError, match="subject"):
        OutboxEvent(bad, events_pb2.AccountCreated(), "a", 1)


def test_outbox_events_get_time_ordered_ids() -> None:
    first = OutboxEvent("crm.x.a.b.v1", events_pb2.AccountCreated(), "a", 1)
    second = OutboxEvent("crm.x.a.b.v1", events_pb2.AccountCreated(), "a", 2)
    assert first.event_id.version == 7
    assert first.event_id < second.event_id
    assert first.occurred_at.tzinfo is not None


def test_stream_names_follow_the_service() -> None:
    assert stream_name("service-desk") == "CRM_SERVICE_DESK"
    assert stream_subjects("service-desk") == ["crm.service_desk.>"]
    assert stream_name("customer") == "CRM_CUSTOMER"
    assert deadletter_subject("sales-account-projection") == (
        "crm_deadletter.sales-account-projection"
    )


def test_database_outages_are_transient_and_handler_bugs_are_not() -> None:
    refused = sqlalchemy.exc.OperationalError("connect", {}, ConnectionRefusedError())
    assert is_transient(refused)
    shutdown = sqlalchemy.exc.DBAPIError("select", {}, Exception("wrapped"))
    shutdown.orig.__cause__ = asyncpg.AdminShutdownError("terminating connection")  # type: ignore[union-attr]
    assert is_transient(shutdown)
    assert not is_transient(ValueError("bad payload"))
    integrity = sqlalchemy.exc.IntegrityError("insert", {}, Exception("duplicate key"))
    assert not is_transient(integrity)
    with pytest.raises(KeyError) as raised:
        _fail_while_handling_a_timeout()
    assert isinstance(raised.value.__context__, TimeoutError)
    assert not is_transient(raised.value)


def _fail_while_handling_a_timeout() -> None:
    try:
        raise TimeoutError
    except TimeoutError:
        raise KeyError("the handler's own bug") from None
