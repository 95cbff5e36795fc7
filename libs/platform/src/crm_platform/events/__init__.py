"""Events between services: transactional outbox -> relay -> JetStream -> idempotent consumers.

One module per concern: `envelope` (headers), `schema` (outbox/inbox tables), `outbox`
(writing), `streams` (provisioning), `connection` (NATS), `relay`, `consumer`,
`deadletter`, `metrics`.
"""

from crm_platform.events.connection import connect_nats
from crm_platform.events.consumer import EventConsumer, Handler, Outcome
from crm_platform.events.deadletter import dead_letters, redrive
from crm_platform.events.envelope import Envelope, EnvelopeError
from crm_platform.events.outbox import OutboxEvent, write_events
from crm_platform.events.relay import OutboxRelay
from crm_platform.events.schema import (
    create_event_tables,
    drop_event_tables,
    inbox_table,
    outbox_table,
)
from crm_platform.events.streams import (
    DEADLETTER_STREAM,
    ensure_deadletter_stream,
    ensure_service_stream,
    ensure_stream,
    stream_name,
    stream_subjects,
)

__all__ = [
    "DEADLETTER_STREAM",
    "Envelope",
    "EnvelopeError",
    "EventConsumer",
    "Handler",
    "OutboxEvent",
    "OutboxRelay",
    "Outcome",
    "connect_nats",
    "create_event_tables",
    "dead_letters",
    "drop_event_tables",
    "ensure_deadletter_stream",
    "ensure_service_stream",
    "ensure_stream",
    "inbox_table",
    "outbox_table",
    "redrive",
    "stream_name",
    "stream_subjects",
    "write_events",
]
