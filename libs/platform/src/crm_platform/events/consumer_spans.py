"""The spans of consuming events: one per event, continuing the trace it was published in,
or one per batch given to a batch handler, linked to each of its events' producers."""

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

from crm_platform.events.envelope import Envelope

tracer = trace.get_tracer("crm_platform.events")


def event_span(consumer: str, envelope: Envelope) -> AbstractContextManager[Span]:
    """Exceptions are the caller's to record: a failure may be retried, not an error."""
    return tracer.start_as_current_span(
        f"{envelope.subject} process",
        context=propagate.extract(envelope.trace_headers),
        kind=SpanKind.CONSUMER,
        attributes={
            **_attributes(consumer),
            "messaging.destination.name": envelope.subject,
            "messaging.message.id": str(envelope.event_id),
            "crm.event_type": envelope.event_type,
        },
        record_exception=False,
        set_status_on_exception=False,
    )


@contextmanager
def batch_span(consumer: str, envelopes: Sequence[Envelope]) -> Iterator[Span]:
    links = [
        trace.Link(context) for envelope in envelopes if (context := _producer(envelope)).is_valid
    ]
    with tracer.start_as_current_span(
        f"{consumer} process batch",
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={**_attributes(consumer), "messaging.batch.message_count": len(envelopes)},
    ) as span:
        yield span


def _producer(envelope: Envelope) -> trace.SpanContext:
    context = propagate.extract(envelope.trace_headers)
    return trace.get_current_span(context).get_span_context()


def _attributes(consumer: str) -> dict[str, str]:
    return {
        "messaging.system": "nats",
        "messaging.operation.type": "process",
        "messaging.consumer.group.name": consumer,
    }
